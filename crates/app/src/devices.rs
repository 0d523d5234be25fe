//! Organisation-owned devices as use cases (issue #13; VC-DEV-1/2, VC-AUTH-4): an administrator
//! issues a single-use, short-lived enrolment code for a device at a fixed place (a treatment
//! room, or a patient's home, where the device then stands in for that patient's identity); the
//! device's browser registers the public key of a key pair it made and cannot export; at every
//! join the device signs a server nonce (checked in [`prove`], called by
//! [`crate::rooms::join`]); devices are listed and revoked. The code, key and signature rules
//! are `trygg_identity::device`'s.
//!
//! # Rules
//! - Issuing, listing and revoking need `credentials-manage` in force, at the organisation's
//!   minimum assurance for it (VC-DEV-2: credentials are issued by an authorised role, by a
//!   fixed procedure, logged). A device for a patient's home names an existing patient; its
//!   issue, enrolment, use and revocation are in that patient's access log.
//! - Enrolment is anonymous (the device has no login): the code is the authority. Every way it
//!   can fail (unknown organisation or code, a code used, expired or revoked) gives one answer,
//!   `TR-D001`, and a security event in the organisation's log when the organisation exists; a
//!   key that is not a P-256 point or a proof that does not verify is `TR-D002` and spends
//!   nothing. The route spends the client's request budget.
//! - At a join, a device that names itself must prove itself: unknown, not yet enrolled,
//!   revoked, another organisation's, a bad signature, or a home device used for an invitation
//!   that is not its patient's is refused (never silently joined without), with a security
//!   event. A proven device gives the participant the identity assurance `device` (the admitter
//!   cannot record it otherwise) and its arrival the authentication method `device-key`.

use std::net::IpAddr;

use time::OffsetDateTime;
use trygg_audit::{Action, AgentKind, Basis, Category, Outcome, SecurityKind};
use trygg_core::access::Permission;
use trygg_core::{Operation, OrgSlug};
use trygg_store::{DeviceRecord, OrgStore, OrgTx};
use uuid::Uuid;

use crate::access::{audit_commit, authorize, org_for, Caller};
use crate::audit::{event, Actor, Did};
use crate::context::App;
use crate::error::AppError;

/// The longest place label, in characters.
pub const MAX_LABEL: usize = 80;

/// The most devices a listing shows.
pub const LIST_LIMIT: u32 = 500;

/// A device, as listed (never its key).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct DeviceOut {
    /// Id (to revoke it).
    pub id: Uuid,
    /// The place.
    pub label: String,
    /// The patient whose home it is in, if any.
    pub patient_id: Option<Uuid>,
    /// `waiting` (code issued, no key yet), `expired` (code unused and expired), `enrolled`
    /// or `revoked`.
    pub state: &'static str,
    /// When the code was issued.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Until when the code works.
    #[serde(with = "time::serde::rfc3339")]
    pub code_expires_at: OffsetDateTime,
    /// When the device registered its key.
    #[serde(with = "time::serde::rfc3339::option")]
    pub enrolled_at: Option<OffsetDateTime>,
    /// When it last joined a consultation.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    /// When it was revoked.
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

impl DeviceOut {
    fn of(d: DeviceRecord, now: OffsetDateTime) -> Self {
        let state = if d.revoked_at.is_some() {
            "revoked"
        } else if d.enrolled_at.is_some() {
            "enrolled"
        } else if d.code_expires_at <= now {
            "expired"
        } else {
            "waiting"
        };
        Self {
            id: d.id,
            label: d.label,
            patient_id: d.patient_id,
            state,
            created_at: d.created_at,
            code_expires_at: d.code_expires_at,
            enrolled_at: d.enrolled_at,
            last_used_at: d.last_used_at,
            revoked_at: d.revoked_at,
        }
    }
}

/// A device made with its code; the code is shown once, to the administrator.
#[derive(Debug)]
pub struct Issued {
    /// The device.
    pub device: DeviceOut,
    /// The enrolment code, `XXXX-XXXX-XXXX`.
    pub code: String,
}

fn did(operation: Operation, action: Action, d: &DeviceRecord, basis: Basis) -> Did {
    Did {
        category: Category::Authorisation,
        operation,
        action,
        outcome: Outcome::Success,
        entity: ("Device", Some(d.id.to_string())),
        patient: d.patient_id,
        basis,
        detail: None,
    }
}

/// How long codes live, from the configuration (`device_code_ttl_secs`).
fn code_ttl(app: &App) -> time::Duration {
    time::Duration::seconds(i64::try_from(app.config.device_code_ttl_secs).unwrap_or(900))
}

