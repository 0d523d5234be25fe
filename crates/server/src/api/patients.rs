//! Patients of one organisation. The national identity number is checked (both control digits)
//! before anything is stored, and is returned only redacted.
//!
//! Registering a national identity number that is registered already answers 409, and since the
//! answer reveals that the person is a patient here, the probe is itself an access: it appends a
//! `patient.create-conflict` entry (outcome rejected, naming the existing patient) in the same
//! transaction before answering (finding 7, PC-VENDOR-3).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use trygg_core::{EmailAddress, NationalId, PersonName, PhoneNumber};
use uuid::Uuid;

use trygg_audit::{Action, Basis, Category, Outcome};

use trygg_core::access::Permission;

use crate::access::{audit_commit, authorize, org_for, Caller};
use crate::app::{ApiJson, AppState};
use crate::audit_events::{event, Did};
use crate::error::ApiError;

/// The audit record of an access to one patient (PC-VENDOR-3).
fn did(operation: &'static str, action: Action, patient: Uuid, basis: Basis) -> Did {
    Did {
        category: Category::Access,
        operation,
        action,
        outcome: Outcome::Success,
        entity: ("Patient", Some(patient.to_string())),
        patient: Some(patient),
        basis,
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
#[utoipa::path(post, path = "/api/v1/orgs/{org}/patients", request_body = PatientIn,
    params(("org" = String, Path, description = "organisation short name")),
    responses((status = 201, body = PatientOut), (status = 404, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn create_patient(
    State(state): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    ApiJson(input): ApiJson<PatientIn>,
) -> Result<(StatusCode, ApiJson<PatientOut>), ApiError> {
    let org = org_for(&state, &caller, &org).await?;
    let new = trygg_store::NewPatient {
        name: PersonName::parse(&input.name)
            .map_err(|e| ApiError::invalid("TR-P001", e.to_string()))?,
        national_id: NationalId::parse(&input.national_id)
            .map_err(|e| ApiError::invalid("TR-P002", e.to_string()))?,
        phone: input
            .phone
            .as_deref()
            .map(PhoneNumber::parse)
            .transpose()
            .map_err(|e| ApiError::invalid("TR-P003", e.to_string()))?,
        email: input
            .email
            .as_deref()
            .map(EmailAddress::parse)
            .transpose()
            .map_err(|e| ApiError::invalid("TR-P004", e.to_string()))?,
    };
    let now = time::OffsetDateTime::now_utc();
    let (mut tx, ok) = authorize(&org, &caller, Permission::PatientWrite, None).await?;
    if let Some(existing) = tx.patient_by_national_id(&new.national_id).await? {
        let mut d = did(
            "patient.create-conflict",
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
        did("patient.create", Action::Create, p.id, ok.basis),
        now,
    )
    .await?;
    Ok((StatusCode::CREATED, ApiJson(p.into())))
}

/// Lists an organisation's patients.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/patients", 
    params(("org" = String, Path, description = "organisation short name")),
    responses((status = 200, body = [PatientOut]), (status = 404, body = crate::error::Problem)))]
pub async fn list_patients(
    State(state): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
) -> Result<ApiJson<Vec<PatientOut>>, ApiError> {
    let org = org_for(&state, &caller, &org).await?;
    let now = time::OffsetDateTime::now_utc();
    let (mut tx, ok) = authorize(&org, &caller, Permission::PatientRead, None).await?;
    let list = tx.list_patients().await?;
    // One entry per patient listed, so each patient's access log shows it (PC-RIGHTS-1). An
    // empty list touches no personal data.
    for p in &list {
        let e = event(
            &org.organisation().slug,
            &ok.actor,
            did("patient.list", Action::Read, p.id, ok.basis.clone()),
            now,
        )?;
        tx.audit(&e).await?;
    }
    if list.is_empty() {
        drop(tx);
    } else {
        tx.commit().await?;
    }
    Ok(ApiJson(list.into_iter().map(Into::into).collect()))
}

/// Reads one patient.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/patients/{id}", 
    params(("org" = String, Path, description = "organisation short name"), ("id" = Uuid, Path, description = "patient id")),
    responses((status = 200, body = PatientOut), (status = 404, body = crate::error::Problem)))]
pub async fn get_patient(
    State(state): State<AppState>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
) -> Result<ApiJson<PatientOut>, ApiError> {
    let org = org_for(&state, &caller, &org).await?;
    let unknown = || ApiError::not_found("TR-P404", "no such patient");
    let id = Uuid::parse_str(&id).map_err(|_| unknown())?;
    let now = time::OffsetDateTime::now_utc();
    let (mut tx, ok) = authorize(&org, &caller, Permission::PatientRead, Some(id)).await?;
    // Not found: nothing personal was read; the transaction rolls back when dropped.
    let p = tx.patient(id).await?.ok_or_else(unknown)?;
    audit_commit(
        tx,
        &org,
        &ok.actor,
        did("patient.read", Action::Read, p.id, ok.basis),
        now,
    )
    .await?;
    Ok(ApiJson(p.into()))
}
