//! Persistence of access control for one organisation: role grants (the authorisation register),
//! employment end, care relationships, emergency access and rights reviews. The decision itself
//! is `trygg_core::access::decide`; this module loads a [`Subject`] for it and records changes.
//! Every method marks the transaction as touching personal data, so nothing here commits without
//! an audit entry (PC-ACL-1, guide risk scenarios 15 and 16).

use std::collections::BTreeSet;

use sqlx::Row as _;
use trygg_core::access::{CareRelationship, EmergencyAccess, Grant, Permission, Role, Subject};
use trygg_core::BuiltinRole;
use uuid::Uuid;

use crate::control::parse_uuid;
use crate::{OrgTx, StoreError};

/// A grant as the authorisation register keeps it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GrantRecord {
    /// Grant id.
    pub id: Uuid,
    /// Who holds it.
    pub personnel_id: Uuid,
    /// The role's name.
    pub role: String,
    /// From when (Unix seconds).
    pub valid_from: i64,
    /// Until when (Unix seconds, exclusive), if limited.
    pub valid_to: Option<i64>,
    /// Who granted it (opaque actor id).
    pub granted_by: String,
    /// When it was granted.
    pub granted_at: i64,
    /// When it was revoked, if it was.
    pub revoked_at: Option<i64>,
    /// Who revoked it.
    pub revoked_by: Option<String>,
    /// Why, as a code.
    pub revoke_reason: Option<String>,
}

/// A care relationship as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CareRecord {
    /// Id.
    pub id: Uuid,
    /// The person with the need to know.
    pub personnel_id: Uuid,
    /// The patient.
    pub patient_id: Uuid,
    /// Reason code (e.g. `fastlege`, `henvisning`, `hjemmetjeneste`).
    pub reason: String,
    /// From when.
    pub valid_from: i64,
    /// Until when.
    pub valid_to: i64,
    /// Ended early, if so.
    pub ended_at: Option<i64>,
    /// Whether the person declared it for themselves (finding 3: short, flagged for review,
    /// shown to the patient as self-declared).
    pub self_declared: bool,
}

/// A self-declared care relationship not yet attested in a rights review.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SelfDeclaredFlag {
    /// Id.
    pub id: Uuid,
    /// Who declared it.
    pub personnel_id: Uuid,
    /// About which patient.
    pub patient_id: Uuid,
    /// When it was declared.
    pub created_at: i64,
}

/// An emergency access as the review sees it (the reason stays sealed in the API listing).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EmergencyRecord {
    /// Id.
    pub id: Uuid,
    /// Who took it.
    pub personnel_id: Uuid,
    /// About which patient.
    pub patient_id: Uuid,
    /// When.
    pub at: i64,
    /// The reason given (decrypted for the reviewer).
    pub reason: String,
}

/// A rights review (routine: periodic control of granted rights).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RightsReview {
    /// Id.
    pub id: Uuid,
    /// Who reviewed.
    pub reviewer_id: Uuid,
    /// When.
    pub reviewed_at: i64,
    /// Result code: `approved` or `changes-needed`.
    pub result: String,
    /// How many grant records the reviewer was shown.
    pub grants_seen: i64,
}

/// The permissions of a role name: built-in, or defined by the organisation.
pub(crate) async fn resolve_role(
    conn: &mut sqlx::SqliteConnection,
    name: &str,
) -> Result<Option<Role>, StoreError> {
    if let Some(b) = BuiltinRole::parse(name) {
        return Ok(Some(Role::builtin(b)));
    }
    let row = sqlx::query("SELECT permissions FROM roles WHERE name = ?")
        .bind(name)
        .fetch_optional(&mut *conn)
        .await?;
    let text: Option<String> = row.map(|r| r.try_get("permissions")).transpose()?;
    role_of(name, text.as_deref())
}

