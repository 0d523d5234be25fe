//! Access control as a pure decision: who may do what, to whose data, on what basis
//! (PC-ACL-1, PC-ACL-2, VC-AUTH-3; guide risk scenarios 14–17).
//!
//! The rules, in the order [`decide`] applies them:
//! 1. **Employment.** A person whose employment has ended (`employment_end <= now`) may do
//!    nothing, whatever grants remain (scenario 16: a leaver is removed at once).
//! 2. **Grants.** Permissions come only from role grants that are live: `valid_from <= now`,
//!    not past `valid_to`, not revoked. An expired grant stops working at the instant it expires.
//!    Roles map to permissions ([`Role`]); organisations may define their own roles, and the
//!    built-in ones ([`BuiltinRole`]) have fixed sets ([`builtin_permissions`]).
//! 3. **Need to know.** A permission over a patient's *health data* ([`Permission::is_health`])
//!    needs, besides the role, a live [`CareRelationship`] with that patient or a live
//!    [`EmergencyAccess`] (mandatory reason, flagged for review, shown to the patient).
//!    Demographic and booking permissions need the role only (basis: administration).
//! 4. Otherwise: denied, with the reason, which the caller logs as a security event.
//!
//! Administrators manage people and grants but hold no health permission; nobody may grant a
//! role to themselves. Time is a parameter; nothing here reads the clock.

use std::collections::BTreeSet;

use uuid::Uuid;

use crate::person::BuiltinRole;

/// Something a person may be allowed to do.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Permission {
    /// See the list of patients and their demographics (name, contact data).
    PatientRead,
    /// Register patients and change their demographics.
    PatientWrite,
    /// Read a patient's health data (messages, consultation notes, results). Needs a care
    /// relationship or emergency access.
    HealthRead,
    /// Write a patient's health data. Needs a care relationship or emergency access.
    HealthWrite,
    /// Establish and end care relationships.
    CareManage,
    /// Take emergency access to a patient's health data (with a reason).
    EmergencyAccess,
    /// Plan and manage consultations.
    ConsultationManage,
    /// Join consultations one is invited to.
    ConsultationJoin,
    /// Manage personnel records and employment.
    PersonnelManage,
    /// Issue enrolment links and list or revoke another person's passkeys: the credential path
    /// to a person's account (VC-DEV-2). Kept apart from [`Permission::PersonnelManage`] so it
    /// can need a stronger login (by default *substantial*): a weak login that may administer
    /// must never open a way into an account with patient access (PC-ACL-1).
    CredentialsManage,
    /// Grant and revoke roles.
    GrantsManage,
    /// Review and attest granted rights; review emergency accesses.
    RightsReview,
    /// Search the organisation's audit log (opaque ids and codes, no health data).
    AuditRead,
    /// Act as an integration (system user).
    Integrate,
    /// Keep the organisation's compliance evidence (issue #15): the compliance report, the
    /// incident register, the retention policy and the routine checklist.
    ComplianceManage,
    /// Work the snooping case queue (issue #16): a log-control role of the organisation's own
    /// (no built-in role has it: managers see only what a case shows them).
    LogControl,
}

impl Permission {
    /// Every permission.
    pub const ALL: [Permission; 16] = [
        Self::PatientRead,
        Self::PatientWrite,
        Self::HealthRead,
        Self::HealthWrite,
        Self::CareManage,
        Self::EmergencyAccess,
        Self::ConsultationManage,
        Self::ConsultationJoin,
        Self::PersonnelManage,
        Self::CredentialsManage,
        Self::GrantsManage,
        Self::RightsReview,
        Self::AuditRead,
        Self::Integrate,
        Self::ComplianceManage,
        Self::LogControl,
    ];

    /// Whether this permission reaches a patient's health data and so needs a care relationship
    /// or emergency access.
    pub fn is_health(self) -> bool {
        matches!(self, Self::HealthRead | Self::HealthWrite)
    }

