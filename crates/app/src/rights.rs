//! Managing who may do what (PC-ACL-1, PC-ACL-2): personnel, role grants with time limits, end of
//! employment, care relationships, emergency access, the rights review, audit search, the
//! organisation's minimum assurance per permission (PC-AUTHN-3), and the patient's access log
//! (PC-RIGHTS-1). Every handler authorises with [`crate::access::authorize`] and appends its audit
//! entry in the same transaction.
//!
//! **Self-declared care relationships** (finding 3). A care relationship a person creates for
//! *themselves* is not refused, because a clinician meeting a new patient needs one at once, but
//! it is treated like emergency access: it lasts at most the emergency maximum
//! ([`trygg_store::access::EMERGENCY_SECONDS`], four hours) whatever `days` asked for, it is
//! flagged in the rights review (`self_declared_unattested`) until an attestation covers it, and
//! the patient's access log shows it (and every access resting on it) as self-declared. A care
//! relationship created for someone else by a person with `care-manage` is unchanged.
//!
//! **End of employment** (finding 1). An end at or before now ends the person's sessions and
//! revokes their open enrolment links at once; a future end only sets the date, and login,
//! session lookup and link use are refused from that moment.

use std::collections::HashMap;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use trygg_audit::{Action, Basis, Category, Outcome};
use trygg_core::access::{permissions_at, Permission};
use trygg_core::{BuiltinRole, EmailAddress, Employment, Operation, PersonName};
use uuid::Uuid;

use crate::access::{audit_commit, authorize, org_for, Caller};
use crate::audit::Did;
use crate::context::App;
use crate::error::AppError;
use trygg_core::Lang;

fn ts(t: i64) -> String {
    OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| d.format(&Rfc3339).ok())
        .unwrap_or_default()
}

fn parse_ts(code: &'static str, s: &str) -> Result<i64, AppError> {
    OffsetDateTime::parse(s, &Rfc3339)
        .map(|d| d.unix_timestamp())
        .map_err(|_| AppError::invalid(code, "times are RFC 3339, e.g. 2026-11-23T14:00:00Z"))
}

fn parse_id(s: &str, what: &'static str) -> Result<Uuid, AppError> {
    Uuid::parse_str(s).map_err(|_| AppError::not_found("TR-Q404", what))
}

fn did(
    category: Category,
    operation: Operation,
    action: Action,
    entity: (&'static str, Option<String>),
    patient: Option<Uuid>,
    basis: Basis,
) -> Did {
    Did {
        category,
        operation,
        action,
        outcome: Outcome::Success,
        entity,
        patient,
        basis,
        detail: None,
    }
}

/// A person on the staff, as administrators see them.
#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct PersonnelOut {
    /// Id.
    pub id: Uuid,
    /// Full name.
    pub name: String,
    /// Role given at registration.
    pub role: String,
    /// Employment relation.
    pub employment: String,
}

/// A new person on the staff.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PersonnelIn {
    /// Full name.
    pub name: String,
    /// Work e-mail.
    pub email: Option<String>,
    /// A built-in role (`doctor`, `nurse`, `psychologist`, `physiotherapist`, `secretary`,
    /// `interpreter`, `org-admin`, `system`).
    pub role: String,
    /// `employee`, `locum`, `student` or `contractor`.
    pub employment: String,
}

/// Lists the organisation's personnel.
pub async fn list_personnel(
    state: &App,
    caller: &Caller,
    org: &str,
    now: OffsetDateTime,
) -> Result<Vec<PersonnelOut>, AppError> {
    let org = org_for(state, caller, org, now).await?;
    let (mut tx, ok) = authorize(&org, caller, Permission::PersonnelManage, None, now).await?;
    let list = tx.list_personnel().await?;
    let d = did(
        Category::Administration,
        Operation::PersonnelList,
        Action::Read,
        ("Practitioner", None),
        None,
        ok.basis,
    );
    audit_commit(tx, &org, &ok.actor, d, now).await?;
    Ok(list
        .into_iter()
        .map(|p| PersonnelOut {
            id: p.id,
            name: p.name.expose().to_owned(),
            role: p.role.as_str().to_owned(),
            employment: p.employment.as_str().to_owned(),
        })
        .collect())
}

