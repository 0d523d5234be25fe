//! The storage of organisation-owned devices (issue #13; VC-DEV-1/2, VC-AUTH-4): a device is
//! made with its enrolment code (kept as a keyed hash only, single use, cleared when used),
//! takes its public key once, is marked when it proves itself at a join, and can be revoked for
//! good (triggers in migration `0020_devices.sql` keep the key fixed and a revocation final).
//! The place's label is sealed. Who may issue, list and revoke is the application's rule.

use sqlx::Row as _;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::control::{fmt_time, parse_time, parse_uuid};
use crate::{OrgTx, StoreError};

const CODE_KIND: &str = "device-enrolment-code";

/// A device as stored (its label opened).
#[derive(Clone, PartialEq, Eq)]
pub struct DeviceRecord {
    /// Id (opaque; safe in logs and audit entries).
    pub id: Uuid,
    /// The place, as the administrator named it (e.g. "Behandlingsrom 2").
    pub label: String,
    /// The patient whose identity the device stands in for (a device in their home), if any.
    pub patient_id: Option<Uuid>,
    /// Until when the enrolment code can be used.
    pub code_expires_at: OffsetDateTime,
    /// Who issued the code (an actor id).
    pub issued_by: String,
    /// When the code was issued.
    pub created_at: OffsetDateTime,
    /// The registered public key (an uncompressed P-256 point), once enrolled.
    pub public_key: Option<Vec<u8>>,
    /// When the device registered its key.
    pub enrolled_at: Option<OffsetDateTime>,
    /// When it last proved itself at a join.
    pub last_used_at: Option<OffsetDateTime>,
    /// When it was revoked.
    pub revoked_at: Option<OffsetDateTime>,
}

impl std::fmt::Debug for DeviceRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceRecord")
            .field("id", &self.id)
            .field("enrolled", &self.enrolled_at.is_some())
            .field("revoked", &self.revoked_at.is_some())
            .finish_non_exhaustive()
    }
}

const SELECT: &str = "SELECT id, label_sealed, patient_id, code_expires_at, issued_by, \
     created_at, public_key, enrolled_at, last_used_at, revoked_at FROM devices";

fn opt_time(s: Option<String>) -> Result<Option<OffsetDateTime>, StoreError> {
    s.as_deref().map(parse_time).transpose()
}