    /// Whether this permission reaches patients' data (demographics or health), and so needs a
    /// session of at least substantial assurance (VC-AUTH-3, PC-AUTHN-1): a login that proves
    /// less (the demo's developer login) may administer, but never see a patient.
    pub fn is_patient_data(self) -> bool {
        matches!(
            self,
            Self::PatientRead
                | Self::PatientWrite
                | Self::HealthRead
                | Self::HealthWrite
                | Self::CareManage
                | Self::EmergencyAccess
                | Self::ConsultationManage
        )
    }

    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PatientRead => "patient-read",
            Self::PatientWrite => "patient-write",
            Self::HealthRead => "health-read",
            Self::HealthWrite => "health-write",
            Self::CareManage => "care-manage",
            Self::EmergencyAccess => "emergency-access",
            Self::ConsultationManage => "consultation-manage",
            Self::ConsultationJoin => "consultation-join",
            Self::PersonnelManage => "personnel-manage",
            Self::CredentialsManage => "credentials-manage",
            Self::GrantsManage => "grants-manage",
            Self::RightsReview => "rights-review",
            Self::AuditRead => "audit-read",
            Self::Integrate => "integrate",
            Self::ComplianceManage => "compliance-manage",
            Self::LogControl => "log-control",
        }
    }

    /// Parses the stable name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// The permissions of a built-in role (PC-ACL-2: different personnel types, different roles).
pub fn builtin_permissions(role: BuiltinRole) -> &'static [Permission] {
    use Permission::*;
    match role {
        BuiltinRole::Doctor | BuiltinRole::Psychologist => &[
            PatientRead,
            PatientWrite,
            HealthRead,
            HealthWrite,
            CareManage,
            EmergencyAccess,
            ConsultationManage,
            ConsultationJoin,
        ],
        BuiltinRole::Nurse => &[
            PatientRead,
            PatientWrite,
            HealthRead,
            HealthWrite,
            CareManage,
            EmergencyAccess,
            ConsultationManage,
            ConsultationJoin,
        ],
        BuiltinRole::Physiotherapist => &[
            PatientRead,
            HealthRead,
            HealthWrite,
            ConsultationManage,
            ConsultationJoin,
        ],
        BuiltinRole::Secretary => &[PatientRead, PatientWrite, CareManage, ConsultationManage],
        BuiltinRole::Interpreter => &[ConsultationJoin],
        BuiltinRole::OrgAdmin => &[
            PersonnelManage,
            CredentialsManage,
            GrantsManage,
            RightsReview,
            AuditRead,
            ComplianceManage,
        ],
        BuiltinRole::System => &[Integrate, PatientRead],
    }
}

/// A role: a name and its permissions. Built-in roles use their stable names.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Role {
    /// The role's name (`doctor`, or a tenant-defined name).
    pub name: String,
    /// What it allows.
    pub permissions: BTreeSet<Permission>,
}

impl Role {
    /// A built-in role.
    pub fn builtin(role: BuiltinRole) -> Self {
        Self {
            name: role.as_str().to_owned(),
            permissions: builtin_permissions(role).iter().copied().collect(),
        }
    }
}

/// A time as Unix seconds; the store converts.
pub type Instant = i64;

/// A role granted to a person for a time (routine: time-limited authorisations).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// Grant id.
    pub id: Uuid,
    /// The role's permissions, resolved.
    pub role: Role,
    /// From when.
    pub valid_from: Instant,
    /// Until when (exclusive), if limited.
    pub valid_to: Option<Instant>,
    /// When revoked, if it was.
    pub revoked_at: Option<Instant>,
}

/// Whether a grant with these times is in force at `now`: started, not past `valid_to`, not
/// revoked. The one definition, for decisions and for reports.
pub fn in_force(
    valid_from: Instant,
    valid_to: Option<Instant>,
    revoked_at: Option<Instant>,
    now: Instant,
) -> bool {
    valid_from <= now && valid_to.is_none_or(|t| now < t) && revoked_at.is_none_or(|t| now < t)
}

impl Grant {
    /// Whether the grant is in force at `now`.
    pub fn live(&self, now: Instant) -> bool {
        in_force(self.valid_from, self.valid_to, self.revoked_at, now)
    }
}

/// A care relationship (tjenstlig behov): a person's need to know one patient's health data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CareRelationship {
    /// Id, named as the basis of each access.
    pub id: Uuid,
    /// The patient.
    pub patient: Uuid,
    /// From when.
    pub valid_from: Instant,
    /// Until when (exclusive). Care relationships always expire.
    pub valid_to: Instant,
    /// When ended early, if it was.
    pub ended_at: Option<Instant>,
}