/// Registers a person on the staff, with their first role grant.
pub async fn create_personnel(
    state: &App,
    caller: &Caller,
    org: &str,
    input: PersonnelIn,
    now: OffsetDateTime,
) -> Result<PersonnelOut, AppError> {
    let org = org_for(state, caller, org, now).await?;
    let new = trygg_store::NewPersonnel {
        name: PersonName::parse(&input.name)
            .map_err(|e| AppError::invalid("TR-Q001", e.to_string()))?,
        email: input
            .email
            .as_deref()
            .map(EmailAddress::parse)
            .transpose()
            .map_err(|e| AppError::invalid("TR-Q002", e.to_string()))?,
        role: BuiltinRole::parse(&input.role)
            .ok_or_else(|| AppError::invalid("TR-Q003", "unknown role"))?,
        employment: Employment::parse(&input.employment)
            .ok_or_else(|| AppError::invalid("TR-Q004", "unknown employment relation"))?,
    };
    let (mut tx, ok) = authorize(&org, caller, Permission::PersonnelManage, None, now).await?;
    let p = tx.create_personnel(&new, now).await?;
    audit_commit(
        tx,
        &org,
        &ok.actor,
        did(
            Category::Authorisation,
            Operation::PersonnelCreate,
            Action::Create,
            ("Practitioner", Some(p.id.to_string())),
            None,
            ok.basis,
        ),
        now,
    )
    .await?;
    Ok(PersonnelOut {
        id: p.id,
        name: p.name.expose().to_owned(),
        role: p.role.as_str().to_owned(),
        employment: p.employment.as_str().to_owned(),
    })
}

/// When employment ends.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmploymentEndIn {
    /// RFC 3339; now when left out.
    pub at: Option<String>,
}

/// Ends a person's employment: every access stops at that time (guide risk scenario 16). Refused
/// for one's own record (`TR-Q701`) and once the person's end has passed (`TR-Q702`).
pub async fn end_employment(
    state: &App,
    caller: &Caller,
    org: &str,
    id: &str,
    input: EmploymentEndIn,
    now: OffsetDateTime,
) -> Result<(), AppError> {
    let org = org_for(state, caller, org, now).await?;
    let id = parse_id(id, "no such person")?;
    let at = match &input.at {
        Some(s) => parse_ts("TR-Q005", s)?,
        None => now.unix_timestamp(),
    };
    let (mut tx, ok) = authorize(&org, caller, Permission::PersonnelManage, None, now).await?;
    // Nobody changes their own employment (an administrator could otherwise outlive their own
    // end), and an end that has passed is final: a returning person is registered anew, so a
    // leaver's old passkeys and grants never come back to life.
    let refusal = match tx.employment_end(id).await? {
        None => return Err(AppError::not_found("TR-Q404", "no such person")),
        Some(_) if id == caller.personnel_id => Some(AppError::forbidden(
            "TR-Q701",
            "nobody may change their own employment",
        )),
        Some(Some(end)) if end <= now.unix_timestamp() => Some(AppError::conflict(
            "TR-Q702",
            "this person's employment has ended; a returning person is registered anew",
        )),
        Some(_) => None,
    };
    if let Some(e) = refusal {
        let mut d = did(
            Category::Security(trygg_audit::SecurityKind::AccessDenied),
            Operation::PersonnelEmploymentEnd,
            Action::Update,
            ("Practitioner", Some(id.to_string())),
            None,
            ok.basis,
        );
        d.outcome = Outcome::Denied;
        audit_commit(tx, &org, &ok.actor, d, now).await?;
        return Err(e);
    }
    tx.set_employment_end(id, at, now).await?;
    audit_commit(
        tx,
        &org,
        &ok.actor,
        did(
            Category::Authorisation,
            Operation::PersonnelEmploymentEnd,
            Action::Update,
            ("Practitioner", Some(id.to_string())),
            None,
            ok.basis,
        ),
        now,
    )
    .await?;
    Ok(())
}

/// A grant record.
#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct GrantOut {
    /// Id.
    pub id: Uuid,
    /// Holder.
    pub personnel_id: Uuid,
    /// Role.
    pub role: String,
    /// From (RFC 3339).
    pub valid_from: String,
    /// Until (RFC 3339), if limited.
    pub valid_to: Option<String>,
    /// Who granted it.
    pub granted_by: String,
    /// When granted.
    pub granted_at: String,
    /// When revoked.
    pub revoked_at: Option<String>,
    /// Why revoked.
    pub revoke_reason: Option<String>,
    /// Whether it is in force now.
    pub live: bool,
}

fn grant_out(g: &trygg_store::access::GrantRecord, now: i64) -> GrantOut {
    GrantOut {
        id: g.id,
        personnel_id: g.personnel_id,
        role: g.role.clone(),
        valid_from: ts(g.valid_from),
        valid_to: g.valid_to.map(ts),
        granted_by: g.granted_by.clone(),
        granted_at: ts(g.granted_at),
        revoked_at: g.revoked_at.map(ts),
        revoke_reason: g.revoke_reason.clone(),
        live: trygg_core::access::in_force(g.valid_from, g.valid_to, g.revoked_at, now),
    }
}

