//! The deployment operator at the console: whoever runs `trygg` commands on the server, with the
//! data directory and the master key at hand. [`Console`] is the caller of every organisation
//! operation the command line performs, and each operation is a use case here, `(state, caller,
//! input, now) -> Result<output, AppError>`, that appends its own audit entry (actor `trygg:cli`)
//! in the same transaction as the change (PC-VENDOR-3), so the command line reaches no store
//! directly and a command is logged exactly like the same change made elsewhere. The console is
//! authorised by its access to the machine (whoever can run these commands holds the master key);
//! like an API-token operator ([`crate::orgs::Operator`]) it administers organisations and their
//! settings and reads no patient's record: the audit export carries opaque ids and codes only.
//! Reading a setting (messaging, assurance) is not logged; every change, and every export of the
//! log, is.

use std::collections::BTreeSet;
use std::sync::Arc;

use time::OffsetDateTime;
use trygg_audit::{Action, Basis, Category};
use trygg_core::access::Permission;
use trygg_core::{Operation, OrgSlug};
use trygg_store::OrgStore;
use uuid::Uuid;

use crate::access::{assurance_table, audit_commit, default_min_assurance, set_min_assurance};
use crate::audit::{Actor, Did};
use crate::context::App;
use crate::error::AppError;
use crate::orgs::Administrator;
use crate::rights::AssuranceOut;

/// The audit actor id of the console, `trygg:cli`.
pub const CONSOLE: &str = "cli";

/// The deployment operator at the console (the `trygg` command line).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Console;

impl Administrator for Console {
    /// `trygg:cli`, a system actor.
    fn actor(&self) -> Actor {
        Actor::system(CONSOLE)
    }
}

/// The organisation with this short name. The console may name any organisation; one that does
/// not exist is a plain not-found.
pub(crate) async fn org(state: &App, slug: &str) -> Result<Arc<OrgStore>, AppError> {
    let missing = || {
        AppError::not_found(
            "TR-C404",
            format!("no organisation with the short name {slug}"),
        )
    };
    let parsed = OrgSlug::parse(slug).map_err(|_| missing())?;
    let org = state
        .store
        .org_by_slug(&parsed)
        .await?
        .ok_or_else(missing)?;
    Ok(state.store.org(&org).await?)
}

/// Parses a permission's stable name, trimming blanks.
fn permission(name: &str) -> Result<Permission, AppError> {
    Permission::parse(name.trim())
        .ok_or_else(|| AppError::invalid("TR-C001", format!("unknown permission {name:?}")))
}

/// An organisation-defined role (PC-ACL-2).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleIn {
    /// The role's name (a-z, 0-9, '-'; not a built-in role's).
    pub name: String,
    /// The permissions it gives, by stable name.
    pub permissions: Vec<String>,
}

/// A role as defined.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RoleOut {
    /// The role's name.
    pub name: String,
    /// The permissions it gives, sorted, without repeats.
    pub permissions: Vec<String>,
}

/// Defines or redefines one of the organisation's own roles (PC-ACL-2), logged as an
/// authorisation change by the console in the same transaction.
pub async fn define_role(
    state: &App,
    console: &Console,
    org_slug: &str,
    input: RoleIn,
    now: OffsetDateTime,
) -> Result<RoleOut, AppError> {
    let perms = input
        .permissions
        .iter()
        .map(|p| permission(p))
        .collect::<Result<BTreeSet<_>, _>>()?;
    let h = org(state, org_slug).await?;
    let mut tx = h.begin().await?;
    tx.define_role(&input.name, &perms).await?;
    audit_commit(
        tx,
        &h,
        &console.actor(),
        Did::new(
            Category::Authorisation,
            Operation::RoleDefine,
            Action::Update,
            ("PractitionerRole", None),
        )
        .basis(Basis::Administration),
        now,
    )
    .await?;
    Ok(RoleOut {
        name: input.name,
        permissions: perms.iter().map(|p| p.as_str().to_owned()).collect(),
    })
}

/// Exports the organisation's audit log (or only the events about one patient, by id) as a FHIR
/// R4 Bundle of AuditEvent. The export is an access to the log: its own entry is committed
/// before the bundle is returned, so no data leaves unlogged (PC-VENDOR-3).
pub async fn export_audit(
    state: &App,
    console: &Console,
    org_slug: &str,
    patient: Option<Uuid>,
    now: OffsetDateTime,
) -> Result<serde_json::Value, AppError> {
    let h = org(state, org_slug).await?;
    let pid = patient.map(|p| p.to_string());
    let events = h.audit_events(pid.as_deref()).await?;
    let generated =
        trygg_audit::Timestamp::from_datetime(now).map_err(|e| AppError::internal("TR-C501", e))?;
    let bundle = trygg_audit::fhir::bundle(
        &h.organisation().slug,
        events.iter().map(|(seq, e)| (*seq, e)),
        generated,
    )
    .map_err(|e| AppError::internal("TR-C502", e))?;
    let tx = h.begin().await?;
    audit_commit(
        tx,
        &h,
        &console.actor(),
        Did::new(
            Category::Export,
            Operation::AuditExport,
            Action::Read,
            ("AuditEvent", None),
        )
        .patient(patient)
        .basis(Basis::Administration),
        now,
    )
    .await?;
    Ok(bundle)
}