impl CareRelationship {
    /// Whether it is in force at `now`.
    pub fn live(&self, now: Instant) -> bool {
        self.valid_from <= now && now < self.valid_to && self.ended_at.is_none_or(|t| now < t)
    }
}

/// Emergency access ("blålys"): access without a care relationship, with a mandatory reason,
/// for a short time, flagged for review and shown to the patient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmergencyAccess {
    /// Id, named as the basis of each access.
    pub id: Uuid,
    /// The patient.
    pub patient: Uuid,
    /// When taken.
    pub at: Instant,
    /// Until when (exclusive).
    pub expires_at: Instant,
}

/// What the decision knows about the person acting.
#[derive(Debug, Clone, Default)]
pub struct Subject {
    /// When employment ends or ended, if set.
    pub employment_end: Option<Instant>,
    /// Every grant, live or not.
    pub grants: Vec<Grant>,
    /// Every care relationship, live or not.
    pub care: Vec<CareRelationship>,
    /// Every emergency access, live or not.
    pub emergency: Vec<EmergencyAccess>,
}

/// The basis an allowed access rests on; it goes into the audit entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessBasis {
    /// A role that needs no patient relationship (administration, booking).
    Role,
    /// A care relationship (by id).
    CareRelationship(Uuid),
    /// Emergency access (by id).
    Emergency(Uuid),
}

/// Why an access was denied; logged as a security event, not shown in detail to the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// Employment has ended.
    #[error("employment has ended")]
    EmploymentEnded,
    /// No live grant gives the permission.
    #[error("no live grant gives this permission")]
    NoPermission,
    /// Health data needs a care relationship or emergency access, and there is none.
    #[error("no care relationship or emergency access for this patient")]
    NoNeedToKnow,
    /// A health permission was asked for without naming the patient.
    #[error("a health permission is always about one patient")]
    NoPatient,
}

/// The decision: allowed on a basis, or denied with a reason.
pub fn decide(
    subject: &Subject,
    permission: Permission,
    patient: Option<Uuid>,
    now: Instant,
) -> Result<AccessBasis, Denied> {
    if subject.employment_end.is_some_and(|end| end <= now) {
        return Err(Denied::EmploymentEnded);
    }
    let has = subject
        .grants
        .iter()
        .any(|g| g.live(now) && g.role.permissions.contains(&permission));
    if !has {
        return Err(Denied::NoPermission);
    }
    if !permission.is_health() {
        return Ok(AccessBasis::Role);
    }
    let patient = patient.ok_or(Denied::NoPatient)?;
    if let Some(c) = subject
        .care
        .iter()
        .find(|c| c.patient == patient && c.live(now))
    {
        return Ok(AccessBasis::CareRelationship(c.id));
    }
    if let Some(e) = subject
        .emergency
        .iter()
        .find(|e| e.patient == patient && e.at <= now && now < e.expires_at)
    {
        return Ok(AccessBasis::Emergency(e.id));
    }
    Err(Denied::NoNeedToKnow)
}

