//! Register facts for log control (issue #16, PC-ACL-1): a patient's address, protection and
//! registered next of kin, and a staff member's national identity number and address, kept as
//! keyed hashes only (`0024_register_facts.sql`), so the snooping detector can ask "same
//! address?", "is the person looking the patient's next of kin?", "is the patient one of the
//! staff?" without Trygg holding the address or the kinship in a readable form.

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
        let s = &self.store.sealer;
        let address = address.map(|a| s.lookup_hash(ADDRESS_KIND, a));
        let kin: Vec<String> = next_of_kin
            .iter()
            .map(|n| s.lookup_hash(crate::org::NID_KIND, n))
            .collect();
        let done = sqlx::query("UPDATE patients SET address_hash = ?, protection = ? WHERE id = ?")
            .bind(address)
            .bind(protection)
            .bind(patient.to_string())
            .execute(self.conn().await?)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("no such patient"));
        }
        sqlx::query("DELETE FROM next_of_kin WHERE patient_id = ?")
            .bind(patient.to_string())
            .execute(self.conn().await?)
            .await?;
        for k in kin {
            sqlx::query("INSERT OR IGNORE INTO next_of_kin (patient_id, nid_hash) VALUES (?, ?)")
                .bind(patient.to_string())
                .bind(k)
                .execute(self.conn().await?)
                .await?;
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
        let s = &self.store.sealer;
        let nid = national_id.map(|n| s.lookup_hash(crate::org::NID_KIND, n));
        let address = address.map(|a| s.lookup_hash(ADDRESS_KIND, a));
        let done = sqlx::query("UPDATE personnel SET nid_hash = ?, address_hash = ? WHERE id = ?")
            .bind(nid)
            .bind(address)
            .bind(person.to_string())
            .execute(self.conn().await?)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("no such person"));
        }
        Ok(())
    }

    /// Every register fact, in one statement.
    pub async fn register_facts(&mut self) -> Result<RegisterFacts, StoreError> {
        self.personal = true;
        let rows = sqlx::query(
            "SELECT 'p' AS k, id, nid_hash AS a, address_hash AS b, protection AS c FROM patients \
             UNION ALL SELECT 's', id, nid_hash, address_hash, NULL FROM personnel \
             UNION ALL SELECT 'n', patient_id, nid_hash, NULL, NULL FROM next_of_kin \
             ORDER BY k DESC",
        )
        .fetch_all(self.conn().await?)
        .await?;
        let mut out = RegisterFacts::default();
        let mut kin: std::collections::HashMap<Uuid, Vec<String>> = Default::default();
        for r in &rows {
            let k: String = r.try_get("k")?;
            let id = parse_uuid(r.try_get("id")?)?;
            match k.as_str() {
                "p" => out.patients.push(PatientFacts {
                    id,
                    nid_hash: r.try_get::<Option<String>, _>("a")?.unwrap_or_default(),
                    address_hash: r.try_get("b")?,
                    protection: r
                        .try_get::<Option<String>, _>("c")?
                        .unwrap_or_else(|| "none".into()),
                    next_of_kin: Vec::new(),
                }),
                "s" => out.personnel.push(PersonnelFacts {
                    id,
                    nid_hash: r.try_get("a")?,
                    address_hash: r.try_get("b")?,
                }),
                _ => kin
                    .entry(id)
                    .or_default()
                    .push(r.try_get::<Option<String>, _>("a")?.unwrap_or_default()),
            }
        }
        for p in &mut out.patients {
            p.next_of_kin = kin.remove(&p.id).unwrap_or_default();
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
