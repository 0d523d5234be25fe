//! The audit events of login (VC-DEV-2, PC-AUTHN-1, guide risk scenario 17): successful logins
//! and logouts (`authentication`), credentials issued and registered (`authorisation`), and
//! failed or refused attempts (`security`). Every event names the person by opaque id only, and
//! carries the method and assurance level of the authentication (PC-AUTHN-1). Every event also
//! records the client address when it is known (Normen section 4, "from where"; review finding
//! 7): it is what an investigation of repeated failures needs. The use cases of [`crate::login`],
//! [`crate::sessions`] and [`crate::credentials`] build their events here.

use std::net::IpAddr;

use time::OffsetDateTime;
use trygg_audit::{
    Action, AgentKind, Assurance, AuditEvent, Authentication, Basis, Category, Code, Outcome,
    SecurityKind,
};
use trygg_core::{BuiltinRole, Operation, OrgSlug};
use trygg_store::OrgStore;
use uuid::Uuid;

use crate::audit::{event, Actor, Did};
use crate::error::AppError;

/// Who an auth event is about.
#[derive(Debug, Clone, Copy)]
pub enum Who {
    /// A known person in a role.
    Person(Uuid, BuiltinRole),
    /// Not identified (an unknown passkey, an unknown link).
    Unknown,
    /// Trygg itself (the first-administrator link) or the command line.
    System(&'static str),
}

/// One auth event to build.
#[derive(Debug, Clone)]
pub struct AuthEvent {
    /// Kind of event.
    pub category: Category,
    /// What was done.
    pub operation: Operation,
    /// FHIR action.
    pub action: Action,
    /// Outcome.
    pub outcome: Outcome,
    /// Entity type and id.
    pub entity: (&'static str, Option<String>),
    /// The method and assurance, if the agent authenticated.
    pub auth: Option<(&'static str, Assurance)>,
    /// The client's address, when the event comes from a request over the network.
    pub address: Option<IpAddr>,
}

impl AuthEvent {
    /// A failed or refused attempt.
    pub fn security(
        kind: SecurityKind,
        operation: Operation,
        outcome: Outcome,
        address: Option<IpAddr>,
    ) -> Self {
        Self {
            category: Category::Security(kind),
            operation,
            action: Action::Execute,
            outcome,
            entity: ("session", None),
            auth: None,
            address,
        }
    }
}

/// Builds the event for `org`'s log.
pub fn build(
    org: &OrgSlug,
    who: Who,
    e: AuthEvent,
    now: OffsetDateTime,
) -> Result<AuditEvent, AppError> {
    let actor = match who {
        Who::Person(id, role) => Actor::personnel(id, role),
        Who::Unknown => Actor {
            kind: AgentKind::Unknown,
            id: "unknown".to_owned(),
            role: None,
            authentication: None,
            address: None,
        },
        Who::System(what) => Actor::system(what),
    };
    let mut ev = event(
        org,
        &actor,
        Did {
            category: e.category,
            operation: e.operation,
            action: e.action,
            outcome: e.outcome,
            entity: e.entity,
            patient: None,
            basis: Basis::None,
            detail: None,
        },
        now,
    )?;
    if let Who::Unknown = who {
        ev.agent.id = None;
        ev.agent.organisation = None;
    }
    if let Some((method, assurance)) = e.auth {
        ev.agent.authentication = Some(Authentication {
            method: Code::new(method).map_err(|x| AppError::internal("TR-L501", x))?,
            assurance: Some(assurance),
        });
    }
    ev.source.address = e.address;
    Ok(ev)
}

/// Appends one event (usually a security event) to an organisation's log in a transaction of
/// its own.
pub async fn log_event(
    h: &OrgStore,
    org: &OrgSlug,
    who: Who,
    e: AuthEvent,
    now: OffsetDateTime,
) -> Result<(), AppError> {
    let mut tx = h.begin().await?;
    tx.audit(&build(org, who, e, now)?).await?;
    tx.commit().await?;
    Ok(())
}