/// The permissions a subject holds at `now` (for the rights review and the UI).
pub fn permissions_at(subject: &Subject, now: Instant) -> BTreeSet<Permission> {
    if subject.employment_end.is_some_and(|end| end <= now) {
        return BTreeSet::new();
    }
    subject
        .grants
        .iter()
        .filter(|g| g.live(now))
        .flat_map(|g| g.role.permissions.iter().copied())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Instant = 1_800_000_000;

    fn grant(role: BuiltinRole, from: Instant, to: Option<Instant>) -> Grant {
        Grant {
            id: Uuid::new_v4(),
            role: Role::builtin(role),
            valid_from: from,
            valid_to: to,
            revoked_at: None,
        }
    }

    fn doctor() -> Subject {
        Subject {
            grants: vec![grant(BuiltinRole::Doctor, T - 100, Some(T + 100))],
            ..Default::default()
        }
    }

    #[test]
    fn grants_work_only_inside_their_time_limits() {
        let s = doctor();
        assert_eq!(
            decide(&s, Permission::PatientRead, None, T),
            Ok(AccessBasis::Role)
        );
        assert_eq!(
            decide(&s, Permission::PatientRead, None, T + 100),
            Err(Denied::NoPermission),
            "expired at valid_to exactly"
        );
        assert_eq!(
            decide(&s, Permission::PatientRead, None, T - 101),
            Err(Denied::NoPermission),
            "not yet valid"
        );
    }

    #[test]
    fn revocation_and_end_of_employment_stop_everything_at_once() {
        let mut s = doctor();
        s.grants[0].revoked_at = Some(T);
        assert_eq!(
            decide(&s, Permission::PatientRead, None, T),
            Err(Denied::NoPermission)
        );
        let mut s = doctor();
        s.employment_end = Some(T);
        assert_eq!(
            decide(&s, Permission::PatientRead, None, T),
            Err(Denied::EmploymentEnded)
        );
        assert!(permissions_at(&s, T).is_empty());
        assert!(!permissions_at(&s, T - 1).is_empty());
    }

    #[test]
    fn health_data_needs_a_live_care_relationship_or_emergency_access() {
        let patient = Uuid::new_v4();
        let other = Uuid::new_v4();
        let mut s = doctor();
        assert_eq!(
            decide(&s, Permission::HealthRead, Some(patient), T),
            Err(Denied::NoNeedToKnow)
        );
        assert_eq!(
            decide(&s, Permission::HealthRead, None, T),
            Err(Denied::NoPatient)
        );
        let care = CareRelationship {
            id: Uuid::new_v4(),
            patient,
            valid_from: T - 10,
            valid_to: T + 10,
            ended_at: None,
        };
        s.care.push(care.clone());
        assert_eq!(
            decide(&s, Permission::HealthRead, Some(patient), T),
            Ok(AccessBasis::CareRelationship(care.id))
        );
        assert_eq!(
            decide(&s, Permission::HealthRead, Some(other), T),
            Err(Denied::NoNeedToKnow),
            "a relationship with one patient gives nothing about another"
        );
        assert_eq!(
            decide(&s, Permission::HealthRead, Some(patient), T + 10),
            Err(Denied::NoNeedToKnow),
            "care relationships expire"
        );
        s.care[0].ended_at = Some(T - 1);
        assert_eq!(
            decide(&s, Permission::HealthRead, Some(patient), T),
            Err(Denied::NoNeedToKnow)
        );
        let e = EmergencyAccess {
            id: Uuid::new_v4(),
            patient,
            at: T - 5,
            expires_at: T + 5,
        };
        s.emergency.push(e.clone());
        assert_eq!(
            decide(&s, Permission::HealthRead, Some(patient), T),
            Ok(AccessBasis::Emergency(e.id))
        );
        assert_eq!(
            decide(&s, Permission::HealthRead, Some(patient), T + 5),
            Err(Denied::NoNeedToKnow)
        );
    }

    #[test]
    fn administrators_and_interpreters_see_no_health_data() {
        for role in [
            BuiltinRole::OrgAdmin,
            BuiltinRole::Interpreter,
            BuiltinRole::Secretary,
        ] {
            let patient = Uuid::new_v4();
            let s = Subject {
                grants: vec![grant(role, T - 1, None)],
                care: vec![CareRelationship {
                    id: Uuid::new_v4(),
                    patient,
                    valid_from: T - 1,
                    valid_to: T + 1,
                    ended_at: None,
                }],
                ..Default::default()
            };
            assert_eq!(
                decide(&s, Permission::HealthRead, Some(patient), T),
                Err(Denied::NoPermission),
                "{role:?}"
            );
        }
        let admin = Subject {
            grants: vec![grant(BuiltinRole::OrgAdmin, T - 1, None)],
            ..Default::default()
        };
        assert_eq!(
            decide(&admin, Permission::PatientRead, None, T),
            Err(Denied::NoPermission)
        );
        assert_eq!(
            decide(&admin, Permission::GrantsManage, None, T),
            Ok(AccessBasis::Role)
        );
    }

    #[test]
    fn different_personnel_types_have_different_permissions() {
        let sets: BTreeSet<Vec<Permission>> = [
            BuiltinRole::Doctor,
            BuiltinRole::Physiotherapist,
            BuiltinRole::Secretary,
            BuiltinRole::Interpreter,
            BuiltinRole::OrgAdmin,
            BuiltinRole::System,
        ]
        .into_iter()
        .map(|r| builtin_permissions(r).to_vec())
        .collect();
        assert_eq!(sets.len(), 6, "PC-ACL-2: the role sets differ");
        for p in Permission::ALL {
            assert_eq!(Permission::parse(p.as_str()), Some(p));
        }
    }
}
