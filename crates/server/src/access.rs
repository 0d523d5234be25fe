//! The edge of access control: a personnel session becomes the use cases' [`Caller`]. The rules
//! themselves (tenancy, the one access decision, assurance per permission, probe aggregation)
//! are [`trygg_app::access`]'s; this module re-exports them for the login handlers.

use std::sync::Arc;

use trygg_store::OrgStore;

pub use trygg_app::access::{
    assurance_table, audit_commit, authorize as authorize_at, basis_of, default_min_assurance,
    min_assurance, no_such_org, set_min_assurance, Allowed, Caller,
};

use crate::app::AppState;
use crate::error::ApiError;

impl From<&crate::auth::Principal> for Caller {
    fn from(p: &crate::auth::Principal) -> Self {
        p.session().caller()
    }
}

/// Resolves the organisation named in a path for this caller, at the state's time (see
/// [`trygg_app::access::org_for`]).
pub async fn org_for(
    state: &AppState,
    caller: &Caller,
    slug: &str,
) -> Result<Arc<OrgStore>, ApiError> {
    Ok(trygg_app::access::org_for(state, caller, slug, state.now()).await?)
}