/// A person's grants, newest first.
pub async fn list_grants(
    state: &App,
    caller: &Caller,
    org: &str,
    id: &str,
    now: OffsetDateTime,
) -> Result<Vec<GrantOut>, AppError> {
    let org = org_for(state, caller, org, now).await?;
    let id = parse_id(id, "no such person")?;
    let (mut tx, ok) = authorize(&org, caller, Permission::GrantsManage, None, now).await?;
    if !tx.personnel_exists(id).await? {
        return Err(AppError::not_found("TR-Q404", "no such person"));
    }
    let list = tx.grants_of(id).await?;
    audit_commit(
        tx,
        &org,
        &ok.actor,
        did(
            Category::Authorisation,
            Operation::GrantsRead,
            Action::Read,
            ("Practitioner", Some(id.to_string())),
            None,
            ok.basis,
        ),
        now,
    )
    .await?;
    Ok(list
        .iter()
        .map(|g| grant_out(g, now.unix_timestamp()))
        .collect())
}

/// A new grant.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantIn {
    /// Who gets it.
    pub personnel_id: Uuid,
    /// The role.
    pub role: String,
    /// From (RFC 3339); now when left out.
    pub valid_from: Option<String>,
    /// Until (RFC 3339); open-ended when left out.
    pub valid_to: Option<String>,
}

/// Grants a role for a time.
pub async fn create_grant(
    state: &App,
    caller: &Caller,
    org: &str,
    input: GrantIn,
    now: OffsetDateTime,
) -> Result<GrantOut, AppError> {
    let org = org_for(state, caller, org, now).await?;
    let t = now.unix_timestamp();
    let from = input
        .valid_from
        .as_deref()
        .map(|s| parse_ts("TR-Q006", s))
        .transpose()?
        .unwrap_or(t);
    let to = input
        .valid_to
        .as_deref()
        .map(|s| parse_ts("TR-Q007", s))
        .transpose()?;
    let (mut tx, ok) = authorize(&org, caller, Permission::GrantsManage, None, now).await?;
    let g = tx
        .grant_role(input.personnel_id, &input.role, from, to, &ok.actor.id, t)
        .await?;
    audit_commit(
        tx,
        &org,
        &ok.actor,
        did(
            Category::Authorisation,
            Operation::GrantCreate,
            Action::Create,
            ("PractitionerRole", Some(g.id.to_string())),
            None,
            ok.basis,
        ),
        now,
    )
    .await?;
    Ok(grant_out(&g, t))
}

/// Why a grant is revoked.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeIn {
    /// A short reason code, e.g. `left-team`, `review`, `mistake`.
    pub reason: String,
}

/// Revokes a grant; it stops working at once and stays in the register.
pub async fn revoke_grant(
    state: &App,
    caller: &Caller,
    org: &str,
    id: &str,
    input: RevokeIn,
    now: OffsetDateTime,
) -> Result<GrantOut, AppError> {
    let org = org_for(state, caller, org, now).await?;
    let id = parse_id(id, "no such grant")?;
    let reason = reason_code(&input.reason)?;
    let (mut tx, ok) = authorize(&org, caller, Permission::GrantsManage, None, now).await?;
    let g = tx
        .revoke_grant(id, &ok.actor.id, &reason, now.unix_timestamp())
        .await?;
    audit_commit(
        tx,
        &org,
        &ok.actor,
        did(
            Category::Authorisation,
            Operation::GrantRevoke,
            Action::Update,
            ("PractitionerRole", Some(g.id.to_string())),
            None,
            ok.basis,
        ),
        now,
    )
    .await?;
    Ok(grant_out(&g, now.unix_timestamp()))
}

/// Reason codes are short and plain so no free text (and no personal data) enters the register.
fn reason_code(s: &str) -> Result<String, AppError> {
    let ok = !s.is_empty()
        && s.len() <= 40
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(s.to_owned())
    } else {
        Err(AppError::invalid(
            "TR-Q008",
            "a reason is a short code of a-z, 0-9 and '-', e.g. left-team",
        ))
    }
}

/// One person in the rights review.
#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ReviewPerson {
    /// The person.
    pub personnel: PersonnelOut,
    /// Every grant record.
    pub grants: Vec<GrantOut>,
    /// The permissions in force now.
    pub permissions_now: Vec<String>,
    /// When employment ends or ended.
    pub employment_end: Option<String>,
    /// How many care relationships are in force now (a count only: which patients is health
    /// information, not for administrators), so the review can question a need to know.
    pub care_relationships_live: usize,
}

/// An emergency access flagged for review.
#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct EmergencyFlag {
    /// Id.
    pub id: Uuid,
    /// Who took it.
    pub personnel_id: Uuid,
    /// About which patient.
    pub patient_id: Uuid,
    /// When (RFC 3339).
    pub at: String,
}

