//! Authorisation in the use cases: every operation that reaches an organisation's data or acts on
//! its people names the permission it needs, and [`authorize`] decides it inside the same
//! transaction as the access (so a grant revoked a moment ago cannot slip through), with
//! `trygg_core::access::decide`. The HTTP edge, the admin pages and the CLI reach data only
//! through the use cases that call it.
//!
//! Rules this module adds to the pure decision:
//! - **Tenancy.** A person belongs to one organisation. Asking for another organisation's data
//!   answers 404, exactly like an organisation that does not exist, and appends a
//!   cross-organisation security event to the log of the organisation that was asked about
//!   (guide risk scenario 17, PC-VENDOR-6). Repeated probes are aggregated ([`ProbeWindows`]):
//!   at most one entry per (caller organisation, caller person, asked organisation) per minute,
//!   the entry carrying how many probes it stands for (finding 7).
//! - **Denials are logged.** A refused access appends an access-denied security event and commits
//!   it, then answers 403 with no detail about why.
//! - **Assurance** (PC-AUTHN-3, VC-AUTH-3). Every permission has a minimum login assurance, an
//!   organisation setting ([`min_assurance`]) with defaults ([`default_min_assurance`]): *high*
//!   for health data and emergency access, *substantial* for other patient data and for
//!   credential management, *low* for the rest. A person who holds the permission but logged in
//!   below the minimum gets a 403 naming the level needed (`required_assurance`); a person who
//!   does not hold it learns nothing more than "forbidden".
//! - **One decision for everything** (finding 1). Personnel actions (people, grants, links,
//!   passkeys) are decided here like data access, on live grants, employment and assurance, never
//!   on the role given at registration.
//! - **Allowed accesses carry their basis** (role, care relationship or emergency access) into the
//!   audit entry the handler appends.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use trygg_audit::{
    Action, AgentKind, Assurance, Basis, Category, OpaqueId, Outcome, SecurityKind, Timestamp,
};
use trygg_core::access::{decide, AccessBasis, Permission};
use trygg_core::{Operation, OrgSlug};
use trygg_store::{OrgStore, OrgTx};
use uuid::Uuid;

use crate::audit::{event, Actor, Did};
use crate::context::App;
use crate::error::AppError;

/// A signed-in person of one organisation: the session's principal, as access control sees it.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Their organisation.
    pub org: OrgSlug,
    /// Their personnel id.
    pub personnel_id: Uuid,
    /// How they authenticated (a code for the audit log).
    pub method: &'static str,
    /// At what assurance level.
    pub assurance: trygg_audit::Assurance,
    /// The client's address, recorded on every audit entry (Normen section 4: from where).
    pub address: Option<IpAddr>,
    /// Their own organisation's handle as the session found it in this request (saves looking
    /// it up again; a request for another organisation never uses it).
    pub home: Option<Arc<OrgStore>>,
}

impl Caller {
    /// The audit actor for this person, with how they authenticated (VC-AUTH-3, PC-AUTHN-1).
    pub fn actor(&self) -> Actor {
        Actor {
            kind: AgentKind::Personnel,
            id: format!("personnel:{}", self.personnel_id),
            role: None,
            authentication: Some((self.method, self.assurance)),
            address: self.address,
        }
    }
}

/// The answer for an organisation that does not exist or is not the caller's: the same 404.
pub fn no_such_org() -> AppError {
    AppError::not_found("TR-O404", "no such organisation")
}

/// Resolves the organisation named in the path for this caller. Another organisation's name
/// answers 404 and is logged there as a cross-organisation attempt.
pub async fn org_for(
    state: &App,
    caller: &Caller,
    slug: &str,
    now: time::OffsetDateTime,
) -> Result<Arc<OrgStore>, AppError> {
    flush_probes(state, now, false).await?;
    let slug = OrgSlug::parse(slug).map_err(|_| no_such_org())?;
    if let Some(home) = caller
        .home
        .as_ref()
        .filter(|h| h.organisation().slug == slug)
    {
        return Ok(home.clone());
    }
    let org = state
        .store
        .org_by_slug(&slug)
        .await?
        .ok_or_else(no_such_org)?;
    let handle = state.store.org(&org).await?;
    if slug != caller.org {
        let key = (caller.org.clone(), caller.personnel_id, slug.clone());
        let note = state
            .probes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .note(key, now.unix_timestamp());
        if let Some(agg) = note {
            let mut actor = caller.actor();
            // The actor is a stranger here: name them with their own organisation in the id.
            actor.id = format!("personnel:{}:{}", caller.org, caller.personnel_id);
            write_probes(&handle, &slug, &actor, agg, now).await?;
        }
        tracing::warn!(
            event = "security",
            kind = "cross-organisation",
            "request for another organisation's data refused"
        );
        return Err(no_such_org());
    }
    Ok(handle)
}