/// A role from its name and, for an organisation's own role, its stored permissions (None: no
/// such role). Built-in names win, as in [`resolve_role`].
fn role_of(name: &str, stored: Option<&str>) -> Result<Option<Role>, StoreError> {
    if let Some(b) = BuiltinRole::parse(name) {
        return Ok(Some(Role::builtin(b)));
    }
    stored
        .map(|text| {
            let permissions = text
                .split(',')
                .filter(|s| !s.is_empty())
                .map(|p| {
                    Permission::parse(p)
                        .ok_or(StoreError::Corrupt("a stored permission is unknown"))
                })
                .collect::<Result<BTreeSet<_>, _>>()?;
            Ok(Role {
                name: name.to_owned(),
                permissions,
            })
        })
        .transpose()
}

fn grant_from_row(r: &sqlx::sqlite::SqliteRow) -> Result<GrantRecord, StoreError> {
    Ok(GrantRecord {
        id: parse_uuid(r.try_get("id")?)?,
        personnel_id: parse_uuid(r.try_get("personnel_id")?)?,
        role: r.try_get("role")?,
        valid_from: r.try_get("valid_from")?,
        valid_to: r.try_get("valid_to")?,
        granted_by: r.try_get("granted_by")?,
        granted_at: r.try_get("granted_at")?,
        revoked_at: r.try_get("revoked_at")?,
        revoked_by: r.try_get("revoked_by")?,
        revoke_reason: r.try_get("revoke_reason")?,
    })
}

pub(crate) fn care_from_row(r: &sqlx::sqlite::SqliteRow) -> Result<CareRecord, StoreError> {
    Ok(CareRecord {
        id: parse_uuid(r.try_get("id")?)?,
        personnel_id: parse_uuid(r.try_get("personnel_id")?)?,
        patient_id: parse_uuid(r.try_get("patient_id")?)?,
        reason: r.try_get("reason")?,
        valid_from: r.try_get("valid_from")?,
        valid_to: r.try_get("valid_to")?,
        ended_at: r.try_get("ended_at")?,
        self_declared: r.try_get::<i64, _>("self_declared")? != 0,
    })
}

const GRANT_COLS: &str = "id, personnel_id, role, valid_from, valid_to, granted_by, granted_at, \
                          revoked_at, revoked_by, revoke_reason";

/// Longest a care relationship may run before it must be renewed (about two years).
pub const MAX_CARE_SECONDS: i64 = 2 * 366 * 24 * 3600;
/// How long emergency access lasts.
pub const EMERGENCY_SECONDS: i64 = 4 * 3600;