/// The rights review report.
#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ReviewReport {
    /// When generated.
    pub generated_at: String,
    /// Every person with their grants.
    pub people: Vec<ReviewPerson>,
    /// Earlier reviews, newest first.
    pub reviews: Vec<ReviewOut>,
    /// Emergency accesses not yet reviewed (who, when, which patient; the reason stays with
    /// clinical review). The next attestation marks them reviewed.
    pub emergency_unreviewed: Vec<EmergencyFlag>,
    /// Care relationships people declared for themselves, not yet attested (finding 3). The next
    /// attestation covers them.
    pub self_declared_unattested: Vec<EmergencyFlag>,
}

/// A recorded review.
#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ReviewOut {
    /// Id.
    pub id: Uuid,
    /// Who reviewed.
    pub reviewer_id: Uuid,
    /// When.
    pub reviewed_at: String,
    /// `approved` or `changes-needed`.
    pub result: String,
    /// Grant records shown.
    pub grants_seen: i64,
}

fn review_out(r: trygg_store::access::RightsReview) -> ReviewOut {
    ReviewOut {
        id: r.id,
        reviewer_id: r.reviewer_id,
        reviewed_at: ts(r.reviewed_at),
        result: r.result,
        grants_seen: r.grants_seen,
    }
}

/// The report for the periodic control of granted rights (routine "periodisk kontroll").
pub async fn rights_review(
    state: &App,
    caller: &Caller,
    org: &str,
    now: OffsetDateTime,
) -> Result<ReviewReport, AppError> {
    let org = org_for(state, caller, org, now).await?;
    let (mut tx, ok) = authorize(&org, caller, Permission::RightsReview, None, now).await?;
    let t = now.unix_timestamp();
    let mut people = Vec::new();
    for p in tx.list_personnel().await? {
        let grants = tx.grants_of(p.id).await?;
        let subject = tx.subject(p.id).await?.unwrap_or_default();
        people.push(ReviewPerson {
            grants: grants.iter().map(|g| grant_out(g, t)).collect(),
            permissions_now: permissions_at(&subject, t)
                .iter()
                .map(|p| p.as_str().to_owned())
                .collect(),
            employment_end: subject.employment_end.map(ts),
            care_relationships_live: subject.care.iter().filter(|c| c.live(t)).count(),
            personnel: PersonnelOut {
                id: p.id,
                name: p.name.expose().to_owned(),
                role: p.role.as_str().to_owned(),
                employment: p.employment.as_str().to_owned(),
            },
        });
    }
    let emergency_unreviewed = tx
        .unreviewed_emergency_accesses()
        .await?
        .into_iter()
        .map(|e| EmergencyFlag {
            id: e.id,
            personnel_id: e.personnel_id,
            patient_id: e.patient_id,
            at: ts(e.at),
        })
        .collect();
    let self_declared_unattested = tx
        .unattested_self_declared()
        .await?
        .into_iter()
        .map(|c| EmergencyFlag {
            id: c.id,
            personnel_id: c.personnel_id,
            patient_id: c.patient_id,
            at: ts(c.created_at),
        })
        .collect();
    let reviews = tx
        .rights_reviews()
        .await?
        .into_iter()
        .map(review_out)
        .collect();
    audit_commit(
        tx,
        &org,
        &ok.actor,
        did(
            Category::Authorisation,
            Operation::RightsReviewRead,
            Action::Read,
            ("PractitionerRole", None),
            None,
            ok.basis,
        ),
        now,
    )
    .await?;
    Ok(ReviewReport {
        generated_at: ts(t),
        people,
        reviews,
        emergency_unreviewed,
        self_declared_unattested,
    })
}

/// An attestation.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewIn {
    /// `approved` or `changes-needed`.
    pub result: String,
    /// The `generated_at` of the report the reviewer read (RFC 3339): the attestation covers the
    /// flagged emergency accesses and self-declared care relationships that existed then, not
    /// ones that appeared while the reviewer was reading.
    pub report_generated_at: String,
}