/// Verifies the organisation's whole audit log at `now` (PC-VENDOR-3): a payload may be missing
/// only if its retention ended by then. The outer error is a failure to read; the inner one names
/// the first bad entry. Verifying reads no payload out, and is not logged; a failure opens a
/// draft incident in the organisation's register (issue #15, PC-VENDOR-6), at most one a day.
pub async fn verify_audit(
    state: &App,
    _console: &Console,
    org_slug: &str,
    now: OffsetDateTime,
) -> Result<trygg_store::audit::Verification, AppError> {
    let h = org(state, org_slug).await?;
    let v = h.verify_audit_at(now).await?;
    if let Err(e) = &v {
        // The failure in codes only (an entry number and a kind), no payload.
        let observed = format!("trygg audit verify failed: {e}");
        if let Err(d) = crate::incidents::draft_integrity(&h, &observed, now).await {
            tracing::warn!(
                code = d.code,
                "a draft incident for a failed verification could not be opened"
            );
        }
    }
    Ok(v)
}

/// The organisation's newest signed checkpoint (a C2SP signed note), if its log has any entry.
pub async fn audit_checkpoint(
    state: &App,
    _console: &Console,
    org_slug: &str,
) -> Result<Option<String>, AppError> {
    let h = org(state, org_slug).await?;
    Ok(h.audit_checkpoint().await?)
}

/// New messaging settings: each given value replaces the old one; nothing given changes nothing.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessagingIn {
    /// The neutral sender name.
    pub sender_name: Option<String>,
    /// The organisation's own phone numbers (replace the old when not empty).
    pub phones: Vec<String>,
    /// The organisation's own domains (replace the old when not empty; lower-cased).
    pub domains: Vec<String>,
}

/// An organisation's messaging settings.
#[derive(Debug, Clone)]
pub struct MessagingOut {
    /// The organisation's display name (the sender name when none is set).
    pub org_name: String,
    /// The settings.
    pub settings: trygg_store::Messaging,
}

impl MessagingOut {
    /// The sender name messages go out with.
    pub fn sender_name(&self) -> &str {
        self.settings
            .sender_name
            .as_deref()
            .unwrap_or(&self.org_name)
    }
}

/// Shows, or changes, how the organisation's SMS and e-mail present it to the confidentiality
/// guard (PC-CONF-1). A change is an organisation setting changed by the console, and is logged:
/// the entry is appended first and committed after the settings are stored, so an invalid value
/// leaves neither.
pub async fn messaging(
    state: &App,
    console: &Console,
    org_slug: &str,
    input: MessagingIn,
    now: OffsetDateTime,
) -> Result<MessagingOut, AppError> {
    let h = org(state, org_slug).await?;
    let o = h.organisation();
    let mut m = state.store.messaging(o).await?;
    let change =
        input.sender_name.is_some() || !input.phones.is_empty() || !input.domains.is_empty();
    if change {
        if input.sender_name.is_some() {
            m.sender_name = input.sender_name;
        }
        if !input.phones.is_empty() {
            m.phones = input.phones;
        }
        if !input.domains.is_empty() {
            m.domains = input.domains.iter().map(|d| d.to_lowercase()).collect();
        }
        let mut tx = h.begin().await?;
        let e = crate::audit::event(
            &o.slug,
            &console.actor(),
            Did::new(
                Category::Administration,
                Operation::SettingsChange,
                Action::Update,
                ("setting", Some("messaging".to_owned())),
            )
            .basis(Basis::System),
            now,
        )?;
        tx.audit(&e).await?;
        state.store.set_messaging(o, &m).await?;
        tx.commit().await?;
    }
    Ok(MessagingOut {
        org_name: o.name.clone(),
        settings: m,
    })
}

/// A new minimum login assurance for one permission.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssuranceIn {
    /// The permission's stable name.
    pub permission: String,
    /// `low`, `substantial` or `high`.
    pub level: String,
}

/// Every permission's minimum login assurance in the organisation (PC-AUTHN-3), after setting
/// one if asked; a setting is an audited change by the console.
pub async fn assurance(
    state: &App,
    _console: &Console,
    org_slug: &str,
    set: Option<AssuranceIn>,
    now: OffsetDateTime,
) -> Result<Vec<AssuranceOut>, AppError> {
    let h = org(state, org_slug).await?;
    if let Some(s) = set {
        let p = permission(&s.permission)?;
        set_min_assurance(&h, p, &s.level, CONSOLE, now).await?;
    }
    // Only read: dropped without commit, as a read of a setting is not logged.
    let mut tx = h.begin().await?;
    let table = assurance_table(&mut tx).await?;
    drop(tx);
    Ok(table
        .into_iter()
        .map(|(p, a)| AssuranceOut {
            permission: p.as_str().to_owned(),
            level: a.code().to_owned(),
            default: a == default_min_assurance(p),
        })
        .collect())
}