impl OrgTx<'_> {
    /// Whether a person with this id is registered.
    pub async fn personnel_exists(&mut self, id: Uuid) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT 1 FROM personnel WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(self.conn().await?)
            .await?;
        Ok(row.is_some())
    }

    /// Whether a patient with this id is registered.
    pub async fn patient_exists(&mut self, id: Uuid) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT 1 FROM patients WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(self.conn().await?)
            .await?;
        Ok(row.is_some())
    }

    /// Everything the access decision needs about one person.
    pub async fn subject(&mut self, personnel: Uuid) -> Result<Option<Subject>, StoreError> {
        Ok(self.decision_inputs(personnel).await?.0)
    }

    /// What an access decision needs, read in **one** statement on the unit's connection: the
    /// person's [`Subject`] (None: no such person) and the organisation's own minimum assurance
    /// levels (`assurance_minimums`, as [`OrgTx::assurance_minimums`] gives them). One statement
    /// instead of five or more, because a unit holds the organisation's one write connection
    /// while it runs and each statement is a hop to the connection's thread (bench/RESULTS.md,
    /// "Messages through the API").
    pub async fn decision_inputs(
        &mut self,
        personnel: Uuid,
    ) -> Result<(Option<Subject>, Vec<(String, String)>), StoreError> {
        self.personal = true;
        let pid = personnel.to_string();
        // One row per fact, by kind: p(erson), g(rant, newest first), c(are), e(mergency),
        // a(ssurance minimum). Columns: a, b text; t1..t3 integers; perms text; o the order.
        let rows = sqlx::query(
            "SELECT 'p' AS k, NULL AS a, NULL AS b, employment_end AS t1, NULL AS t2, NULL AS t3, \
                    NULL AS perms, 0 AS o \
               FROM personnel WHERE id = ?1 \
             UNION ALL \
             SELECT 'g', g.id, g.role, g.valid_from, g.valid_to, g.revoked_at, r.permissions, \
                    g.granted_at \
               FROM grants g LEFT JOIN roles r ON r.name = g.role WHERE g.personnel_id = ?1 \
             UNION ALL \
             SELECT 'c', id, patient_id, valid_from, valid_to, ended_at, NULL, 0 \
               FROM care_relationships WHERE personnel_id = ?1 \
             UNION ALL \
             SELECT 'e', id, patient_id, at, expires_at, NULL, NULL, 0 \
               FROM emergency_access WHERE personnel_id = ?1 \
             UNION ALL \
             SELECT 'a', permission, level, NULL, NULL, NULL, NULL, 0 FROM assurance_minimums \
             ORDER BY k, o DESC, a",
        )
        .bind(&pid)
        .fetch_all(self.conn().await?)
        .await?;
        let mut person: Option<Option<i64>> = None;
        let (mut grants, mut care, mut emergency, mut minimums) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for r in &rows {
            let kind: String = r.try_get("k")?;
            match kind.as_str() {
                "p" => person = Some(r.try_get("t1")?),
                "g" => {
                    let name: String = r.try_get("b")?;
                    let custom: Option<String> = r.try_get("perms")?;
                    // A grant of a role that no longer exists gives nothing (as `resolve_role`).
                    if let Some(role) = role_of(&name, custom.as_deref())? {
                        grants.push(Grant {
                            id: parse_uuid(r.try_get("a")?)?,
                            role,
                            valid_from: r.try_get("t1")?,
                            valid_to: r.try_get("t2")?,
                            revoked_at: r.try_get("t3")?,
                        });
                    }
                }
                "c" => care.push(CareRelationship {
                    id: parse_uuid(r.try_get("a")?)?,
                    patient: parse_uuid(r.try_get("b")?)?,
                    valid_from: r.try_get("t1")?,
                    valid_to: r.try_get("t2")?,
                    ended_at: r.try_get("t3")?,
                }),
                "e" => emergency.push(EmergencyAccess {
                    id: parse_uuid(r.try_get("a")?)?,
                    patient: parse_uuid(r.try_get("b")?)?,
                    at: r.try_get("t1")?,
                    expires_at: r.try_get("t2")?,
                }),
                "a" => minimums.push((r.try_get("a")?, r.try_get("b")?)),
                _ => return Err(StoreError::Corrupt("an access fact of no known kind")),
            }
        }
        let subject = person.map(|employment_end| Subject {
            employment_end,
            grants,
            care,
            emergency,
        });
        Ok((subject, minimums))
    }

    /// Every grant record of one person, newest first.
    pub async fn grants_of(&mut self, personnel: Uuid) -> Result<Vec<GrantRecord>, StoreError> {
        self.personal = true;
        sqlx::query(&format!(
            "SELECT {GRANT_COLS} FROM grants WHERE personnel_id = ? ORDER BY granted_at DESC, id"
        ))
        .bind(personnel.to_string())
        .fetch_all(self.conn().await?)
        .await?
        .iter()
        .map(grant_from_row)
        .collect()
    }

    /// Every grant record of the organisation (the authorisation register).
    pub async fn all_grants(&mut self) -> Result<Vec<GrantRecord>, StoreError> {
        self.personal = true;
        sqlx::query(&format!(
            "SELECT {GRANT_COLS} FROM grants ORDER BY personnel_id, granted_at DESC, id"
        ))
        .fetch_all(self.conn().await?)
        .await?
        .iter()
        .map(grant_from_row)
        .collect()
    }

    /// Grants a role for a time. Refuses a grant to oneself, an unknown role or person, and an
    /// empty or inverted period.
    pub async fn grant_role(
        &mut self,
        personnel: Uuid,
        role: &str,
        valid_from: i64,
        valid_to: Option<i64>,
        granted_by: &str,
        now: i64,
    ) -> Result<GrantRecord, StoreError> {
        self.personal = true;
        if granted_by == format!("personnel:{personnel}") {
            return Err(StoreError::Invalid("nobody may grant a role to themselves"));
        }
        if valid_to.is_some_and(|t| t <= valid_from) {
            return Err(StoreError::Invalid("a grant must end after it starts"));
        }
        if !self.personnel_exists(personnel).await? {
            return Err(StoreError::NotFound("no such person"));
        }
        if resolve_role(self.conn().await?, role).await?.is_none() {
            return Err(StoreError::Invalid("no such role"));
        }
        let rec = GrantRecord {
            id: Uuid::new_v4(),
            personnel_id: personnel,
            role: role.to_owned(),
            valid_from,
            valid_to,
            granted_by: granted_by.to_owned(),
            granted_at: now,
            revoked_at: None,
            revoked_by: None,
            revoke_reason: None,
        };
        sqlx::query(
            "INSERT INTO grants (id, personnel_id, role, valid_from, valid_to, granted_by, granted_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(rec.id.to_string())
        .bind(personnel.to_string())
        .bind(role)
        .bind(valid_from)
        .bind(valid_to)
        .bind(granted_by)
        .bind(now)
        .execute(self.conn().await?)
        .await?;
        Ok(rec)
    }

    /// Revokes a grant at `now`; it stops working at once. Revoking twice is refused.
    pub async fn revoke_grant(
        &mut self,
        grant: Uuid,
        revoked_by: &str,
        reason: &str,
        now: i64,
    ) -> Result<GrantRecord, StoreError> {
        self.personal = true;
        let done = sqlx::query(
            "UPDATE grants SET revoked_at = ?, revoked_by = ?, revoke_reason = ? \
             WHERE id = ? AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(revoked_by)
        .bind(reason)
        .bind(grant.to_string())
        .execute(self.conn().await?)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("no such live grant"));
        }
        let row = sqlx::query(&format!("SELECT {GRANT_COLS} FROM grants WHERE id = ?"))
            .bind(grant.to_string())
            .fetch_one(self.conn().await?)
            .await?;
        grant_from_row(&row)
    }

    /// Ends a person's employment at `at`: from then on every access, login, session and
    /// enrolment link of theirs is refused, whatever grants remain (guide risk scenario 16;
    /// finding 1). The grants stay in the register. An end at or before `now` also ends their
    /// sessions and revokes their open enrolment links at once; a future end only sets the date
    /// (the checks at login, session lookup and link use refuse from that moment).
    pub async fn set_employment_end(
        &mut self,
        personnel: Uuid,
        at: i64,
        now: time::OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.personal = true;
        let done = sqlx::query("UPDATE personnel SET employment_end = ? WHERE id = ?")
            .bind(at)
            .bind(personnel.to_string())
            .execute(self.conn().await?)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("no such person"));
        }
        if at > now.unix_timestamp() {
            return Ok(());
        }
        self.revoke_open_links(personnel, now).await?;
        // Sessions end too, so a leaver is signed out everywhere at once, not only refused.
        let at_text = time::OffsetDateTime::from_unix_timestamp(at)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .ok_or(StoreError::Invalid(
                "the end of employment is not a valid time",
            ))?;
        sqlx::query(
            "UPDATE sessions SET ended_at = ?, end_reason = 'employment-ended' \
             WHERE personnel_id = ? AND ended_at IS NULL",
        )
        .bind(at_text)
        .bind(personnel.to_string())
        .execute(self.conn().await?)
        .await?;
        Ok(())
    }

    /// Establishes a care relationship; it always expires (at most [`MAX_CARE_SECONDS`]).
    #[allow(clippy::too_many_arguments)]
    pub async fn create_care_relationship(
        &mut self,
        personnel: Uuid,
        patient: Uuid,
        reason: &str,
        valid_from: i64,
        valid_to: i64,
        created_by: &str,
        now: i64,
    ) -> Result<CareRecord, StoreError> {
        self.insert_care(
            personnel, patient, reason, valid_from, valid_to, created_by, now, false,
        )
        .await
    }

    /// Records a care relationship a person declares for themselves (finding 3): treated like
    /// emergency access, so it lasts at most [`EMERGENCY_SECONDS`] and stays flagged for the
    /// rights review until attested.
    pub async fn self_declare_care_relationship(
        &mut self,
        personnel: Uuid,
        patient: Uuid,
        reason: &str,
        now: i64,
    ) -> Result<CareRecord, StoreError> {
        let by = format!("personnel:{personnel}");
        self.insert_care(
            personnel,
            patient,
            reason,
            now,
            now + EMERGENCY_SECONDS,
            &by,
            now,
            true,
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn insert_care(
        &mut self,
        personnel: Uuid,
        patient: Uuid,
        reason: &str,
        valid_from: i64,
        valid_to: i64,
        created_by: &str,
        now: i64,
        self_declared: bool,
    ) -> Result<CareRecord, StoreError> {
        self.personal = true;
        let max = if self_declared {
            EMERGENCY_SECONDS
        } else {
            MAX_CARE_SECONDS
        };
        if valid_to <= valid_from || valid_to - valid_from > max {
            return Err(StoreError::Invalid(
                "a care relationship ends after it starts and lasts at most two years",
            ));
        }
        if !self.personnel_exists(personnel).await? {
            return Err(StoreError::NotFound("no such person"));
        }
        if !self.patient_exists(patient).await? {
            return Err(StoreError::NotFound("no such patient"));
        }
        let rec = CareRecord {
            id: Uuid::new_v4(),
            personnel_id: personnel,
            patient_id: patient,
            reason: reason.to_owned(),
            valid_from,
            valid_to,
            ended_at: None,
            self_declared,
        };
        sqlx::query(
            "INSERT INTO care_relationships (id, personnel_id, patient_id, reason, valid_from, valid_to, created_by, created_at, self_declared) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(rec.id.to_string())
        .bind(personnel.to_string())
        .bind(patient.to_string())
        .bind(reason)
        .bind(valid_from)
        .bind(valid_to)
        .bind(created_by)
        .bind(now)
        .bind(i64::from(self_declared))
        .execute(self.conn().await?)
        .await?;
        Ok(rec)
    }

    /// Self-declared care relationships no rights review has attested yet, oldest first.
    pub async fn unattested_self_declared(&mut self) -> Result<Vec<SelfDeclaredFlag>, StoreError> {
        self.personal = true;
        sqlx::query(
            "SELECT id, personnel_id, patient_id, created_at FROM care_relationships \
             WHERE self_declared = 1 AND attested_at IS NULL ORDER BY created_at, id",
        )
        .fetch_all(self.conn().await?)
        .await?
        .iter()
        .map(|r| {
            Ok(SelfDeclaredFlag {
                id: parse_uuid(r.try_get("id")?)?,
                personnel_id: parse_uuid(r.try_get("personnel_id")?)?,
                patient_id: parse_uuid(r.try_get("patient_id")?)?,
                created_at: r.try_get("created_at")?,
            })
        })
        .collect()
    }

    /// Marks self-declared care relationships as attested by a rights review.
    pub async fn attest_self_declared(&mut self, ids: &[Uuid], now: i64) -> Result<(), StoreError> {
        self.personal = true;
        for id in ids {
            sqlx::query(
                "UPDATE care_relationships SET attested_at = ? WHERE id = ? AND attested_at IS NULL",
            )
            .bind(now)
            .bind(id.to_string())
            .execute(self.conn().await?)
            .await?;
        }
        Ok(())
    }

    /// The ids of every self-declared care relationship with one patient (for their access log).
    pub async fn self_declared_care_ids(&mut self, patient: Uuid) -> Result<Vec<Uuid>, StoreError> {
        self.personal = true;
        sqlx::query("SELECT id FROM care_relationships WHERE patient_id = ? AND self_declared = 1")
            .bind(patient.to_string())
            .fetch_all(self.conn().await?)
            .await?
            .iter()
            .map(|r| parse_uuid(r.try_get("id")?))
            .collect()
    }

    /// The organisation's own minimum assurance levels, by permission (stable names and level
    /// codes as stored; permissions without a row use the server's defaults).
    pub async fn assurance_minimums(&mut self) -> Result<Vec<(String, String)>, StoreError> {
        sqlx::query("SELECT permission, level FROM assurance_minimums ORDER BY permission")
            .fetch_all(self.conn().await?)
            .await?
            .iter()
            .map(|r| Ok((r.try_get("permission")?, r.try_get("level")?)))
            .collect()
    }

    /// Sets the organisation's minimum assurance level for a permission (PC-AUTHN-3). Only
    /// `low`, `substantial` and `high` are accepted. A security setting: it commits only with an
    /// audit entry.
    pub async fn set_assurance_minimum(
        &mut self,
        permission: Permission,
        level: &str,
    ) -> Result<(), StoreError> {
        self.personal = true;
        if !matches!(level, "low" | "substantial" | "high") {
            return Err(StoreError::Invalid(
                "an assurance level is low, substantial or high",
            ));
        }
        sqlx::query(
            "INSERT INTO assurance_minimums (permission, level) VALUES (?, ?) \
             ON CONFLICT (permission) DO UPDATE SET level = excluded.level",
        )
        .bind(permission.as_str())
        .bind(level)
        .execute(self.conn().await?)
        .await?;
        Ok(())
    }

    /// Ends a care relationship at `now`.
    pub async fn end_care_relationship(
        &mut self,
        id: Uuid,
        now: i64,
    ) -> Result<CareRecord, StoreError> {
        self.personal = true;
        let done = sqlx::query(
            "UPDATE care_relationships SET ended_at = ? WHERE id = ? AND ended_at IS NULL",
        )
        .bind(now)
        .bind(id.to_string())
        .execute(self.conn().await?)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("no such live care relationship"));
        }
        let row = sqlx::query(
            "SELECT id, personnel_id, patient_id, reason, valid_from, valid_to, ended_at, \
             self_declared FROM care_relationships WHERE id = ?",
        )
        .bind(id.to_string())
        .fetch_one(self.conn().await?)
        .await?;
        care_from_row(&row)
    }

    /// Takes emergency access to a patient for [`EMERGENCY_SECONDS`], with a mandatory reason
    /// (sealed: it may describe the situation).
    pub async fn take_emergency_access(
        &mut self,
        personnel: Uuid,
        patient: Uuid,
        reason: &str,
        now: i64,
    ) -> Result<Uuid, StoreError> {
        self.personal = true;
        let reason = reason.trim();
        if reason.chars().count() < 10 || reason.chars().count() > 1000 {
            return Err(StoreError::Invalid(
                "emergency access needs a reason of 10 to 1000 characters",
            ));
        }
        if !self.patient_exists(patient).await? {
            return Err(StoreError::NotFound("no such patient"));
        }
        let id = Uuid::new_v4();
        let sealed = self.store.sealer.seal(
            "emergency_access",
            "reason",
            &id.to_string(),
            reason.as_bytes(),
        )?;
        sqlx::query(
            "INSERT INTO emergency_access (id, personnel_id, patient_id, reason_sealed, at, expires_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(id.to_string())
        .bind(personnel.to_string())
        .bind(patient.to_string())
        .bind(sealed)
        .bind(now)
        .bind(now + EMERGENCY_SECONDS)
        .execute(self.conn().await?)
        .await?;
        Ok(id)
    }

    /// Defines (or redefines) an organisation's own role. Built-in role names are reserved.
    pub async fn define_role(
        &mut self,
        name: &str,
        permissions: &BTreeSet<Permission>,
    ) -> Result<(), StoreError> {
        self.personal = true;
        let ok = !name.is_empty()
            && name.len() <= 40
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !ok {
            return Err(StoreError::Invalid(
                "a role's name is 1 to 40 characters of a-z, 0-9 and '-'",
            ));
        }
        if BuiltinRole::parse(name).is_some() {
            return Err(StoreError::Invalid("that name belongs to a built-in role"));
        }
        if permissions.is_empty() {
            return Err(StoreError::Invalid("a role gives at least one permission"));
        }
        let list: Vec<&str> = permissions.iter().map(|p| p.as_str()).collect();
        sqlx::query(
            "INSERT INTO roles (name, permissions) VALUES (?, ?) \
             ON CONFLICT (name) DO UPDATE SET permissions = excluded.permissions",
        )
        .bind(name)
        .bind(list.join(","))
        .execute(self.conn().await?)
        .await?;
        Ok(())
    }

    /// Emergency accesses nobody has reviewed yet, oldest first, with their reasons.
    pub async fn unreviewed_emergency_accesses(
        &mut self,
    ) -> Result<Vec<EmergencyRecord>, StoreError> {
        self.personal = true;
        let rows = sqlx::query(
            "SELECT id, personnel_id, patient_id, at, reason_sealed FROM emergency_access \
             WHERE reviewed_at IS NULL ORDER BY at",
        )
        .fetch_all(self.conn().await?)
        .await?;
        rows.iter()
            .map(|r| {
                let id: String = r.try_get("id")?;
                let sealed: Vec<u8> = r.try_get("reason_sealed")?;
                Ok(EmergencyRecord {
                    id: parse_uuid(&id)?,
                    personnel_id: parse_uuid(r.try_get("personnel_id")?)?,
                    patient_id: parse_uuid(r.try_get("patient_id")?)?,
                    at: r.try_get("at")?,
                    reason: self.store.sealer.open_text(
                        "emergency_access",
                        "reason",
                        &id,
                        &sealed,
                    )?,
                })
            })
            .collect()
    }

    /// Marks emergency accesses as reviewed, with the review's result.
    pub async fn mark_emergency_reviewed(
        &mut self,
        ids: &[Uuid],
        reviewer: Uuid,
        outcome: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        self.personal = true;
        for id in ids {
            sqlx::query(
                "UPDATE emergency_access SET reviewed_by = ?, reviewed_at = ?, review_outcome = ? \
                 WHERE id = ? AND reviewed_at IS NULL",
            )
            .bind(reviewer.to_string())
            .bind(now)
            .bind(outcome)
            .bind(id.to_string())
            .execute(self.conn().await?)
            .await?;
        }
        Ok(())
    }

    /// Records a rights review (attestation).
    pub async fn record_rights_review(
        &mut self,
        reviewer: Uuid,
        result: &str,
        grants_seen: i64,
        now: i64,
    ) -> Result<RightsReview, StoreError> {
        self.personal = true;
        if !matches!(result, "approved" | "changes-needed") {
            return Err(StoreError::Invalid(
                "a review's result is approved or changes-needed",
            ));
        }
        let rec = RightsReview {
            id: Uuid::new_v4(),
            reviewer_id: reviewer,
            reviewed_at: now,
            result: result.to_owned(),
            grants_seen,
        };
        sqlx::query(
            "INSERT INTO rights_reviews (id, reviewer_id, reviewed_at, result, grants_seen) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(rec.id.to_string())
        .bind(reviewer.to_string())
        .bind(now)
        .bind(result)
        .bind(grants_seen)
        .execute(self.conn().await?)
        .await?;
        Ok(rec)
    }

    /// Every rights review, newest first.
    pub async fn rights_reviews(&mut self) -> Result<Vec<RightsReview>, StoreError> {
        self.personal = true;
        sqlx::query(
            "SELECT id, reviewer_id, reviewed_at, result, grants_seen FROM rights_reviews ORDER BY reviewed_at DESC",
        )
        .fetch_all(self.conn().await?)
        .await?
        .iter()
        .map(|r| {
            Ok(RightsReview {
                id: parse_uuid(r.try_get("id")?)?,
                reviewer_id: parse_uuid(r.try_get("reviewer_id")?)?,
                reviewed_at: r.try_get("reviewed_at")?,
                result: r.try_get("result")?,
                grants_seen: r.try_get("grants_seen")?,
            })
        })
        .collect()
    }
}