impl OrgTx<'_> {
    fn device_record(&self, r: &sqlx::sqlite::SqliteRow) -> Result<DeviceRecord, StoreError> {
        let id: String = r.try_get("id")?;
        let sealed: Vec<u8> = r.try_get("label_sealed")?;
        let patient: Option<String> = r.try_get("patient_id")?;
        Ok(DeviceRecord {
            label: self
                .store
                .sealer
                .open_text("devices", "label", &id, &sealed)?,
            id: parse_uuid(&id)?,
            patient_id: patient.as_deref().map(parse_uuid).transpose()?,
            code_expires_at: parse_time(r.try_get("code_expires_at")?)?,
            issued_by: r.try_get("issued_by")?,
            created_at: parse_time(r.try_get("created_at")?)?,
            public_key: r.try_get("public_key")?,
            enrolled_at: opt_time(r.try_get("enrolled_at")?)?,
            last_used_at: opt_time(r.try_get("last_used_at")?)?,
            revoked_at: opt_time(r.try_get("revoked_at")?)?,
        })
    }

    /// Makes a device waiting for its key, with the keyed hash of its enrolment code (the
    /// normalised form, see `trygg_identity::device`), usable until `now + ttl`.
    pub async fn issue_device(
        &mut self,
        label: &str,
        patient: Option<Uuid>,
        code: &str,
        issued_by: &str,
        now: OffsetDateTime,
        ttl: time::Duration,
    ) -> Result<DeviceRecord, StoreError> {
        self.personal = true;
        let id = Uuid::new_v4();
        let sid = id.to_string();
        let sealed = self
            .store
            .sealer
            .seal("devices", "label", &sid, label.as_bytes())?;
        let record = DeviceRecord {
            id,
            label: label.to_owned(),
            patient_id: patient,
            code_expires_at: now + ttl,
            issued_by: issued_by.to_owned(),
            created_at: now,
            public_key: None,
            enrolled_at: None,
            last_used_at: None,
            revoked_at: None,
        };
        sqlx::query(
            "INSERT INTO devices (id, label_sealed, patient_id, code_hash, code_expires_at, \
             issued_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&sid)
        .bind(sealed)
        .bind(patient.map(|p| p.to_string()))
        .bind(self.store.sealer.lookup_hash(CODE_KIND, code))
        .bind(fmt_time(record.code_expires_at)?)
        .bind(issued_by)
        .bind(fmt_time(now)?)
        .execute(self.conn().await?)
        .await?;
        Ok(record)
    }

    /// Registers `public_key` for the device whose unused code is `code` (normalised), if that
    /// code is known, unexpired at `now` and its device not revoked; the code is spent.
    /// `None` for every other case (one answer: an attacker learns nothing from it).
    pub async fn enrol_device(
        &mut self,
        code: &str,
        public_key: &[u8],
        now: OffsetDateTime,
    ) -> Result<Option<DeviceRecord>, StoreError> {
        self.personal = true;
        let hash = self.store.sealer.lookup_hash(CODE_KIND, code);
        let row = sqlx::query(&format!(
            "{SELECT} WHERE code_hash = ? AND public_key IS NULL AND revoked_at IS NULL"
        ))
        .bind(&hash)
        .fetch_optional(self.conn().await?)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let mut d = self.device_record(&row)?;
        if d.code_expires_at <= now {
            return Ok(None);
        }
        let at = fmt_time(now)?;
        let done = sqlx::query(
            "UPDATE devices SET public_key = ?, enrolled_at = ?, code_hash = NULL \
             WHERE id = ? AND public_key IS NULL",
        )
        .bind(public_key)
        .bind(&at)
        .bind(d.id.to_string())
        .execute(self.conn().await?)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(None);
        }
        d.public_key = Some(public_key.to_vec());
        d.enrolled_at = Some(now);
        Ok(Some(d))
    }

    /// One device.
    pub async fn device(&mut self, id: Uuid) -> Result<Option<DeviceRecord>, StoreError> {
        self.personal = true;
        let row = sqlx::query(&format!("{SELECT} WHERE id = ?"))
            .bind(id.to_string())
            .fetch_optional(self.conn().await?)
            .await?;
        row.map(|r| self.device_record(&r)).transpose()
    }

    /// Every device, newest first (at most `limit`).
    pub async fn devices(&mut self, limit: u32) -> Result<Vec<DeviceRecord>, StoreError> {
        self.personal = true;
        let rows = sqlx::query(&format!("{SELECT} ORDER BY created_at DESC, id LIMIT ?"))
            .bind(i64::from(limit))
            .fetch_all(self.conn().await?)
            .await?;
        rows.iter().map(|r| self.device_record(r)).collect()
    }

    /// Records that the device proved itself at `now`.
    pub async fn device_used(&mut self, id: Uuid, now: OffsetDateTime) -> Result<(), StoreError> {
        sqlx::query("UPDATE devices SET last_used_at = ? WHERE id = ? AND revoked_at IS NULL")
            .bind(fmt_time(now)?)
            .bind(id.to_string())
            .execute(self.conn().await?)
            .await?;
        Ok(())
    }

    /// Revokes a device for good (its unused code too); `false` if there is no such device or
    /// it was revoked already.
    pub async fn revoke_device(
        &mut self,
        id: Uuid,
        by: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.personal = true;
        let done = sqlx::query(
            "UPDATE devices SET revoked_at = ?, revoked_by = ?, code_hash = NULL \
             WHERE id = ? AND revoked_at IS NULL",
        )
        .bind(fmt_time(now)?)
        .bind(by)
        .bind(id.to_string())
        .execute(self.conn().await?)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
