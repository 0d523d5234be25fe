//! One organisation's data, reached only through an [`OrgStore`] bound to that organisation
//! (PC-VENDOR-4). Names, national identity numbers and contact data are sealed per cell; the
//! national identity number is also kept as a keyed hash for lookup.

use sqlx::Row as _;
use time::OffsetDateTime;
use trygg_core::{BuiltinRole, EmailAddress, Employment, NationalId, PersonName, PhoneNumber};
use uuid::Uuid;

use crate::control::{fmt_time, parse_time, parse_uuid, Organisation};
use crate::crypto::{DataKey, Sealer};
use crate::db::Db;
use crate::StoreError;

/// The handle to one organisation's database and keys.
#[derive(Debug)]
pub struct OrgStore {
    org: Organisation,
    db: Db,
    sealer: Sealer,
}

/// A patient to register.
#[derive(Debug, Clone)]
pub struct NewPatient {
    /// Full name.
    pub name: PersonName,
    /// National identity number (checked).
    pub national_id: NationalId,
    /// Mobile number for notices, if known.
    pub phone: Option<PhoneNumber>,
    /// E-mail address for notices, if known.
    pub email: Option<EmailAddress>,
}

/// A patient as read back (decrypted).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Patient {
    /// Stable id, not derived from personal data.
    pub id: Uuid,
    /// Full name.
    pub name: PersonName,
    /// National identity number, redacted to the birth date for display.
    pub national_id_redacted: String,
    /// Mobile number.
    pub phone: Option<PhoneNumber>,
    /// E-mail address.
    pub email: Option<EmailAddress>,
    /// When registered.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A person on the staff to register.
#[derive(Debug, Clone)]
pub struct NewPersonnel {
    /// Full name.
    pub name: PersonName,
    /// Work e-mail.
    pub email: Option<EmailAddress>,
    /// Role.
    pub role: BuiltinRole,
    /// Employment relation.
    pub employment: Employment,
}

/// A person on the staff as read back.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Personnel {
    /// Stable id.
    pub id: Uuid,
    /// Full name.
    pub name: PersonName,
    /// Work e-mail.
    pub email: Option<EmailAddress>,
    /// Role.
    pub role: BuiltinRole,
    /// Employment relation.
    pub employment: Employment,
    /// When registered.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

const NID_KIND: &str = "national-id";

impl OrgStore {
    pub(crate) fn new(org: Organisation, db: Db, key: &DataKey) -> Result<Self, StoreError> {
        let sealer = Sealer::new(org.id, key)?;
        Ok(Self { org, db, sealer })
    }

    /// The organisation this handle is bound to.
    pub fn organisation(&self) -> &Organisation {
        &self.org
    }

    /// Registers a patient. A second patient with the same national identity number is a
    /// conflict.
    pub async fn create_patient(
        &self,
        p: &NewPatient,
        now: OffsetDateTime,
    ) -> Result<Patient, StoreError> {
        let id = Uuid::new_v4();
        let row = id.to_string();
        let nid = p.national_id.expose();
        let s = &self.sealer;
        let phone = p
            .phone
            .as_ref()
            .map(|v| s.seal("patients", "phone", &row, v.expose().as_bytes()))
            .transpose()?;
        let email = p
            .email
            .as_ref()
            .map(|v| s.seal("patients", "email", &row, v.expose().as_bytes()))
            .transpose()?;
        let r = sqlx::query(
            "INSERT INTO patients (id, nid_hash, nid_sealed, name_sealed, phone_sealed, email_sealed, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&row)
        .bind(s.lookup_hash(NID_KIND, &nid))
        .bind(s.seal("patients", "nid", &row, nid.as_bytes())?)
        .bind(s.seal("patients", "name", &row, p.name.expose().as_bytes())?)
        .bind(phone)
        .bind(email)
        .bind(fmt_time(now)?)
        .execute(self.db.sqlite())
        .await;
        match r {
            Ok(_) => {}
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Err(StoreError::Conflict(
                    "a patient with that national identity number exists",
                ))
            }
            Err(e) => return Err(e.into()),
        }
        Ok(Patient {
            id,
            name: p.name.clone(),
            national_id_redacted: p.national_id.redacted(),
            phone: p.phone.clone(),
            email: p.email.clone(),
            created_at: now,
        })
    }

    /// One patient by id.
    pub async fn patient(&self, id: Uuid) -> Result<Option<Patient>, StoreError> {
        let row = sqlx::query(&format!("{PATIENT_SELECT} WHERE id = ?"))
            .bind(id.to_string())
            .fetch_optional(self.db.sqlite())
            .await?;
        row.map(|r| self.patient_from_row(&r)).transpose()
    }

    /// One patient by national identity number, through the keyed hash.
    pub async fn patient_by_national_id(
        &self,
        nid: &NationalId,
    ) -> Result<Option<Patient>, StoreError> {
        let row = sqlx::query(&format!("{PATIENT_SELECT} WHERE nid_hash = ?"))
            .bind(self.sealer.lookup_hash(NID_KIND, &nid.expose()))
            .fetch_optional(self.db.sqlite())
            .await?;
        row.map(|r| self.patient_from_row(&r)).transpose()
    }