/// Records that the rights were reviewed: who, when, result. The attestation closes the flags the
/// reviewed report showed (emergency accesses, self-declared care relationships up to its
/// `generated_at`), except the reviewer's own, which another reviewer must close; anything newer
/// stays flagged for the next review.
pub async fn attest_review(
    state: &App,
    caller: &Caller,
    org: &str,
    input: ReviewIn,
    now: OffsetDateTime,
) -> Result<ReviewOut, AppError> {
    let org = org_for(state, caller, org, now).await?;
    // What the reviewer saw: never later than now.
    let seen_at = parse_ts("TR-Q703", &input.report_generated_at)?.min(now.unix_timestamp());
    let (mut tx, ok) = authorize(&org, caller, Permission::RightsReview, None, now).await?;
    let seen = i64::try_from(tx.all_grants().await?.len()).unwrap_or(i64::MAX);
    let r = tx
        .record_rights_review(
            caller.personnel_id,
            &input.result,
            seen,
            now.unix_timestamp(),
        )
        .await?;
    let flagged: Vec<Uuid> = tx
        .unreviewed_emergency_accesses()
        .await?
        .iter()
        .filter(|e| e.at <= seen_at && e.personnel_id != caller.personnel_id)
        .map(|e| e.id)
        .collect();
    tx.mark_emergency_reviewed(
        &flagged,
        caller.personnel_id,
        &r.result,
        now.unix_timestamp(),
    )
    .await?;
    let declared: Vec<Uuid> = tx
        .unattested_self_declared()
        .await?
        .iter()
        .filter(|c| c.created_at <= seen_at && c.personnel_id != caller.personnel_id)
        .map(|c| c.id)
        .collect();
    tx.attest_self_declared(&declared, now.unix_timestamp())
        .await?;
    audit_commit(
        tx,
        &org,
        &ok.actor,
        did(
            Category::Authorisation,
            Operation::RightsReviewAttest,
            Action::Create,
            ("PractitionerRole", Some(r.id.to_string())),
            None,
            ok.basis,
        ),
        now,
    )
    .await?;
    Ok(review_out(r))
}

/// A new care relationship.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CareIn {
    /// Who gets the need to know.
    pub personnel_id: Uuid,
    /// About which patient.
    pub patient_id: Uuid,
    /// Reason code, e.g. `fastlege`, `henvisning`, `hjemmetjeneste`, `konsultasjon`.
    pub reason: String,
    /// How many days it lasts (1 to 731).
    pub days: i64,
}

/// A care relationship.
#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct CareOut {
    /// Id.
    pub id: Uuid,
    /// The person.
    pub personnel_id: Uuid,
    /// The patient.
    pub patient_id: Uuid,
    /// Reason code.
    pub reason: String,
    /// From.
    pub valid_from: String,
    /// Until.
    pub valid_to: String,
    /// Ended early.
    pub ended_at: Option<String>,
    /// Declared by the person for themselves: short, flagged for review, shown to the patient.
    pub self_declared: bool,
}

fn care_out(c: trygg_store::access::CareRecord) -> CareOut {
    CareOut {
        id: c.id,
        personnel_id: c.personnel_id,
        patient_id: c.patient_id,
        reason: c.reason,
        valid_from: ts(c.valid_from),
        valid_to: ts(c.valid_to),
        ended_at: c.ended_at.map(ts),
        self_declared: c.self_declared,
    }
}

/// Establishes a care relationship (need to know), always with an end.
pub async fn create_care(
    state: &App,
    caller: &Caller,
    org: &str,
    input: CareIn,
    now: OffsetDateTime,
) -> Result<CareOut, AppError> {
    let org = org_for(state, caller, org, now).await?;
    let reason = reason_code(&input.reason)?;
    if !(1..=731).contains(&input.days) {
        return Err(AppError::invalid(
            "TR-Q009",
            "a care relationship lasts 1 to 731 days",
        ));
    }
    let (mut tx, ok) = authorize(&org, caller, Permission::CareManage, None, now).await?;
    let t = now.unix_timestamp();
    // Finding 3: a care relationship for oneself is treated like emergency access.
    let own = input.personnel_id == caller.personnel_id;
    let c = if own {
        tx.self_declare_care_relationship(input.personnel_id, input.patient_id, &reason, t)
            .await?
    } else {
        tx.create_care_relationship(
            input.personnel_id,
            input.patient_id,
            &reason,
            t,
            t + input.days * 86_400,
            &ok.actor.id,
            t,
        )
        .await?
    };
    if own {
        tracing::warn!(
            event = "self-declared-care",
            "self-declared care relationship; flagged for review"
        );
    }
    audit_commit(
        tx,
        &org,
        &ok.actor,
        did(
            Category::Authorisation,
            if own {
                Operation::CareSelfDeclare
            } else {
                Operation::CareCreate
            },
            Action::Create,
            ("CareTeam", Some(c.id.to_string())),
            Some(c.patient_id),
            ok.basis,
        ),
        now,
    )
    .await?;
    Ok(care_out(c))
}

/// Ends a care relationship now.
pub async fn end_care(
    state: &App,
    caller: &Caller,
    org: &str,
    id: &str,
    now: OffsetDateTime,
) -> Result<CareOut, AppError> {
    let org = org_for(state, caller, org, now).await?;
    let id = parse_id(id, "no such care relationship")?;
    let (mut tx, ok) = authorize(&org, caller, Permission::CareManage, None, now).await?;
    let c = tx.end_care_relationship(id, now.unix_timestamp()).await?;
    audit_commit(
        tx,
        &org,
        &ok.actor,
        did(
            Category::Authorisation,
            Operation::CareEnd,
            Action::Update,
            ("CareTeam", Some(c.id.to_string())),
            Some(c.patient_id),
            ok.basis,
        ),
        now,
    )
    .await?;
    Ok(care_out(c))
}