/// Issues an enrolment code for a device at `label` (for `patient`'s home, if given) as `caller`
/// (VC-DEV-2).
pub async fn issue(
    app: &App,
    caller: &Caller,
    org: &str,
    label: &str,
    patient: Option<Uuid>,
    now: OffsetDateTime,
) -> Result<Issued, AppError> {
    let label = trygg_core::message::clean_line(label, MAX_LABEL).ok_or_else(|| {
        AppError::invalid(
            "TR-D003",
            format!("the place must be 1 to {MAX_LABEL} characters, without control characters"),
        )
    })?;
    let org = org_for(app, caller, org, now).await?;
    let org = org.as_ref();
    let (mut tx, ok) = authorize(org, caller, Permission::CredentialsManage, None, now).await?;
    if let Some(p) = patient {
        if !tx.patient_exists(p).await? {
            return Err(AppError::not_found("TR-D004", "no such patient"));
        }
    }
    let code = trygg_identity::device::new_code().map_err(|e| AppError::internal("TR-D501", e))?;
    let normal = trygg_identity::device::normalize_code(&code)
        .ok_or_else(|| AppError::internal("TR-D502", "a new code did not read back"))?;
    let d = tx
        .issue_device(&label, patient, &normal, &ok.actor.id, now, code_ttl(app))
        .await?;
    let entry = did(Operation::DeviceCodeIssue, Action::Create, &d, ok.basis);
    audit_commit(tx, org, &ok.actor, entry, now).await?;
    Ok(Issued {
        device: DeviceOut::of(d, now),
        code,
    })
}

/// The organisation's devices, newest first (a logged read).
pub async fn list(
    app: &App,
    caller: &Caller,
    org: &str,
    now: OffsetDateTime,
) -> Result<Vec<DeviceOut>, AppError> {
    let org = org_for(app, caller, org, now).await?;
    let org = org.as_ref();
    let (mut tx, ok) = authorize(org, caller, Permission::CredentialsManage, None, now).await?;
    let all = tx.devices(LIST_LIMIT).await?;
    let entry = Did {
        category: Category::Access,
        operation: Operation::DeviceList,
        action: Action::Read,
        outcome: Outcome::Success,
        entity: ("Device", None),
        patient: None,
        basis: ok.basis,
        detail: None,
    };
    audit_commit(tx, org, &ok.actor, entry, now).await?;
    Ok(all.into_iter().map(|d| DeviceOut::of(d, now)).collect())
}

/// Revokes a device for good: it can no longer join, and an unused code stops working.
pub async fn revoke(
    app: &App,
    caller: &Caller,
    org: &str,
    id: Uuid,
    now: OffsetDateTime,
) -> Result<DeviceOut, AppError> {
    let org = org_for(app, caller, org, now).await?;
    let org = org.as_ref();
    let (mut tx, ok) = authorize(org, caller, Permission::CredentialsManage, None, now).await?;
    let Some(mut d) = tx.device(id).await? else {
        return Err(AppError::not_found("TR-D005", "no such device"));
    };
    if !tx.revoke_device(id, &ok.actor.id, now).await? {
        return Err(AppError::conflict(
            "TR-D006",
            "this device is revoked already",
        ));
    }
    d.revoked_at = Some(now);
    let entry = did(Operation::DeviceRevoke, Action::Update, &d, ok.basis);
    audit_commit(tx, org, &ok.actor, entry, now).await?;
    Ok(DeviceOut::of(d, now))
}

/// A device enrolled.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Enrolled {
    /// The device's id (the device keeps it with its key).
    pub device_id: Uuid,
    /// Its organisation.
    pub org: String,
    /// The place, to show on the device.
    pub label: String,
}

/// The one answer for a code that cannot be used, whatever the reason.
fn bad_code() -> AppError {
    AppError::bad_request(
        "TR-D001",
        "this enrolment code is not valid: it may be mistyped, used, expired or revoked",
    )
}

fn device_actor(id: Option<Uuid>, address: Option<IpAddr>) -> Actor {
    Actor {
        kind: AgentKind::Device,
        id: id.map_or_else(|| "device:unknown".to_owned(), |d| format!("device:{d}")),
        role: None,
        authentication: Some(("device-key", trygg_audit::Assurance::Low)),
        address,
    }
}

/// Appends a security event about a refused device in a unit of its own; failure to write it
/// is logged for the operator (the refusal stands).
async fn log_refused(
    org: &OrgStore,
    device: Option<Uuid>,
    patient: Option<Uuid>,
    kind: SecurityKind,
    code: &'static str,
    address: Option<IpAddr>,
    now: OffsetDateTime,
) {
    let r = async {
        let d = Did {
            category: Category::Security(kind),
            operation: Operation::DeviceRefused,
            action: Action::Execute,
            outcome: Outcome::Denied,
            entity: ("Device", device.map(|d| d.to_string())),
            patient,
            basis: Basis::None,
            detail: Some(code.to_owned()),
        };
        let e = event(
            &org.organisation().slug,
            &device_actor(device, address),
            d,
            now,
        )?;
        let mut tx = org.begin().await?;
        tx.audit(&e).await?;
        tx.commit().await?;
        Ok::<(), AppError>(())
    }
    .await;
    if let Err(e) = r {
        tracing::warn!(event = "device", error = %e, "a refused device could not be logged");
    }
}