/// A new API token, shown once.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TokenOut {
    /// The token's id.
    pub id: Uuid,
    /// What it is for.
    pub label: String,
    /// The secret; only its hash is kept.
    pub token: String,
}

/// Creates an API token for an operator or integration. Tokens belong to the deployment, not to
/// an organisation, so there is no organisation log to append to.
pub async fn create_token(
    state: &App,
    _console: &Console,
    label: &str,
    now: OffsetDateTime,
) -> Result<TokenOut, AppError> {
    let (tok, secret) = state.store.create_api_token(label, now).await?;
    Ok(TokenOut {
        id: tok.id,
        label: tok.label,
        token: secret,
    })
}

/// The confidentiality guard's context for one organisation's messages (PC-CONF-1), for
/// screening at the console.
pub async fn guard_context(
    state: &App,
    _console: &Console,
    org_slug: &str,
) -> Result<trygg_guard::Context, AppError> {
    let h = org(state, org_slug).await?;
    Ok(crate::screening::context_for(&state.store, h.organisation()).await?)
}

/// Lists an organisation's personnel for the operator (`trygg personnel list`), to find the ids
/// a consultation needs; the listing is an audited access (`personnel.list`, actor `trygg:cli`).
pub async fn list_personnel(
    state: &App,
    slug: &str,
    now: OffsetDateTime,
) -> Result<Vec<crate::rights::PersonnelOut>, AppError> {
    let h = org(state, slug).await?;
    let mut tx = h.begin().await?;
    let list = tx.list_personnel().await?;
    let d = Did::new(
        Category::Access,
        Operation::PersonnelList,
        Action::Read,
        ("Practitioner", None),
    );
    audit_commit(tx, &h, &Console.actor(), d, now).await?;
    Ok(list
        .into_iter()
        .map(|p| crate::rights::PersonnelOut {
            id: p.id,
            name: p.name.expose().to_owned(),
            role: p.role.as_str().to_owned(),
            employment: p.employment.as_str().to_owned(),
        })
        .collect())
}

/// Lists an organisation's patients for the operator (`trygg patient list`); one audit entry per
/// patient listed, so each patient's access log shows the operator's listing (PC-RIGHTS-1).
pub async fn list_patients(
    state: &App,
    slug: &str,
    now: OffsetDateTime,
) -> Result<Vec<crate::patients::PatientOut>, AppError> {
    let h = org(state, slug).await?;
    let tx = h.begin().await?;
    crate::patients::list_logged(tx, &h, &Console.actor(), Basis::None, now).await
}

/// Sets whether the organisation requires end-to-end encrypted call media (`trygg org e2ee`,
/// VC-ENC-2); audited as a settings change. Returns the policy now in force.
pub async fn set_e2ee_required(
    state: &App,
    slug: &str,
    required: bool,
    now: OffsetDateTime,
) -> Result<bool, AppError> {
    let h = org(state, slug).await?;
    let mut tx = h.begin().await?;
    tx.set_e2ee_required(required, CONSOLE, now).await?;
    let d = Did::new(
        Category::Administration,
        Operation::SettingsChange,
        Action::Update,
        ("setting", Some(format!("e2ee-required:{required}"))),
    );
    audit_commit(tx, &h, &Console.actor(), d, now).await?;
    Ok(required)
}

/// Whether the organisation requires end-to-end encrypted call media: its own policy, or the
/// deployment's default (`e2ee_required`).
pub async fn e2ee_required(state: &App, slug: &str) -> Result<bool, AppError> {
    let h = org(state, slug).await?;
    Ok(h.e2ee_required()
        .await?
        .unwrap_or(state.config.e2ee_required))
}

/// Sets the organisation's information text about video consultation in one language
/// (`trygg consultation info`, VC-INFO-1); audited as a settings change.
pub async fn set_consultation_info(
    state: &App,
    slug: &str,
    lang: &str,
    text: &str,
    now: OffsetDateTime,
) -> Result<(), AppError> {
    let lang = match lang.trim() {
        "nb" => trygg_core::Lang::Nb,
        "nn" => trygg_core::Lang::Nn,
        "en" => trygg_core::Lang::En,
        _ => return Err(AppError::invalid("TR-C011", "the language is nb, nn or en")),
    };
    let text = text.trim();
    if text.is_empty() || text.chars().count() > 8000 {
        return Err(AppError::invalid(
            "TR-C010",
            "the information text must be 1 to 8,000 characters",
        ));
    }
    let h = org(state, slug).await?;
    let mut tx = h.begin().await?;
    tx.set_consultation_info(lang.tag(), text, CONSOLE, now)
        .await?;
    let d = Did::new(
        Category::Administration,
        Operation::SettingsChange,
        Action::Update,
        ("setting", Some(format!("consultation-info:{}", lang.tag()))),
    );
    audit_commit(tx, &h, &Console.actor(), d, now).await
}