/// Appends one cross-organisation entry standing for `agg` to the asked organisation's log.
async fn write_probes(
    handle: &OrgStore,
    slug: &OrgSlug,
    actor: &Actor,
    agg: ProbeEntry,
    now: time::OffsetDateTime,
) -> Result<(), AppError> {
    let mut tx = handle.begin().await?;
    let mut e = event(
        slug,
        actor,
        Did {
            category: Category::Security(SecurityKind::CrossOrganisation),
            operation: Operation::AccessCrossOrganisation,
            action: Action::Execute,
            outcome: Outcome::Denied,
            // The entity is the aggregate: how many probes this entry stands for.
            entity: (PROBES_ENTITY, Some(agg.count.to_string())),
            patient: None,
            basis: Basis::None,
            detail: None,
        },
        now,
    )?;
    if agg.since < now.unix_timestamp() {
        e.period_start = Some(Timestamp::from_unix_millis(agg.since.saturating_mul(1000)));
    }
    tx.audit(&e).await?;
    tx.commit().await?;
    Ok(())
}

/// Writes the probes held back in windows that have ended (all of them with `all`, at shutdown),
/// so none stays only in memory (found in a second review): called on every organisation
/// lookup at most once a second, by the server every minute, and when it stops. Returns how
/// many entries it wrote.
pub async fn flush_probes(
    state: &App,
    now: time::OffsetDateTime,
    all: bool,
) -> Result<usize, AppError> {
    let due = state
        .probes
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .due(now.unix_timestamp(), all);
    let mut written = 0;
    for ((caller_org, person, asked), agg) in due {
        let Some(org) = state.store.org_by_slug(&asked).await? else {
            continue;
        };
        let handle = state.store.org(&org).await?;
        let actor = Actor {
            kind: AgentKind::Personnel,
            id: format!("personnel:{caller_org}:{person}"),
            role: None,
            authentication: None,
            address: None,
        };
        write_probes(&handle, &asked, &actor, agg, now).await?;
        written += 1;
    }
    Ok(written)
}

/// The entity kind of a cross-organisation entry; its id is the number of probes it stands for.
pub const PROBES_ENTITY: &str = "cross-organisation-probes";
/// The aggregation window for cross-organisation probes, in seconds.
pub const PROBE_WINDOW_SECS: i64 = 60;
/// The most (caller organisation, caller person, asked organisation) triples remembered.
pub const PROBE_KEYS_MAX: usize = 10_000;

/// Who probed which organisation: (caller organisation, caller person, asked organisation).
pub type ProbeKey = (OrgSlug, Uuid, OrgSlug);

/// An audit entry to write for cross-organisation probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeEntry {
    /// How many probes it stands for (this one and those held back since the last entry).
    pub count: u64,
    /// When the first of them happened (Unix seconds).
    pub since: i64,
}

#[derive(Debug, Clone, Copy)]
struct ProbeWindow {
    start: i64,
    first_pending: i64,
    pending: u64,
}

/// Aggregation of cross-organisation probes (finding 7), in memory and bounded: the first probe
/// of a triple in a window of [`PROBE_WINDOW_SECS`] is written at once; later ones in the window
/// are counted and written with the triple's next entry (its first probe after the window), or
/// by [`flush_probes`] once the window has ended. When
/// the map is full, windows with nothing held back are dropped; if it is still full, a new
/// triple's probe is written on its own (the log is never skipped for lack of memory). Time is
/// a parameter.
#[derive(Debug)]
pub struct ProbeWindows {
    map: HashMap<ProbeKey, ProbeWindow>,
    cap: usize,
    last_due: i64,
}

impl ProbeWindows {
    /// An empty aggregation remembering at most `cap` triples.
    pub fn new(cap: usize) -> Self {
        Self {
            map: HashMap::new(),
            cap,
            last_due: i64::MIN,
        }
    }

    /// Notes a probe at `now`; returns the entry to write, if one is due.
    pub fn note(&mut self, key: ProbeKey, now: i64) -> Option<ProbeEntry> {
        if let Some(w) = self.map.get_mut(&key) {
            if now - w.start < PROBE_WINDOW_SECS {
                if w.pending == 0 {
                    w.first_pending = now;
                }
                w.pending += 1;
                return None;
            }
            let since = if w.pending > 0 { w.first_pending } else { now };
            let count = w.pending + 1;
            *w = ProbeWindow {
                start: now,
                first_pending: now,
                pending: 0,
            };
            return Some(ProbeEntry { count, since });
        }
        if self.map.len() >= self.cap {
            self.map
                .retain(|_, w| w.pending > 0 || now - w.start < PROBE_WINDOW_SECS);
        }
        if self.map.len() < self.cap {
            self.map.insert(
                key,
                ProbeWindow {
                    start: now,
                    first_pending: now,
                    pending: 0,
                },
            );
        }
        Some(ProbeEntry {
            count: 1,
            since: now,
        })
    }

