//! Credentials as use cases (VC-DEV-2, PC-ACL-1; finding 2 of the access review): issuing
//! enrolment links (by an administrator, for the first administrator, from the command line),
//! a person's own passkeys and security notices, and another person's passkeys for a person
//! holding `credentials-manage`. Each is a function of the caller, the input and `now`, with the
//! access decision ([`crate::access::authorize`]) where a person acts on another and the audit
//! entry in the same transaction as the change.
//!
//! # Rules
//! - A person holding `credentials-manage` (administrators), in force now, employed, at the
//!   organisation's minimum assurance for it (by default *substantial*, so never the demo's
//!   developer login), issues a link for one existing, still employed person on the staff
//!   ([`issue_link`]); a refusal is a security event (finding 1).
//! - A link reaches no account silently (finding 2): a person who has any passkey gets no link
//!   (409 `TR-P702`); an administrator first revokes their passkeys ([`revoke_for`], logged,
//!   which also ends their sessions). Every passkey added leaves a notice in the person's
//!   sessions until acknowledged ([`acknowledge_notices`]).
//! - The **first administrator** of an organisation gets a link printed by `trygg serve` and
//!   `trygg demo` at start ([`first_admin_links`]; `trygg org create` and `trygg org setup-link`
//!   show one organisation's once, [`setup_link`]), for as long as no administrator of the
//!   organisation has a passkey: for the oldest administrator without one, or, when the
//!   organisation has none, a link that creates one. The command line can issue a link for
//!   anyone ([`cli_link`]); it runs with the operator's access to the data directory.
//! - A new link for a person revokes their older unused ones. Issuing is an `authorisation`
//!   event naming the issuer and the person; opening and using the link are logged by
//!   [`crate::login`].
//! - A passkey listing shows the passkey's id, when it was registered and when it was last used,
//!   never key material or credential ids. Revoking one's own passkey ends one's other sessions
//!   (a passkey someone else added may have opened one); the current session stays. Nothing here
//!   reads a name.

use time::OffsetDateTime;
use trygg_audit::{Action, Basis, Category, Outcome};
use trygg_core::access::Permission;
use trygg_core::{BuiltinRole, Operation};
use trygg_store::{EnrolmentLink, OrgStore, OrgTx, Organisation, PasskeyInfo, Secret, Store};
use uuid::Uuid;

use crate::access::{audit_commit, authorize, org_for, Caller};
use crate::audit::{event, Did};
use crate::auth_events::{build, AuthEvent, Who};
use crate::config::Config;
use crate::context::App;
use crate::error::AppError;
use crate::sessions::Session;

/// The link a person opens: `<base>/enrol/<org-slug>.<secret>`.
pub fn link_url(base: &str, org: &Organisation, secret: &Secret) -> String {
    format!(
        "{}/enrol/{}.{}",
        base.trim_end_matches('/'),
        org.slug,
        secret.expose()
    )
}

/// How long links live, from the configuration (`enrolment_link_ttl_secs`).
pub fn link_ttl(config: &Config) -> time::Duration {
    time::Duration::seconds(i64::try_from(config.enrolment_link_ttl_secs).unwrap_or(86_400))
}