/// Why emergency access is taken.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmergencyIn {
    /// The reason, 10 to 1000 characters (kept encrypted; shown to reviewers).
    pub reason: String,
}

/// Emergency access granted.
#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct EmergencyOut {
    /// Id, the basis named in every access it covers.
    pub id: Uuid,
    /// Until when.
    pub expires_at: String,
}

/// Takes emergency access to a patient's health data: mandatory reason, four hours, flagged
/// for review, shown to the patient.
pub async fn emergency_access(
    state: &App,
    caller: &Caller,
    org: &str,
    id: &str,
    input: EmergencyIn,
    now: OffsetDateTime,
) -> Result<EmergencyOut, AppError> {
    let org = org_for(state, caller, org, now).await?;
    let patient = parse_id(id, "no such patient")?;
    let (mut tx, ok) = authorize(
        &org,
        caller,
        Permission::EmergencyAccess,
        Some(patient),
        now,
    )
    .await?;
    let t = now.unix_timestamp();
    let eid = tx
        .take_emergency_access(caller.personnel_id, patient, &input.reason, t)
        .await?;
    let mut d = did(
        Category::Authorisation,
        Operation::EmergencyAccessTake,
        Action::Create,
        ("Consent", Some(eid.to_string())),
        Some(patient),
        ok.basis,
    );
    d.basis = crate::access::basis_of(trygg_core::access::AccessBasis::Emergency(eid))?;
    audit_commit(tx, &org, &ok.actor, d, now).await?;
    tracing::warn!(
        event = "emergency-access",
        "emergency access taken; flagged for review"
    );
    Ok(EmergencyOut {
        id: eid,
        expires_at: ts(t + trygg_store::access::EMERGENCY_SECONDS),
    })
}

/// The `lang` query.
#[derive(Debug, Default, serde::Deserialize)]
pub struct LangQuery {
    lang: Option<String>,
}

/// One line of a patient's access log.
#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct AccessLogLine {
    /// When (RFC 3339).
    pub time: String,
    /// Who: the person's name, or a description of the system.
    pub who: String,
    /// Their role when they acted.
    pub role: Option<String>,
    /// What they did, in the patient's language.
    pub what: String,
    /// On what basis, in the patient's language.
    pub basis: String,
    /// Whether this was emergency access (always shown to the patient).
    pub emergency: bool,
    /// Whether it rests on a care relationship the person declared for themselves (finding 3).
    pub self_declared: bool,
    /// Whether log control found this person's access to the patient on that day unjustified
    /// (a snooping case decided as warned or confirmed, issue #16).
    pub unjustified: bool,
}

/// What the patient reads for an entry: the operation's own text (PC-RIGHTS-1); a code this
/// version does not know (from a newer release) reads as "another action".
fn describe(lang: Lang, operation: &str) -> String {
    match Operation::from_code(operation) {
        Some(op) => op.patient_text().get(lang),
        None => lang.pick("Annen handling", "Anna handling", "Other action"),
    }
    .to_owned()
}

fn describe_basis(lang: Lang, b: &Basis) -> String {
    let (nb, nn, en) = match b {
        Basis::CareRelationship { .. } => {
            ("Tjenstlig behov", "Tenestleg behov", "Care relationship")
        }
        Basis::Emergency { .. } => ("Nødtilgang", "Naudtilgang", "Emergency access"),
        Basis::Administration => ("Administrasjon", "Administrasjon", "Administration"),
        Basis::PatientSelf => ("Deg selv", "Deg sjølv", "Yourself"),
        Basis::System => ("Systemet", "Systemet", "The system"),
        _ => ("Uten grunnlag", "Utan grunnlag", "No basis"),
    };
    match lang {
        Lang::Nb => nb,
        Lang::Nn => nn,
        Lang::En => en,
    }
    .to_owned()
}

/// Who has accessed one patient's data, when, with what role and on what basis (PC-RIGHTS-1),
/// in the patient's language. For the patient portal; personnel with a care relationship can
/// read it to help the patient. Reading it is itself logged.
pub async fn access_log(
    state: &App,
    caller: &Caller,
    org: &str,
    id: &str,
    q: LangQuery,
    now: OffsetDateTime,
) -> Result<Vec<AccessLogLine>, AppError> {
    let lang = Lang::from_query(q.lang.as_deref());
    let org = org_for(state, caller, org, now).await?;
    let patient = parse_id(id, "no such patient")?;
    let (mut tx, ok) = authorize(&org, caller, Permission::HealthRead, Some(patient), now).await?;
    if !tx.patient_exists(patient).await? {
        return Err(AppError::not_found("TR-P404", "no such patient"));
    }
    let inputs = log_inputs(&mut tx, patient).await?;
    audit_commit(
        tx,
        &org,
        &ok.actor,
        did(
            Category::Access,
            Operation::AccessLogRead,
            Action::Read,
            ("AuditEvent", None),
            Some(patient),
            ok.basis,
        ),
        now,
    )
    .await?;
    log_lines(&org, patient, &inputs, lang).await
}

