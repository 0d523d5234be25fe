//! Building audit events in the use cases, where the actor, the operation and the reason are
//! known. A use case describes what it did ([`Did`], keyed by the typed [`Operation`]); this
//! module turns it into a `trygg-audit` event with no personal data (opaque ids and codes only). Every event built for an HTTP request records the
//! client's address (as resolved behind `trusted_proxies`) in its source: Normen section 4 asks
//! "from where" of every entry (review finding 7).

use std::net::IpAddr;

use trygg_audit::{
    Action, Agent, AgentKind, AuditEvent, Basis, Category, Code, Entity, OpaqueId, Outcome, Source,
    Timestamp,
};
use trygg_core::{Operation, OrgSlug};
use uuid::Uuid;

use crate::error::AppError;

/// Who acted.
#[derive(Debug, Clone)]
pub struct Actor {
    /// What kind of party.
    pub kind: AgentKind,
    /// Opaque id (personnel id, token id).
    pub id: String,
    /// Role code, if any.
    pub role: Option<String>,
    /// How they authenticated and at what level, if they did (VC-AUTH-3, PC-AUTHN-1).
    pub authentication: Option<(&'static str, trygg_audit::Assurance)>,
    /// The client's address, for an actor who came over HTTP.
    pub address: Option<IpAddr>,
}

impl Actor {
    /// An operator or integration acting with an API token.
    pub fn token(id: Uuid) -> Self {
        Self {
            kind: AgentKind::System,
            id: format!("token:{id}"),
            role: Some("system".to_owned()),
            authentication: Some(("api-token", trygg_audit::Assurance::Substantial)),
            address: None,
        }
    }

    /// A person on the staff, acting in their role.
    pub fn personnel(id: Uuid, role: trygg_core::BuiltinRole) -> Self {
        Self {
            kind: AgentKind::Personnel,
            id: format!("personnel:{id}"),
            role: Some(role.as_str().to_owned()),
            authentication: None,
            address: None,
        }
    }

    /// Trygg itself (demo seeding, maintenance).
    pub fn system(what: &str) -> Self {
        Self {
            kind: AgentKind::System,
            id: format!("trygg:{what}"),
            role: Some("system".to_owned()),
            authentication: None,
            address: None,
        }
    }
}

/// What was done.
#[derive(Debug, Clone)]
pub struct Did {
    /// Kind of event.
    pub category: Category,
    /// What was done: the operation keys both the audit code and the patient's text.
    pub operation: Operation,
    /// CRUDE action.
    pub action: Action,
    /// Outcome.
    pub outcome: Outcome,
    /// The resource type (FHIR-style name) and its id.
    pub entity: (&'static str, Option<String>),
    /// The patient concerned, by id.
    pub patient: Option<Uuid>,
    /// The legal basis.
    pub basis: Basis,
    /// A coded detail of the entity (`identity-assurance:eid-high`), if any.
    pub detail: Option<String>,
}

fn code(s: &str) -> Result<Code, AppError> {
    Code::new(s).map_err(|e| AppError::internal("TR-U001", e))
}

fn opaque(s: &str) -> Result<OpaqueId, AppError> {
    OpaqueId::new(s).map_err(|e| AppError::internal("TR-U002", e))
}

/// Builds the event.
pub fn event(
    org: &OrgSlug,
    actor: &Actor,
    did: Did,
    now: time::OffsetDateTime,
) -> Result<AuditEvent, AppError> {
    let mut e = AuditEvent::new(
        Timestamp::from_datetime(now).map_err(|e| AppError::internal("TR-U003", e))?,
        did.category,
        code(did.operation.code())?,
        did.action,
        did.outcome,
        Agent {
            kind: actor.kind,
            id: Some(opaque(&actor.id)?),
            role: actor.role.as_deref().map(code).transpose()?,
            organisation: Some(org.clone()),
            on_behalf_of: None,
            authentication: actor
                .authentication
                .map(|(method, level)| -> Result<_, AppError> {
                    Ok(trygg_audit::Authentication {
                        method: code(method)?,
                        assurance: Some(level),
                    })
                })
                .transpose()?,
        },
        Source {
            node: code("trygg")?,
            address: actor.address,
        },
    );
    e.patient = did.patient.map(|p| opaque(&p.to_string())).transpose()?;
    e.entity = Some(Entity {
        kind: code(did.entity.0)?,
        id: did.entity.1.as_deref().map(opaque).transpose()?,
        detail: did.detail.as_deref().map(code).transpose()?,
    });
    e.basis = did.basis;
    Ok(e)
}

impl Did {
    /// A successful operation of `category` on `entity`, with no patient and no basis; the
    /// builder methods fill in the rest.
    pub fn new(
        category: Category,
        operation: Operation,
        action: Action,
        entity: (&'static str, Option<String>),
    ) -> Self {
        Self {
            category,
            operation,
            action,
            outcome: Outcome::Success,
            entity,
            patient: None,
            basis: Basis::None,
            detail: None,
        }
    }

    /// A coded detail of the entity.
    pub fn detail(mut self, detail: Option<String>) -> Self {
        self.detail = detail;
        self
    }

    /// The patient concerned.
    pub fn patient(mut self, patient: Option<Uuid>) -> Self {
        self.patient = patient;
        self
    }

    /// The legal basis.
    pub fn basis(mut self, basis: Basis) -> Self {
        self.basis = basis;
        self
    }

    /// The outcome.
    pub fn outcome(mut self, outcome: Outcome) -> Self {
        self.outcome = outcome;
        self
    }
}
