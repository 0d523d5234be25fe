//! Register facts for log control (issue #16, PC-ACL-1): a patient's address, protection and
//! registered next of kin, and a staff member's national identity number and address, sealed
//! under the organisation's key like any personal data (`0024_register_facts.sql`; a fresh
//! nonce per cell, so the database alone shows no shared address and no kinship). The detector
//! gets them as keyed hashes made in memory inside its unit, and compares those: "same
//! address?", "is the person looking the patient's next of kin?", "is the patient one of the
//! staff?".

use sqlx::Row as _;
use uuid::Uuid;

use crate::control::parse_uuid;
use crate::{OrgTx, StoreError};

/// The keyed-hash kind of an address.
const ADDRESS_KIND: &str = "address";

/// A patient's register facts as the detector reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientFacts {
    /// The patient.
    pub id: Uuid,
    /// Keyed hash of the national identity number.
    pub nid_hash: String,
    /// Keyed hash of the normalised address, if known.
    pub address_hash: Option<String>,
    /// `none`, `confidential`, `strictly-confidential` or `public-figure`.
    pub protection: String,
    /// Keyed hashes of the registered next of kin's national identity numbers.
    pub next_of_kin: Vec<String>,
}

/// A staff member's register facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonnelFacts {
    /// The person.
    pub id: Uuid,
    /// Keyed hash of the national identity number, if known.
    pub nid_hash: Option<String>,
    /// Keyed hash of the normalised address, if known.
    pub address_hash: Option<String>,
}

/// Every register fact of the organisation.
#[derive(Debug, Clone, Default)]
pub struct RegisterFacts {
    /// Patients.
    pub patients: Vec<PatientFacts>,
    /// Staff.
    pub personnel: Vec<PersonnelFacts>,
}