    /// Takes out the held-back probes of windows that have ended at `now` (with `all`, of every
    /// window), as entries to write. Without `all`, looks at most once a second.
    pub fn due(&mut self, now: i64, all: bool) -> Vec<(ProbeKey, ProbeEntry)> {
        if !all && now <= self.last_due {
            return Vec::new();
        }
        self.last_due = now;
        let mut out = Vec::new();
        self.map.retain(|key, w| {
            let ended = now - w.start >= PROBE_WINDOW_SECS;
            if w.pending > 0 && (ended || all) {
                out.push((
                    key.clone(),
                    ProbeEntry {
                        count: w.pending,
                        since: w.first_pending,
                    },
                ));
                return false;
            }
            !ended
        });
        out
    }

    /// How many triples are remembered.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// The built-in minimum login assurance of a permission (PC-AUTHN-3): *high* for health data and
/// emergency access, *substantial* for other patient data and for credential management (so the
/// demo's developer login, *low*, never opens a credential path to an account with patient
/// access), *low* for the rest.
pub fn default_min_assurance(p: Permission) -> Assurance {
    match p {
        Permission::HealthRead | Permission::HealthWrite | Permission::EmergencyAccess => {
            Assurance::High
        }
        // The incident register names affected patients (sealed): substantial, like the
        // credential path.
        Permission::CredentialsManage | Permission::ComplianceManage | Permission::LogControl => {
            Assurance::Substantial
        }
        p if p.is_patient_data() => Assurance::Substantial,
        _ => Assurance::Low,
    }
}

/// Every permission's minimum assurance in this organisation: its own setting, else the default.
pub async fn assurance_table(tx: &mut OrgTx<'_>) -> Result<Vec<(Permission, Assurance)>, AppError> {
    let own = tx.assurance_minimums().await?;
    table_of(&own)
}

/// [`assurance_table`] from the organisation's own minimums as stored.
fn table_of(own: &[(String, String)]) -> Result<Vec<(Permission, Assurance)>, AppError> {
    Permission::ALL
        .into_iter()
        .map(|p| {
            match own.iter().find(|(name, _)| name == p.as_str()) {
                Some((_, level)) => Assurance::from_code(level).ok_or_else(|| {
                    AppError::internal("TR-P790", "a stored assurance level is unknown")
                }),
                None => Ok(default_min_assurance(p)),
            }
            .map(|a| (p, a))
        })
        .collect()
}

/// Sets the organisation's minimum assurance for a permission (`low`, `substantial`, `high`),
/// logged as an administration event by `who` (Trygg itself: `cli`, `demo`).
pub async fn set_min_assurance(
    org: &OrgStore,
    p: Permission,
    level: &str,
    who: &str,
    now: time::OffsetDateTime,
) -> Result<(), AppError> {
    let mut tx = org.begin().await?;
    tx.set_assurance_minimum(p, level).await?;
    audit_commit(
        tx,
        org,
        &Actor::system(who),
        Did {
            category: Category::Administration,
            operation: Operation::AssuranceSet,
            action: Action::Update,
            outcome: Outcome::Success,
            entity: ("setting", Some(format!("assurance-{}", p.as_str()))),
            patient: None,
            basis: Basis::System,
            detail: None,
        },
        now,
    )
    .await
}

/// The organisation's minimum assurance for one permission.
pub async fn min_assurance(tx: &mut OrgTx<'_>, p: Permission) -> Result<Assurance, AppError> {
    required_of(assurance_table(tx).await?, p)
}

fn required_of(table: Vec<(Permission, Assurance)>, p: Permission) -> Result<Assurance, AppError> {
    table
        .into_iter()
        .find_map(|(q, a)| (q == p).then_some(a))
        .ok_or_else(|| AppError::internal("TR-P791", "a permission has no assurance level"))
}

/// The audit basis for an allowed access.
pub fn basis_of(b: AccessBasis) -> Result<Basis, AppError> {
    let id = |u: Uuid| OpaqueId::new(&u.to_string()).map_err(|e| AppError::internal("TR-U004", e));
    Ok(match b {
        AccessBasis::Role => Basis::Administration,
        AccessBasis::CareRelationship(c) => Basis::CareRelationship { id: id(c)? },
        AccessBasis::Emergency(e) => Basis::Emergency {
            reason: trygg_audit::Code::new("emergency-access")
                .map_err(|e| AppError::internal("TR-U005", e))?,
            justification: Some(id(e)?),
        },
    })
}

/// The last step of every handler that reached an organisation's data: append the audit entry
/// describing what it did, and commit the access together with it.
pub async fn audit_commit(
    mut tx: OrgTx<'_>,
    org: &OrgStore,
    actor: &Actor,
    did: Did,
    now: time::OffsetDateTime,
) -> Result<(), AppError> {
    let e = event(&org.organisation().slug, actor, did, now)?;
    tx.audit(&e).await?;
    tx.commit().await?;
    Ok(())
}

/// What an allowed access rests on, for its audit entry.
#[derive(Debug, Clone)]
pub struct Allowed {
    /// The audit basis.
    pub basis: Basis,
    /// The audit actor, with the role whose grant allowed it.
    pub actor: Actor,
}

/// What `caller` may do now, for the navigation (issue #14: no link to a page that would refuse
/// them): each permission a live grant gives them, with whether their login's level reaches
/// the organisation's minimum for it. Nothing after an ended employment. It reads the rule's
/// inputs only, no one's data, so nothing is logged; every page still decides for itself.
pub async fn permissions_now(
    org: &OrgStore,
    caller: &Caller,
    now: time::OffsetDateTime,
) -> Result<Vec<(Permission, bool)>, AppError> {
    let mut tx = org.begin().await?;
    let (subject, own) = tx.decision_inputs(caller.personnel_id).await?;
    drop(tx);
    let table = table_of(&own)?;
    let t = now.unix_timestamp();
    let Some(s) = subject.filter(|s| s.employment_end.is_none_or(|end| end > t)) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for p in Permission::ALL {
        let held = s
            .grants
            .iter()
            .any(|g| g.live(t) && g.role.permissions.contains(&p));
        if held {
            out.push((p, caller.assurance >= required_of(table.clone(), p)?));
        }
    }
    Ok(out)
}

/// Opens a transaction and decides whether `caller` may use `permission` (on `patient`) at
/// `now`. On success the transaction is returned for the access itself, with the basis. On
/// refusal an access-denied security event is committed and the answer is 403 (naming the
/// assurance level needed when that is the only reason, PC-AUTHN-3).
pub async fn authorize<'a>(
    org: &'a OrgStore,
    caller: &Caller,
    permission: Permission,
    patient: Option<Uuid>,
    now: time::OffsetDateTime,
) -> Result<(OrgTx<'a>, Allowed), AppError> {
    use trygg_core::access::Denied;
    let mut tx = org.begin().await?;
    // One statement for everything the decision reads (the unit holds the write connection).
    let (subject, own) = tx.decision_inputs(caller.personnel_id).await?;
    let required = required_of(table_of(&own)?, permission)?;
    let decision = match &subject {
        Some(s) => decide(s, permission, patient, now.unix_timestamp()),
        None => Err(Denied::NoPermission),
    };
    // Below the minimum assurance: refused, and told which level is needed, but only when the
    // person holds the permission (otherwise "forbidden" is all they learn).
    let holds = !matches!(
        decision,
        Err(Denied::NoPermission | Denied::EmploymentEnded)
    );
    let assured = caller.assurance >= required;
    let decision = match decision {
        Ok(_) if !assured => Err(None),
        Ok(b) => Ok(b),
        Err(why) => Err(Some(why)),
    };
    match decision {
        Ok(b) => {
            let t = now.unix_timestamp();
            let mut actor = caller.actor();
            actor.role = subject.iter().flat_map(|s| &s.grants).find_map(|g| {
                (g.live(t) && g.role.permissions.contains(&permission)).then(|| g.role.name.clone())
            });
            Ok((
                tx,
                Allowed {
                    basis: basis_of(b)?,
                    actor,
                },
            ))
        }
        Err(why) => {
            let e = event(
                &org.organisation().slug,
                &caller.actor(),
                Did {
                    category: Category::Security(SecurityKind::AccessDenied),
                    operation: Operation::AccessDenied,
                    action: Action::Execute,
                    outcome: Outcome::Denied,
                    entity: ("Permission", Some(permission.as_str().to_owned())),
                    patient,
                    basis: Basis::None,
                    detail: None,
                },
                now,
            )?;
            tx.audit(&e).await?;
            tx.commit().await?;
            let reason = why.map_or("assurance too low", |w| match w {
                Denied::EmploymentEnded => "employment has ended",
                Denied::NoPermission => "no live grant gives this permission",
                Denied::NoNeedToKnow => "no care relationship or emergency access",
                Denied::NoPatient => "no patient named",
            });
            tracing::warn!(
                event = "security",
                kind = "access-denied",
                reason,
                assured,
                permission = permission.as_str(),
                "access refused"
            );
            if holds && !assured {
                let level = required.code();
                let mut e = AppError::forbidden(
                    "TR-P701",
                    format!("this needs a login of assurance level {level} or higher"),
                );
                e.required_assurance = Some(required);
                return Err(e);
            }
            Err(AppError::forbidden(
                "TR-Z403",
                "you are not allowed to do this",
            ))
        }
    }
}