/// Registers a device's public key with its enrolment code (VC-DEV-1). `proof` is the device's
/// signature of `trygg_identity::device::enrol_message` with the new key.
pub async fn enrol(
    app: &App,
    org: &str,
    code: &str,
    public_key: &str,
    proof: &str,
    address: Option<IpAddr>,
    now: OffsetDateTime,
) -> Result<Enrolled, AppError> {
    let slug = OrgSlug::parse(org).map_err(|_| bad_code())?;
    let Some(h) = crate::portal::org_if_any(app, &slug).await? else {
        return Err(bad_code());
    };
    let mut tx = h.begin().await?;
    let enrolled = match trygg_identity::device::normalize_code(code) {
        None => None,
        Some(normal) => {
            let key = trygg_identity::device::parse_public_key(public_key)
                .map_err(|e| AppError::bad_request("TR-D002", e.to_string()))?;
            let message = trygg_identity::device::enrol_message(slug.as_str(), &normal);
            trygg_identity::device::verify(&key, &message, proof)
                .map_err(|e| AppError::bad_request("TR-D002", e.to_string()))?;
            tx.enrol_device(&normal, &key, now).await?
        }
    };
    let Some(d) = enrolled else {
        drop(tx);
        let kind = SecurityKind::InvalidToken;
        log_refused(&h, None, None, kind, "code", address, now).await;
        return Err(bad_code());
    };
    let entry = did(Operation::DeviceEnrol, Action::Create, &d, Basis::None);
    audit_commit(tx, &h, &device_actor(Some(d.id), address), entry, now).await?;
    Ok(Enrolled {
        device_id: d.id,
        org: slug.as_str().to_owned(),
        label: d.label,
    })
}

/// A device's answer to the join challenge, as the signalling socket got it.
#[derive(Debug, Clone)]
pub struct DeviceProof {
    /// The device it says it is.
    pub id: Uuid,
    /// The nonce the server sent.
    pub nonce: String,
    /// Its signature of `trygg_identity::device::join_message`.
    pub signature: String,
}

/// Checks a device's proof at a join for the participant `person` (a patient's id when the
/// participant is a patient, else `None`) in a unit of work of `org`, and records the use
/// (`device.login`, naming the patient). `Err(code)` is the refusal, already logged as a
/// security event.
pub async fn prove(
    org: &OrgStore,
    proof: &DeviceProof,
    patient: Option<Uuid>,
    consultation_patient: Uuid,
    address: Option<IpAddr>,
    now: OffsetDateTime,
) -> Result<(), &'static str> {
    let checked = async {
        let unavailable = |e: &dyn std::fmt::Display| {
            tracing::warn!(event = "device", error = %e, "a device's proof could not be checked");
            "unavailable"
        };
        let mut tx: OrgTx<'_> = org.begin().await.map_err(|e| unavailable(&e))?;
        let d = tx
            .device(proof.id)
            .await
            .map_err(|e| unavailable(&e))?
            .ok_or("device-unknown")?;
        if d.revoked_at.is_some() {
            return Err("device-revoked");
        }
        let key = d.public_key.as_deref().ok_or("device-not-enrolled")?;
        let message = trygg_identity::device::join_message(
            org.organisation().slug.as_str(),
            d.id,
            &proof.nonce,
        );
        trygg_identity::device::verify(key, &message, &proof.signature)
            .map_err(|_| "device-signature")?;
        if d.patient_id.is_some() && d.patient_id != patient {
            return Err("device-other-patient");
        }
        tx.device_used(d.id, now)
            .await
            .map_err(|e| unavailable(&e))?;
        let entry = Did {
            category: Category::Authentication,
            operation: Operation::DeviceLogin,
            action: Action::Execute,
            outcome: Outcome::Success,
            entity: ("Device", Some(d.id.to_string())),
            patient: Some(consultation_patient),
            basis: Basis::None,
            detail: None,
        };
        audit_commit(tx, org, &device_actor(Some(d.id), address), entry, now)
            .await
            .map_err(|e| unavailable(&e))
    }
    .await;
    match checked {
        Ok(()) => Ok(()),
        Err(code) => {
            log_refused(
                org,
                Some(proof.id),
                Some(consultation_patient),
                SecurityKind::FailedLogin,
                code,
                address,
                now,
            )
            .await;
            Err(code)
        }
    }
}