impl OrgTx<'_> {
    /// Sets a patient's register facts: the address (normalised by the caller; `None` clears
    /// it), the protection code, and the next of kin's national identity numbers (replacing the
    /// list). Refused for an unknown patient.
    pub async fn set_patient_register_facts(
        &mut self,
        patient: Uuid,
        address: Option<&str>,
        protection: &str,
        next_of_kin: &[String],
    ) -> Result<(), StoreError> {
        self.personal = true;
        let row = patient.to_string();
        let s = &self.store.sealer;
        let address = address
            .map(|a| s.seal("patients", "address", &row, a.as_bytes()))
            .transpose()?;
        let protection = s.seal("patients", "protection", &row, protection.as_bytes())?;
        let kin = s.seal("patients", "kin", &row, next_of_kin.join(",").as_bytes())?;
        let done = sqlx::query(
            "UPDATE patients SET address_sealed = ?, protection_sealed = ?, kin_sealed = ? WHERE id = ?",
        )
        .bind(address)
        .bind(protection)
        .bind(kin)
        .bind(&row)
        .execute(self.conn().await?)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("no such patient"));
        }
        Ok(())
    }

    /// Sets a staff member's register facts (national identity number and normalised address;
    /// `None` clears either). Refused for an unknown person.
    pub async fn set_personnel_register_facts(
        &mut self,
        person: Uuid,
        national_id: Option<&str>,
        address: Option<&str>,
    ) -> Result<(), StoreError> {
        self.personal = true;
        let row = person.to_string();
        let s = &self.store.sealer;
        let nid = national_id
            .map(|n| s.seal("personnel", "nid", &row, n.as_bytes()))
            .transpose()?;
        let address = address
            .map(|a| s.seal("personnel", "address", &row, a.as_bytes()))
            .transpose()?;
        let done =
            sqlx::query("UPDATE personnel SET nid_sealed = ?, address_sealed = ? WHERE id = ?")
                .bind(nid)
                .bind(address)
                .bind(&row)
                .execute(self.conn().await?)
                .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("no such person"));
        }
        Ok(())
    }

    /// The organisation's contacts between staff and patients (issue #16: each explains a
    /// look within a day of it): a consultation a person takes part in (at its planned start)
    /// and a message a person wrote (when sent), as (person, patient, Unix seconds), in one
    /// statement; times are parsed here, not compared as text.
    pub async fn contacts(&mut self) -> Result<Vec<(Uuid, Uuid, i64)>, StoreError> {
        self.personal = true;
        let rows = sqlx::query(
            "SELECT p.personnel_id AS a, c.patient_id AS p, c.starts_at AS t \
               FROM consultation_participants p JOIN consultations c ON c.id = p.consultation_id \
              WHERE p.personnel_id IS NOT NULL \
             UNION ALL \
             SELECT substr(author, 11), patient_id, created_at FROM messages \
              WHERE author LIKE 'personnel:%'",
        )
        .fetch_all(self.conn().await?)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let (Ok(a), Ok(p)) = (parse_uuid(r.try_get("a")?), parse_uuid(r.try_get("p")?)) else {
                continue;
            };
            let t = crate::control::parse_time(r.try_get("t")?)?;
            out.push((a, p, t.unix_timestamp()));
        }
        Ok(out)
    }

    /// Every register fact as recorded (opened), for the organisation's export: one JSON object
    /// per patient or staff member that has any.
    pub async fn register_values(&mut self) -> Result<Vec<serde_json::Value>, StoreError> {
        self.personal = true;
        let rows = sqlx::query(
            "SELECT 'patient' AS k, id, NULL AS n, address_sealed AS a, protection_sealed AS pr, \
                    kin_sealed AS kin FROM patients \
              WHERE address_sealed IS NOT NULL OR protection_sealed IS NOT NULL OR kin_sealed IS NOT NULL \
             UNION ALL SELECT 'personnel', id, nid_sealed, address_sealed, NULL, NULL FROM personnel \
              WHERE nid_sealed IS NOT NULL OR address_sealed IS NOT NULL",
        )
        .fetch_all(self.conn().await?)
        .await?;
        let s = &self.store.sealer;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let k: String = r.try_get("k")?;
            let id: String = r.try_get("id")?;
            let table = if k == "patient" {
                "patients"
            } else {
                "personnel"
            };
            let opened = |col: &str, name: &str| -> Result<Option<String>, StoreError> {
                let v: Option<Vec<u8>> = r.try_get(col)?;
                v.map(|b| s.open_text(table, name, &id, &b)).transpose()
            };
            let kin: Vec<String> = opened("kin", "kin")?
                .unwrap_or_default()
                .split(',')
                .filter(|n| !n.is_empty())
                .map(str::to_owned)
                .collect();
            out.push(serde_json::json!({
                "kind": k,
                "id": id,
                "national_id": opened("n", "nid")?,
                "address": opened("a", "address")?,
                "protection": opened("pr", "protection")?,
                "next_of_kin": kin,
            }));
        }
        Ok(out)
    }

    /// Every register fact, in one statement, opened and turned into keyed hashes in memory.
    pub async fn register_facts(&mut self) -> Result<RegisterFacts, StoreError> {
        self.personal = true;
        let rows = sqlx::query(
            "SELECT 'p' AS k, id, nid_hash AS h, NULL AS n, address_sealed AS a, \
                    protection_sealed AS pr, kin_sealed AS kin FROM patients \
             UNION ALL SELECT 's', id, NULL, nid_sealed, address_sealed, NULL, NULL FROM personnel",
        )
        .fetch_all(self.conn().await?)
        .await?;
        let s = &self.store.sealer;
        let mut out = RegisterFacts::default();
        for r in &rows {
            let k: String = r.try_get("k")?;
            let id = parse_uuid(r.try_get("id")?)?;
            let key = id.to_string();
            let table = if k == "p" { "patients" } else { "personnel" };
            let opened = |col: &str, name: &str| -> Result<Option<String>, StoreError> {
                let v: Option<Vec<u8>> = r.try_get(col)?;
                v.map(|b| s.open_text(table, name, &key, &b)).transpose()
            };
            let address = opened("a", "address")?.map(|a| s.lookup_hash(ADDRESS_KIND, &a));
            if k == "p" {
                let kin = opened("kin", "kin")?.unwrap_or_default();
                out.patients.push(PatientFacts {
                    id,
                    nid_hash: r.try_get::<Option<String>, _>("h")?.unwrap_or_default(),
                    address_hash: address,
                    protection: opened("pr", "protection")?.unwrap_or_else(|| "none".into()),
                    next_of_kin: kin
                        .split(',')
                        .filter(|n| !n.is_empty())
                        .map(|n| s.lookup_hash(crate::org::NID_KIND, n))
                        .collect(),
                });
            } else {
                out.personnel.push(PersonnelFacts {
                    id,
                    nid_hash: opened("n", "nid")?.map(|n| s.lookup_hash(crate::org::NID_KIND, &n)),
                    address_hash: address,
                });
            }
        }
        Ok(out)
    }
}

impl crate::OrgStore {
    /// The audit events recorded in `[from, to)` (Unix milliseconds), in `seq` order; an entry
    /// whose stored time and event time disagree is judged by the event's own (the entry's
    /// verification covers both).
    pub async fn audit_events_between(
        &self,
        from: i64,
        to: i64,
    ) -> Result<Vec<(u64, trygg_audit::AuditEvent)>, StoreError> {
        crate::audit::events_between(self.db.sqlite(), from, to).await
    }
}
