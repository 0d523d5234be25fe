//! The edge of access control: a personnel session becomes the use cases' [`Caller`]. The rules
//! themselves (tenancy, the one access decision, assurance per permission, probe aggregation)
//! are [`trygg_app::access`]'s.

pub use trygg_app::access::Caller;

impl From<&crate::auth::Principal> for Caller {
    fn from(p: &crate::auth::Principal) -> Self {
        p.session().caller()
    }
}
