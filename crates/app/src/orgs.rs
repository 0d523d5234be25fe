//! Organisations: list and create, by a deployment operator with an API token or at the console
//! (PC-VENDOR-4). Operators administer organisations only and reach no organisation's data.
//! Creating an organisation is the first entry of its own audit log, naming the operator (the
//! token, or `trygg:cli`) that created it.

use time::OffsetDateTime;
use trygg_audit::{Action, Basis, Category};
use trygg_core::{Operation, OrgSlug};
use uuid::Uuid;

use crate::audit::{event, Actor, Did};
use crate::context::App;
use crate::error::AppError;

/// A deployment operator or integration, authenticated by an API token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operator {
    /// The token's id (never its secret).
    pub token_id: Uuid,
}

/// Whoever administers organisations: an operator with an API token ([`Operator`]) or at the
/// console ([`crate::operator::Console`]).
pub trait Administrator {
    /// The audit actor naming them.
    fn actor(&self) -> Actor;
}

impl Administrator for Operator {
    /// The token, by id.
    fn actor(&self) -> Actor {
        Actor::token(self.token_id)
    }
}

/// An organisation.
#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct OrgOut {
    /// Short name.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// When created (RFC 3339).
    pub created_at: String,
}

impl From<&trygg_store::Organisation> for OrgOut {
    fn from(o: &trygg_store::Organisation) -> Self {
        Self {
            slug: o.slug.to_string(),
            name: o.name.clone(),
            created_at: o
                .created_at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
        }
    }
}

/// A new organisation.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgIn {
    /// Display name.
    pub name: String,
    /// Short name; derived from the name when left out.
    pub slug: Option<String>,
}

/// Lists organisations.
pub async fn list_orgs(state: &App, _op: &impl Administrator) -> Result<Vec<OrgOut>, AppError> {
    let orgs = state.store.list_orgs().await?;
    Ok(orgs.iter().map(OrgOut::from).collect())
}

/// Creates an organisation with its own database and data key (PC-VENDOR-4), and logs its
/// creation as the first entry of its log.
pub async fn create_org(
    state: &App,
    op: &impl Administrator,
    input: OrgIn,
    now: OffsetDateTime,
) -> Result<OrgOut, AppError> {
    let slug = match &input.slug {
        Some(s) => OrgSlug::parse(s),
        None => OrgSlug::from_name(&input.name),
    }
    .map_err(|e| AppError::invalid("TR-O001", e.to_string()))?;
    let org = state.store.create_org(&slug, &input.name, now).await?;
    let h = state.store.org(&org).await?;
    let mut tx = h.begin().await?;
    let e = event(
        &org.slug,
        &op.actor(),
        Did::new(
            Category::Administration,
            Operation::OrgCreate,
            Action::Create,
            ("Organization", Some(org.id.to_string())),
        )
        .basis(Basis::System),
        now,
    )?;
    tx.audit(&e).await?;
    tx.commit().await?;
    Ok(OrgOut::from(&org))
}