/// Whether any administrator of the organisation has a passkey (then a first-administrator
/// link is void).
pub async fn admin_has_passkey(tx: &mut OrgTx<'_>) -> Result<bool, AppError> {
    for id in tx.personnel_ids_with_role(BuiltinRole::OrgAdmin).await? {
        if tx.passkey_count(id).await? > 0 {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Issues a link in its own transaction and logs it as issued by Trygg itself (`what`).
async fn issue_as_system(
    h: &OrgStore,
    personnel_id: Option<Uuid>,
    what: &'static str,
    ttl: time::Duration,
    now: OffsetDateTime,
) -> Result<(EnrolmentLink, Secret), AppError> {
    let org = h.organisation().slug.clone();
    let mut tx = h.begin().await?;
    let (link, secret) = tx
        .issue_enrolment_link(personnel_id, &format!("trygg:{what}"), now, ttl)
        .await?;
    let e = build(
        &org,
        Who::System(what),
        AuthEvent {
            category: Category::Authorisation,
            operation: Operation::EnrolmentLinkIssue,
            action: Action::Create,
            outcome: Outcome::Success,
            entity: match personnel_id {
                Some(p) => ("Practitioner", Some(p.to_string())),
                None => ("enrolment-link", Some(link.id.to_string())),
            },
            auth: None,
            address: None,
        },
        now,
    )?;
    tx.audit(&e).await?;
    tx.commit().await?;
    Ok((link, secret))
}

/// A first-administrator link to print at start.
#[derive(Debug)]
pub struct FirstAdminLink {
    /// The organisation.
    pub org: Organisation,
    /// Whether the link is for an existing administrator (else it creates one).
    pub existing: bool,
    /// The secret part of the link.
    pub secret: Secret,
}

impl FirstAdminLink {
    /// The full link under `base` (e.g. `http://localhost:8080`).
    pub fn url(&self, base: &str) -> String {
        link_url(base, &self.org, &self.secret)
    }
}

/// A fresh first-administrator set-up link for one organisation (the previous one revoked),
/// logged as issued by Trygg (`trygg:first-admin`): for `trygg org create` and `trygg org
/// setup-link` (issue #18: the link is shown once, to the operator who asked, never at start).
/// Refused once an administrator has a passkey: from then on they issue links themselves.
pub async fn setup_link(
    store: &Store,
    org: &Organisation,
    ttl: time::Duration,
    now: OffsetDateTime,
) -> Result<FirstAdminLink, AppError> {
    first_admin(store, org, ttl, now, true)
        .await?
        .ok_or_else(|| {
            AppError::conflict(
                "TR-L409",
                "an administrator of the organisation has a passkey: they issue enrolment links",
            )
        })
}

/// For every organisation where no administrator has a passkey yet: a fresh set-up link (older
/// ones revoked), logged as issued by Trygg (`trygg:first-admin`). Only `trygg demo` prints
/// these at start.
pub async fn first_admin_links(
    store: &Store,
    ttl: time::Duration,
    now: OffsetDateTime,
) -> Result<Vec<FirstAdminLink>, AppError> {
    let mut out = Vec::new();
    for org in store.list_orgs().await? {
        if let Some(l) = first_admin(store, &org, ttl, now, false).await? {
            out.push(l);
        }
    }
    Ok(out)
}

/// A first administrator's set-up link, or none once an administrator has a passkey; asked for
/// by the operator (`refusal_logged`), that refusal is a security event in the organisation's
/// log: a link then would make its holder an administrator of an organisation that runs itself.
async fn first_admin(
    store: &Store,
    org: &Organisation,
    ttl: time::Duration,
    now: OffsetDateTime,
    refusal_logged: bool,
) -> Result<Option<FirstAdminLink>, AppError> {
    let h = store.org(org).await?;
    let mut tx = h.begin().await?;
    if admin_has_passkey(&mut tx).await? {
        if refusal_logged {
            let e = build(
                &org.slug,
                Who::System("first-admin"),
                AuthEvent {
                    category: Category::Security(trygg_audit::SecurityKind::AccessDenied),
                    operation: Operation::EnrolmentLinkIssue,
                    action: Action::Create,
                    outcome: Outcome::Denied,
                    entity: ("enrolment-link", None),
                    auth: None,
                    address: None,
                },
                now,
            )?;
            tx.audit(&e).await?;
            tx.commit().await?;
        }
        return Ok(None);
    }
    let admins = tx.personnel_ids_with_role(BuiltinRole::OrgAdmin).await?;
    drop(tx);
    let target = admins.first().copied();
    let (_, secret) = issue_as_system(&h, target, "first-admin", ttl, now).await?;
    Ok(Some(FirstAdminLink {
        org: org.clone(),
        existing: target.is_some(),
        secret,
    }))
}

/// Issues a link for one person from the command line (`trygg personnel enrol-link`), logged
/// as issued by `trygg:cli`.
pub async fn cli_link(
    h: &OrgStore,
    personnel_id: Uuid,
    ttl: time::Duration,
    now: OffsetDateTime,
) -> Result<Secret, AppError> {
    let mut tx = h.begin().await?;
    if tx.personnel_role(personnel_id).await?.is_none() {
        return Err(AppError::not_found(
            "TR-L012",
            "no such person on the staff",
        ));
    }
    drop(tx);
    let (_, secret) = issue_as_system(h, Some(personnel_id), "cli", ttl, now).await?;
    Ok(secret)
}

/// Why a link cannot be issued for a person by another person.
fn refuse_target(
    exists: bool,
    employment_end: Option<i64>,
    passkeys: u64,
    now: OffsetDateTime,
) -> Result<(), AppError> {
    if !exists {
        return Err(AppError::not_found(
            "TR-L012",
            "no such person on the staff",
        ));
    }
    if employment_end.is_some_and(|end| end <= now.unix_timestamp()) {
        return Err(AppError::conflict(
            "TR-P703",
            "this person's employment has ended",
        ));
    }
    if passkeys > 0 {
        return Err(AppError::conflict(
            "TR-P702",
            "this person has a passkey already; revoke their passkeys first",
        ));
    }
    Ok(())
}

/// Issues a link for `target` in the caller's own organisation (`org`) as `caller` at `now`:
/// authorised with `credentials-manage` (live grant, employment, assurance; PC-ACL-1), refused
/// for a person who has a passkey (`TR-P702`, finding 2) or whose employment has ended
/// (`TR-P703`, finding 1), issued and logged in the authorising transaction (VC-DEV-2). The
/// link lives for the configured time.
pub async fn issue_link(
    app: &App,
    org: &OrgStore,
    caller: &Caller,
    target: Uuid,
    now: OffsetDateTime,
) -> Result<(EnrolmentLink, Secret), AppError> {
    let (mut tx, ok) = authorize(org, caller, Permission::CredentialsManage, None, now).await?;
    let end = tx.employment_end(target).await?;
    let passkeys = match end {
        Some(_) => tx.passkey_count(target).await?,
        None => 0,
    };
    refuse_target(end.is_some(), end.flatten(), passkeys, now)?;
    let (link, secret) = tx
        .issue_enrolment_link(Some(target), &ok.actor.id, now, link_ttl(&app.config))
        .await?;
    audit_commit(
        tx,
        org,
        &ok.actor,
        Did {
            category: Category::Authorisation,
            operation: Operation::EnrolmentLinkIssue,
            action: Action::Create,
            outcome: Outcome::Success,
            entity: ("Practitioner", Some(target.to_string())),
            patient: None,
            basis: ok.basis,
            detail: None,
        },
        now,
    )
    .await?;
    Ok((link, secret))
}

/// A passkey, as listed.
#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct PasskeyOut {
    /// Id (to revoke it).
    pub id: Uuid,
    /// When it was registered (RFC 3339).
    pub created_at: String,
    /// When it was last used to log in (RFC 3339).
    pub last_used_at: Option<String>,
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

impl From<PasskeyInfo> for PasskeyOut {
    fn from(p: PasskeyInfo) -> Self {
        Self {
            id: p.id,
            created_at: rfc3339(p.created_at),
            last_used_at: p.last_used_at.map(rfc3339),
        }
    }
}

fn did(operation: Operation, action: Action, person: Uuid, basis: Basis) -> Did {
    Did {
        category: Category::Authorisation,
        operation,
        action,
        outcome: Outcome::Success,
        entity: ("Practitioner", Some(person.to_string())),
        patient: None,
        basis,
        detail: None,
    }
}

/// Appends the session's own event and commits.
async fn own_commit(
    s: &Session,
    mut tx: OrgTx<'_>,
    d: Did,
    now: OffsetDateTime,
) -> Result<(), AppError> {
    let e = event(&s.org, &s.actor(), d, now)?;
    tx.audit(&e).await?;
    tx.commit().await?;
    Ok(())
}

/// One's own passkeys (logged as a read of one's own credentials).
pub async fn list_own(s: &Session, now: OffsetDateTime) -> Result<Vec<PasskeyOut>, AppError> {
    let mut tx = s.org_store.begin().await?;
    let list = tx.passkeys_of(s.personnel_id).await?;
    own_commit(
        s,
        tx,
        did(
            Operation::PasskeyList,
            Action::Read,
            s.personnel_id,
            Basis::None,
        ),
        now,
    )
    .await?;
    Ok(list.into_iter().map(PasskeyOut::from).collect())
}

/// Revokes one of one's own passkeys (`id`, `TR-P705` if it is not one's own) and ends one's
/// other sessions.
pub async fn revoke_own(s: &Session, id: &str, now: OffsetDateTime) -> Result<(), AppError> {
    let unknown = || AppError::not_found("TR-P705", "no such passkey");
    let id = Uuid::parse_str(id).map_err(|_| unknown())?;
    let mut tx = s.org_store.begin().await?;
    if !tx.revoke_passkey(s.personnel_id, id).await? {
        return Err(unknown());
    }
    tx.end_sessions_of(s.personnel_id, Some(s.session_id), "passkey-revoked", now)
        .await?;
    let mut d = did(
        Operation::PasskeyRevoke,
        Action::Delete,
        s.personnel_id,
        Basis::None,
    );
    d.entity = ("passkey", Some(id.to_string()));
    own_commit(s, tx, d, now).await
}

/// Marks one's open security notices read.
pub async fn acknowledge_notices(s: &Session, now: OffsetDateTime) -> Result<(), AppError> {
    let mut tx = s.org_store.begin().await?;
    tx.acknowledge_notices(s.personnel_id, now).await?;
    own_commit(
        s,
        tx,
        did(
            Operation::NoticeAcknowledge,
            Action::Update,
            s.personnel_id,
            Basis::None,
        ),
        now,
    )
    .await
}

fn person_id(s: &str) -> Result<Uuid, AppError> {
    Uuid::parse_str(s).map_err(|_| AppError::not_found("TR-Q404", "no such person"))
}

/// Lists a person's passkeys in organisation `org` as `caller` at `now`, through the access
/// decision (`credentials-manage`; PC-ACL-1).
pub async fn list_for(
    app: &App,
    caller: &Caller,
    org: &str,
    person: &str,
    now: OffsetDateTime,
) -> Result<Vec<PasskeyOut>, AppError> {
    let org = org_for(app, caller, org, now).await?;
    let person = person_id(person)?;
    let (mut tx, ok) = authorize(&org, caller, Permission::CredentialsManage, None, now).await?;
    if !tx.personnel_exists(person).await? {
        return Err(AppError::not_found("TR-Q404", "no such person"));
    }
    let list = tx.passkeys_of(person).await?;
    audit_commit(
        tx,
        &org,
        &ok.actor,
        did(Operation::PasskeyList, Action::Read, person, ok.basis),
        now,
    )
    .await?;
    Ok(list.into_iter().map(PasskeyOut::from).collect())
}

/// What revoking a person's passkeys did.
#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct RevokedOut {
    /// The passkeys revoked.
    pub revoked: Vec<Uuid>,
    /// How many of their sessions ended.
    pub sessions_ended: u64,
}

/// Revokes every passkey of a person in organisation `org` as `caller` at `now`, through the
/// access decision (`credentials-manage`), and ends their sessions: the way to let them enrol
/// again (finding 2).
pub async fn revoke_for(
    app: &App,
    caller: &Caller,
    org: &str,
    person: &str,
    now: OffsetDateTime,
) -> Result<RevokedOut, AppError> {
    let org = org_for(app, caller, org, now).await?;
    let person = person_id(person)?;
    let (mut tx, ok) = authorize(&org, caller, Permission::CredentialsManage, None, now).await?;
    if !tx.personnel_exists(person).await? {
        return Err(AppError::not_found("TR-Q404", "no such person"));
    }
    let revoked = tx.revoke_all_passkeys(person).await?;
    let sessions_ended = tx
        .end_sessions_of(person, None, "passkeys-revoked", now)
        .await?;
    audit_commit(
        tx,
        &org,
        &ok.actor,
        did(
            Operation::PasskeyRevokeAll,
            Action::Delete,
            person,
            ok.basis,
        ),
        now,
    )
    .await?;
    tracing::warn!(
        event = "credentials",
        revoked = revoked.len(),
        "a person's passkeys were revoked by an administrator"
    );
    Ok(RevokedOut {
        revoked,
        sessions_ended,
    })
}