    /// Every patient, oldest first.
    pub async fn list_patients(&self) -> Result<Vec<Patient>, StoreError> {
        let rows = sqlx::query(&format!("{PATIENT_SELECT} ORDER BY created_at, id"))
            .fetch_all(self.db.sqlite())
            .await?;
        rows.iter().map(|r| self.patient_from_row(r)).collect()
    }

    /// Registers a person on the staff.
    pub async fn create_personnel(
        &self,
        p: &NewPersonnel,
        now: OffsetDateTime,
    ) -> Result<Personnel, StoreError> {
        let id = Uuid::new_v4();
        let row = id.to_string();
        let s = &self.sealer;
        let email = p
            .email
            .as_ref()
            .map(|v| s.seal("personnel", "email", &row, v.expose().as_bytes()))
            .transpose()?;
        sqlx::query(
            "INSERT INTO personnel (id, name_sealed, email_sealed, role, employment, created_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&row)
        .bind(s.seal("personnel", "name", &row, p.name.expose().as_bytes())?)
        .bind(email)
        .bind(p.role.as_str())
        .bind(p.employment.as_str())
        .bind(fmt_time(now)?)
        .execute(self.db.sqlite())
        .await?;
        Ok(Personnel {
            id,
            name: p.name.clone(),
            email: p.email.clone(),
            role: p.role,
            employment: p.employment,
            created_at: now,
        })
    }

    /// Every person on the staff, oldest first.
    pub async fn list_personnel(&self) -> Result<Vec<Personnel>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, name_sealed, email_sealed, role, employment, created_at FROM personnel \
             ORDER BY created_at, id",
        )
        .fetch_all(self.db.sqlite())
        .await?;
        rows.iter()
            .map(|r| {
                let id: String = r.try_get("id")?;
                let s = &self.sealer;
                let name = s.open_text("personnel", "name", &id, r.try_get("name_sealed")?)?;
                let email: Option<Vec<u8>> = r.try_get("email_sealed")?;
                let email = email
                    .map(|e| s.open_text("personnel", "email", &id, &e))
                    .transpose()?;
                let role: String = r.try_get("role")?;
                let employment: String = r.try_get("employment")?;
                Ok(Personnel {
                    id: parse_uuid(&id)?,
                    name: PersonName::parse(&name)
                        .map_err(|_| StoreError::Corrupt("a stored name is invalid"))?,
                    email: email
                        .map(|e| EmailAddress::parse(&e))
                        .transpose()
                        .map_err(|_| StoreError::Corrupt("a stored e-mail address is invalid"))?,
                    role: BuiltinRole::parse(&role)
                        .ok_or(StoreError::Corrupt("a stored role is unknown"))?,
                    employment: Employment::parse(&employment)
                        .ok_or(StoreError::Corrupt("a stored employment is unknown"))?,
                    created_at: parse_time(r.try_get("created_at")?)?,
                })
            })
            .collect()
    }

    /// Closes the database.
    pub(crate) async fn close(&self) {
        self.db.close().await;
    }

    fn patient_from_row(&self, r: &sqlx::sqlite::SqliteRow) -> Result<Patient, StoreError> {
        let id: String = r.try_get("id")?;
        let s = &self.sealer;
        let nid = s.open_text("patients", "nid", &id, r.try_get("nid_sealed")?)?;
        let nid = NationalId::parse(&nid)
            .map_err(|_| StoreError::Corrupt("a stored national identity number is invalid"))?;
        let name = s.open_text("patients", "name", &id, r.try_get("name_sealed")?)?;
        let phone: Option<Vec<u8>> = r.try_get("phone_sealed")?;
        let email: Option<Vec<u8>> = r.try_get("email_sealed")?;
        Ok(Patient {
            id: parse_uuid(&id)?,
            name: PersonName::parse(&name)
                .map_err(|_| StoreError::Corrupt("a stored name is invalid"))?,
            national_id_redacted: nid.redacted(),
            phone: phone
                .map(|v| s.open_text("patients", "phone", &id, &v))
                .transpose()?
                .map(|v| PhoneNumber::parse(&v))
                .transpose()
                .map_err(|_| StoreError::Corrupt("a stored phone number is invalid"))?,
            email: email
                .map(|v| s.open_text("patients", "email", &id, &v))
                .transpose()?
                .map(|v| EmailAddress::parse(&v))
                .transpose()
                .map_err(|_| StoreError::Corrupt("a stored e-mail address is invalid"))?,
            created_at: parse_time(r.try_get("created_at")?)?,
        })
    }
}

const PATIENT_SELECT: &str =
    "SELECT id, nid_sealed, name_sealed, phone_sealed, email_sealed, created_at FROM patients";
