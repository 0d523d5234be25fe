//! Patients of one organisation. The national identity number is checked (both control digits)
//! before anything is stored, and is returned only redacted.
//!
//! Registering a national identity number that is registered already answers 409, and since the
//! answer reveals that the person is a patient here, the probe is itself an access: it appends a
//! `patient.create-conflict` entry (outcome rejected, naming the existing patient) in the same
//! transaction before answering (finding 7, PC-VENDOR-3).

use time::OffsetDateTime;
use trygg_core::{EmailAddress, NationalId, Operation, PersonName, PhoneNumber};
use uuid::Uuid;

use trygg_audit::{Action, Basis, Category, Outcome};

use trygg_core::access::Permission;

use crate::access::{audit_commit, authorize, org_for, Caller};
use crate::audit::{event, Did};
use crate::context::App;
use crate::error::AppError;

/// The audit record of an access to one patient (PC-VENDOR-3).
fn did(operation: Operation, action: Action, patient: Uuid, basis: Basis) -> Did {
    Did {
        category: Category::Access,
        operation,
        action,
        outcome: Outcome::Success,
        entity: ("Patient", Some(patient.to_string())),
        patient: Some(patient),
        basis,
        detail: None,
    }
}

/// A new patient.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatientIn {
    /// Full name.
    pub name: String,
    /// National identity number: fødselsnummer, D-number, H-number or synthetic test number.
    pub national_id: String,
    /// Mobile number.
    pub phone: Option<String>,
    /// E-mail address.
    pub email: Option<String>,
}

/// A patient.
#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct PatientOut {
    /// Stable id.
    pub id: Uuid,
    /// Full name.
    pub name: String,
    /// The national identity number's birth-date part, the rest masked.
    pub national_id: String,
    /// Mobile number (E.164).
    pub phone: Option<String>,
    /// E-mail address.
    pub email: Option<String>,
}

impl From<trygg_store::Patient> for PatientOut {
    fn from(p: trygg_store::Patient) -> Self {
        Self {
            id: p.id,
            name: p.name.expose().to_owned(),
            national_id: p.national_id_redacted,
            phone: p.phone.map(|v| v.expose().to_owned()),
            email: p.email.map(|v| v.expose().to_owned()),
        }
    }
}

/// Registers a patient.
pub async fn create_patient(
    state: &App,
    caller: &Caller,
    org: &str,
    input: PatientIn,
    now: OffsetDateTime,
) -> Result<PatientOut, AppError> {
    let org = org_for(state, caller, org, now).await?;
    let new = trygg_store::NewPatient {
        name: PersonName::parse(&input.name)
            .map_err(|e| AppError::invalid("TR-P001", e.to_string()))?,
        national_id: NationalId::parse(&input.national_id)
            .map_err(|e| AppError::invalid("TR-P002", e.to_string()))?,
        phone: input
            .phone
            .as_deref()
            .map(PhoneNumber::parse)
            .transpose()
            .map_err(|e| AppError::invalid("TR-P003", e.to_string()))?,
        email: input
            .email
            .as_deref()
            .map(EmailAddress::parse)
            .transpose()
            .map_err(|e| AppError::invalid("TR-P004", e.to_string()))?,
    };
    let (mut tx, ok) = authorize(&org, caller, Permission::PatientWrite, None, now).await?;
    if let Some(existing) = tx.patient_by_national_id(&new.national_id).await? {
        let mut d = did(
            Operation::PatientCreateConflict,
            Action::Create,
            existing.id,
            ok.basis,
        );
        d.outcome = Outcome::Rejected;
        audit_commit(tx, &org, &ok.actor, d, now).await?;
        return Err(trygg_store::StoreError::Conflict(
            "a patient with that national identity number exists",
        )
        .into());
    }
    let p = tx.create_patient(&new, now).await?;
    audit_commit(
        tx,
        &org,
        &ok.actor,
        did(Operation::PatientCreate, Action::Create, p.id, ok.basis),
        now,
    )
    .await?;
    Ok(p.into())
}

/// Lists an organisation's patients.
pub async fn list_patients(
    state: &App,
    caller: &Caller,
    org: &str,
    now: OffsetDateTime,
) -> Result<Vec<PatientOut>, AppError> {
    let org = org_for(state, caller, org, now).await?;
    let (tx, ok) = authorize(&org, caller, Permission::PatientRead, None, now).await?;
    list_logged(tx, &org, &ok.actor, ok.basis, now).await
}

/// Lists the patients in `tx` and commits one entry per patient listed, so each patient's
/// access log shows it (PC-RIGHTS-1); an empty list touches no personal data and logs nothing.
pub(crate) async fn list_logged(
    mut tx: trygg_store::OrgTx<'_>,
    org: &trygg_store::OrgStore,
    actor: &crate::audit::Actor,
    basis: Basis,
    now: OffsetDateTime,
) -> Result<Vec<PatientOut>, AppError> {
    let list = tx.list_patients().await?;
    for p in &list {
        let d = did(Operation::PatientList, Action::Read, p.id, basis.clone());
        let e = event(&org.organisation().slug, actor, d, now)?;
        tx.audit(&e).await?;
    }
    if list.is_empty() {
        drop(tx);
    } else {
        tx.commit().await?;
    }
    Ok(list.into_iter().map(Into::into).collect())
}

/// Reads one patient.
pub async fn get_patient(
    state: &App,
    caller: &Caller,
    org: &str,
    id: &str,
    now: OffsetDateTime,
) -> Result<PatientOut, AppError> {
    let org = org_for(state, caller, org, now).await?;
    let unknown = || AppError::not_found("TR-P404", "no such patient");
    let id = Uuid::parse_str(id).map_err(|_| unknown())?;
    let (mut tx, ok) = authorize(&org, caller, Permission::PatientRead, Some(id), now).await?;
    // Not found: nothing personal was read; the transaction rolls back when dropped.
    let p = tx.patient(id).await?.ok_or_else(unknown)?;
    audit_commit(
        tx,
        &org,
        &ok.actor,
        did(Operation::PatientRead, Action::Read, p.id, ok.basis),
        now,
    )
    .await?;
    Ok(p.into())
}