/// The patient's own access log in the portal (PC-RIGHTS-1, issue #13): the same lines as
/// [`access_log`], for the patient signed in at assurance *high* (it shows who handled their
/// health data). Reading it is logged, with the patient as the actor.
pub async fn own_access_log(
    state: &App,
    p: &crate::messages::PatientCaller,
    lang: Lang,
    now: OffsetDateTime,
) -> Result<Vec<AccessLogLine>, AppError> {
    if p.assurance < trygg_audit::Assurance::High {
        return Err(AppError::forbidden(
            "TR-T003",
            "the access log needs a login of assurance high (ID-porten)",
        ));
    }
    let org = crate::portal::org_handle(state, &p.org).await?;
    let mut tx = org.begin().await?;
    if !tx.patient_exists(p.patient).await? {
        return Err(AppError::not_found("TR-P404", "no such patient"));
    }
    let inputs = log_inputs(&mut tx, p.patient).await?;
    let e = crate::audit::event(
        &p.org,
        &p.actor(),
        did(
            Category::Access,
            Operation::AccessLogRead,
            Action::Read,
            ("AuditEvent", None),
            Some(p.patient),
            Basis::PatientSelf,
        ),
        now,
    )?;
    tx.audit(&e).await?;
    tx.commit().await?;
    log_lines(&org, p.patient, &inputs, lang).await
}

/// What naming and marking the access log's lines needs: the care relationships a person
/// declared for themselves (their ids), every staff member's name by actor id, and the unjustified
/// snooping cases about the patient.
pub(crate) async fn log_inputs(
    tx: &mut trygg_store::OrgTx<'_>,
    patient: Uuid,
) -> Result<LogInputs, AppError> {
    let declared: Vec<String> = tx
        .self_declared_care_ids(patient)
        .await?
        .iter()
        .map(Uuid::to_string)
        .collect();
    let names: HashMap<String, String> = tx
        .list_personnel()
        .await?
        .into_iter()
        .map(|p| (format!("personnel:{}", p.id), p.name.expose().to_owned()))
        .collect();
    let unjustified = tx
        .unjustified_snoop_cases_for(patient)
        .await?
        .into_iter()
        .map(|(actor, day)| (format!("personnel:{actor}"), day))
        .collect();
    Ok(LogInputs {
        declared,
        names,
        unjustified,
    })
}

/// What naming and marking the access log's lines needs.
pub(crate) struct LogInputs {
    /// The care relationships people declared for themselves (ids).
    pub declared: Vec<String>,
    /// Every staff member's name by actor id.
    pub names: HashMap<String, String>,
    /// (actor id, day) of accesses log control found unjustified (warned or confirmed).
    pub unjustified: Vec<(String, String)>,
}

/// The access log's lines for one patient, in `lang`.
pub(crate) async fn log_lines(
    org: &trygg_store::OrgStore,
    patient: Uuid,
    inputs: &LogInputs,
    lang: Lang,
) -> Result<Vec<AccessLogLine>, AppError> {
    let (declared, names) = (&inputs.declared, &inputs.names);
    let events = org.audit_events(Some(&patient.to_string())).await?;
    let lines = events
        .into_iter()
        .map(|(_, e)| {
            let agent_id = e
                .agent
                .id
                .as_ref()
                .map(|i| i.as_str().to_owned())
                .unwrap_or_default();
            // A consultation's participants from the patient register (issue #10): the patient
            // is "you"; another patient or a companion is named by role only, since their name
            // is their own data, not this patient's.
            let own = format!("patient:{patient}");
            let who = names.get(&agent_id).cloned().unwrap_or_else(|| {
                if agent_id == own {
                    lang.pick("Du", "Du", "You").to_owned()
                } else if agent_id.starts_with("patient:") {
                    lang.pick("En annen deltaker", "Ein annan deltakar", "Another participant")
                        .to_owned()
                } else {
                    lang.pick("Systemet", "Systemet", "The system").to_owned()
                }
            });
            let day = e
                .recorded
                .to_rfc3339()
                .unwrap_or_default()
                .chars()
                .take(10)
                .collect::<String>();
            // Only the accesses the detector could not explain: not those on a care
            // relationship or an emergency access with its reason.
            let unexplained = !matches!(
                e.basis,
                Basis::CareRelationship { .. } | Basis::Emergency { .. }
            );
            let unjustified = unexplained
                && inputs
                    .unjustified
                    .iter()
                    .any(|(a, d)| *a == agent_id && *d == day);
            AccessLogLine {
                unjustified,
                time: e.recorded.to_rfc3339().unwrap_or_default(),
                who,
                role: e.agent.role.as_ref().map(|r| r.as_str().to_owned()),
                what: describe(lang, e.operation.as_str()),
                basis: describe_basis(lang, &e.basis),
                emergency: matches!(e.basis, Basis::Emergency { .. }),
                self_declared: e.operation.as_str() == "care.self-declare"
                    || matches!(&e.basis, Basis::CareRelationship { id } if declared.iter().any(|d| d == id.as_str())),
            }
        })
        .collect();
    Ok(lines)
}

