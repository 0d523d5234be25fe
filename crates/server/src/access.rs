//! Authorisation at the edge: every handler that reaches an organisation's data names the
//! permission it needs, and [`authorize`] decides it inside the same transaction as the access
//! (so a grant revoked a moment ago cannot slip through), with `trygg_core::access::decide`.
//!
//! Rules this module adds to the pure decision:
//! - **Tenancy.** A person belongs to one organisation. Asking for another organisation's data
//!   answers 404, exactly like an organisation that does not exist, and appends a
//!   cross-organisation security event to the log of the organisation that was asked about
//!   (guide risk scenario 17, PC-VENDOR-6).
//! - **Denials are logged.** A refused access appends an access-denied security event and commits
//!   it, then answers 403 with no detail about why.
//! - **Assurance.** Permissions over patients' data need a session of at least substantial
//!   assurance (passkey, HelseID); a weaker login is refused them like a missing grant.
//! - **Allowed accesses carry their basis** (role, care relationship or emergency access) into the
//!   audit entry the handler appends.

use std::net::IpAddr;
use std::sync::Arc;

use trygg_audit::{Action, AgentKind, Basis, Category, OpaqueId, Outcome, SecurityKind};
use trygg_core::access::{decide, AccessBasis, Permission};
use trygg_core::OrgSlug;
use trygg_store::{OrgStore, OrgTx};
use uuid::Uuid;

use crate::app::AppState;
use crate::audit_events::{event, Actor, Did};
use crate::error::ApiError;

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

impl From<&crate::auth::Principal> for Caller {
    fn from(p: &crate::auth::Principal) -> Self {
        Self {
            org: p.org.clone(),
            personnel_id: p.personnel_id,
            method: p.method.code(),
            assurance: p.assurance,
            address: p.address,
        }
    }
}

impl axum::extract::FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let p = crate::auth::Principal::from_request_parts(parts, state).await?;
        Ok(Self::from(&p))
    }
}

/// The answer for an organisation that does not exist or is not the caller's: the same 404.
pub fn no_such_org() -> ApiError {
    ApiError::not_found("TR-O404", "no such organisation")
}

/// Resolves the organisation named in the path for this caller. Another organisation's name
/// answers 404 and is logged there as a cross-organisation attempt.
pub async fn org_for(
    state: &AppState,
    caller: &Caller,
    slug: &str,
) -> Result<Arc<OrgStore>, ApiError> {
    let slug = OrgSlug::parse(slug).map_err(|_| no_such_org())?;
    let org = state
        .store
        .org_by_slug(&slug)
        .await?
        .ok_or_else(no_such_org)?;
    let handle = state.store.org(&org).await?;
    if slug != caller.org {
        let now = time::OffsetDateTime::now_utc();
        let mut tx = handle.begin().await?;
        let mut actor = caller.actor();
        // The actor is a stranger here: name them with their own organisation in the id.
        actor.id = format!("personnel:{}:{}", caller.org, caller.personnel_id);
        let e = event(
            &slug,
            &actor,
            Did {
                category: Category::Security(SecurityKind::CrossOrganisation),
                operation: "access.cross-organisation",
                action: Action::Execute,
                outcome: Outcome::Denied,
                entity: ("Organization", Some(org.id.to_string())),
                patient: None,
                basis: Basis::None,
            },
            now,
        )?;
        tx.audit(&e).await?;
        tx.commit().await?;
        tracing::warn!(
            event = "security",
            kind = "cross-organisation",
            "request for another organisation's data refused"
        );
        return Err(no_such_org());
    }
    Ok(handle)
}

/// The audit basis for an allowed access.
pub fn basis_of(b: AccessBasis) -> Result<Basis, ApiError> {
    let id = |u: Uuid| OpaqueId::new(&u.to_string()).map_err(|e| ApiError::internal("TR-U004", e));
    Ok(match b {
        AccessBasis::Role => Basis::Administration,
        AccessBasis::CareRelationship(c) => Basis::CareRelationship { id: id(c)? },
        AccessBasis::Emergency(e) => Basis::Emergency {
            reason: trygg_audit::Code::new("emergency-access")
                .map_err(|e| ApiError::internal("TR-U005", e))?,
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
) -> Result<(), ApiError> {
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

/// Opens a transaction and decides whether `caller` may use `permission` (on `patient`). On
/// success the transaction is returned for the access itself, with the basis. On refusal an
/// access-denied security event is committed and the answer is 403.
pub async fn authorize<'a>(
    org: &'a OrgStore,
    caller: &Caller,
    permission: Permission,
    patient: Option<Uuid>,
) -> Result<(OrgTx<'a>, Allowed), ApiError> {
    let now = time::OffsetDateTime::now_utc();
    let mut tx = org.begin().await?;
    let subject = tx.subject(caller.personnel_id).await?;
    let assured =
        !permission.is_patient_data() || caller.assurance >= trygg_audit::Assurance::Substantial;
    let decision = match &subject {
        Some(_) if !assured => Err(trygg_core::access::Denied::NoPermission),
        Some(s) => decide(s, permission, patient, now.unix_timestamp()),
        None => Err(trygg_core::access::Denied::NoPermission),
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
                    operation: "access.denied",
                    action: Action::Execute,
                    outcome: Outcome::Denied,
                    entity: ("Permission", Some(permission.as_str().to_owned())),
                    patient,
                    basis: Basis::None,
                },
                now,
            )?;
            tx.audit(&e).await?;
            tx.commit().await?;
            tracing::warn!(event = "security", kind = "access-denied", reason = %why, assured, permission = permission.as_str(), "access refused");
            Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                "TR-Z403",
                "Forbidden",
                "you are not allowed to do this",
            ))
        }
    }
}