/// Audit search filters.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
pub struct AuditQuery {
    /// Only events about this patient.
    pub patient: Option<Uuid>,
    /// Only events by this actor id (e.g. `personnel:<id>`).
    pub actor: Option<String>,
    /// Only security events.
    pub security: Option<bool>,
    /// At most this many, newest first (default 200, at most 1000).
    pub limit: Option<usize>,
}

/// An audit entry as the search shows it (codes and opaque ids only).
#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct AuditLine {
    /// Sequence number in the log.
    pub seq: u64,
    /// When.
    pub time: String,
    /// Actor id.
    pub actor: Option<String>,
    /// Actor role.
    pub role: Option<String>,
    /// Operation code.
    pub operation: String,
    /// Outcome.
    pub outcome: String,
    /// Patient id, if any.
    pub patient: Option<String>,
    /// Whether it is a security event.
    pub security: bool,
}

/// Searches the organisation's audit log for control (section 4: searchable by the organisation).
pub async fn audit_search(
    state: &App,
    caller: &Caller,
    org: &str,
    q: AuditQuery,
    now: OffsetDateTime,
) -> Result<Vec<AuditLine>, AppError> {
    let org = org_for(state, caller, org, now).await?;
    let (tx, ok) = authorize(&org, caller, Permission::AuditRead, None, now).await?;
    audit_commit(
        tx,
        &org,
        &ok.actor,
        did(
            Category::Access,
            Operation::AuditSearch,
            Action::Read,
            ("AuditEvent", None),
            q.patient,
            ok.basis,
        ),
        now,
    )
    .await?;
    let pid = q.patient.map(|p| p.to_string());
    let limit = q.limit.unwrap_or(200).min(1000);
    let events = org.audit_events(pid.as_deref()).await?;
    let lines = events
        .into_iter()
        .rev()
        .filter(|(_, e)| {
            q.actor
                .as_deref()
                .is_none_or(|a| e.agent.id.as_ref().map(|i| i.as_str()) == Some(a))
                && q.security
                    .is_none_or(|s| s == matches!(e.category, Category::Security(_)))
        })
        .take(limit)
        .map(|(seq, e)| AuditLine {
            seq,
            time: e.recorded.to_rfc3339().unwrap_or_default(),
            actor: e.agent.id.as_ref().map(|i| i.as_str().to_owned()),
            role: e.agent.role.as_ref().map(|r| r.as_str().to_owned()),
            operation: e.operation.as_str().to_owned(),
            outcome: format!("{:?}", e.outcome).to_lowercase(),
            patient: e.patient.as_ref().map(|p| p.as_str().to_owned()),
            security: matches!(e.category, Category::Security(_)),
        })
        .collect();
    Ok(lines)
}

/// One permission's minimum login assurance in this organisation.
#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct AssuranceOut {
    /// The permission's stable name.
    pub permission: String,
    /// The minimum level: `low`, `substantial` or `high`.
    pub level: String,
    /// Whether it is the built-in default (else the organisation's own setting).
    pub default: bool,
}

/// The minimum login assurance of every permission (PC-AUTHN-3). Set with
/// `trygg org assurance --org <org> --permission <p> --level <level>`.
pub async fn assurance_settings(
    state: &App,
    caller: &Caller,
    org: &str,
    now: OffsetDateTime,
) -> Result<Vec<AssuranceOut>, AppError> {
    let org = org_for(state, caller, org, now).await?;
    let (mut tx, ok) = authorize(&org, caller, Permission::GrantsManage, None, now).await?;
    let table = crate::access::assurance_table(&mut tx).await?;
    audit_commit(
        tx,
        &org,
        &ok.actor,
        did(
            Category::Administration,
            Operation::AssuranceRead,
            Action::Read,
            ("setting", None),
            None,
            ok.basis,
        ),
        now,
    )
    .await?;
    Ok(table
        .into_iter()
        .map(|(p, a)| AssuranceOut {
            permission: p.as_str().to_owned(),
            level: a.code().to_owned(),
            default: a == crate::access::default_min_assurance(p),
        })
        .collect())
}
