//! Retention per data class (issue #15, PC-STORE-1; guide risk scenarios 15, 26–29): the
//! organisation's policy (read and changed within `trygg_core::retention`'s limits, by a person
//! with `compliance-manage` or the console, every change logged) and the retention job, which
//! deletes what is due in each organisation in one unit of work per run: unfiled messages of
//! threads quiet for the policy's months (content gone, the row kept as a trace, as the message
//! jobs do), audit payloads past their committed retention end (commitments, tree and
//! checkpoints kept, so `trygg audit verify` still passes), grant records past their years, and
//! incidents closed longer ago than theirs. Every run is recorded with its counts and logged.
//! Security events are audit entries whose retention end is committed from their own class.

use std::sync::Arc;

use time::OffsetDateTime;
use trygg_audit::{Action, Basis, Category};
use trygg_core::retention::{DataClass, Policy, Unit};
use trygg_core::Operation;
use trygg_store::{OrgStore, OrgTx};

use crate::audit::{Actor, Did};
use crate::compliance::{begin, handle, By};
use crate::context::App;
use crate::error::AppError;

/// At most this many rows of a class go per run (the next run takes the rest).
const BATCH: u32 = 2_000;

/// One class of the policy, as pages and the report show it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ClassOut {
    /// The class's code (`messages`, `audit-log`, ...).
    pub class: String,
    /// Its value now.
    pub value: u32,
    /// `months` or `years`.
    pub unit: String,
    /// The default.
    pub default: u32,
    /// The smallest value allowed.
    pub min: u32,
    /// The largest value allowed.
    pub max: u32,
    /// What the class is (English).
    pub en: String,
    /// What the class is (bokmål).
    pub nb: String,
}

/// The policy as rows.
pub fn rows(p: &Policy) -> Vec<ClassOut> {
    p.entries()
        .into_iter()
        .map(|(c, v)| {
            let (min, max) = c.limits();
            let (en, nb) = c.words();
            ClassOut {
                class: c.as_str().to_owned(),
                value: v,
                unit: match c.unit() {
                    Unit::Months => "months",
                    Unit::Years => "years",
                }
                .to_owned(),
                default: c.default_value(),
                min,
                max,
                en: en.to_owned(),
                nb: nb.to_owned(),
            }
        })
        .collect()
}

/// The organisation's policy as stored.
pub async fn policy_of(h: &OrgStore) -> Result<Policy, AppError> {
    Ok(Policy::from_stored(&h.retention_values().await?))
}

/// The organisation's retention policy. Reading a setting holds no personal data: the access
/// decision is made and nothing is logged.
pub async fn policy(
    state: &App,
    by: By<'_>,
    org: &str,
    now: OffsetDateTime,
) -> Result<Vec<ClassOut>, AppError> {
    let h = handle(state, by, org, now).await?;
    let (tx, _) = begin(&h, by, now).await?;
    drop(tx);
    Ok(rows(&policy_of(&h).await?))
}

/// A change of one class.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetentionIn {
    /// The class's code.
    pub class: String,
    /// The new value, in the class's unit.
    pub value: u32,
}

/// Changes one class's retention within its limits; logged with the old and new value. The audit
/// log's and the security events' new values apply to entries written from now on (their
/// retention end is committed in each entry).
pub async fn set(
    state: &App,
    by: By<'_>,
    org: &str,
    input: RetentionIn,
    now: OffsetDateTime,
) -> Result<Vec<ClassOut>, AppError> {
    // The access decision first: a refused caller is logged whatever they sent.
    let h = handle(state, by, org, now).await?;
    let (mut tx, actor) = begin(&h, by, now).await?;
    let class = DataClass::parse(input.class.trim()).ok_or_else(|| {
        AppError::invalid("TR-R001", format!("unknown data class {:?}", input.class))
    })?;
    // Read in the unit: two changes at once are checked one after the other.
    let old = Policy::from_stored(&tx.retention_values_in_unit().await?);
    let new = old
        .with(class, input.value)
        .map_err(|e| AppError::invalid("TR-R002", e.to_string()))?;
    tx.set_retention(class.as_str(), input.value, now).await?;
    let e = crate::audit::event(
        &h.organisation().slug,
        &actor,
        Did::new(
            Category::Administration,
            Operation::RetentionSet,
            Action::Update,
            ("setting", Some(format!("retention-{}", class.as_str()))),
        )
        .basis(Basis::Administration)
        .detail(Some(format!("{}-to-{}", old.get(class), input.value))),
        now,
    )?;
    tx.audit(&e).await?;
    tx.commit().await?;
    h.use_retention(&new);
    Ok(rows(&new))
}

/// What one run deleted, per class.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RunOut {
    /// Unfiled messages whose content was deleted.
    pub messages: u64,
    /// Audit entries (security events among them) whose payload was removed.
    pub audit_payloads: u64,
    /// Grant records deleted.
    pub grant_records: u64,
    /// Closed incidents deleted.
    pub incidents: u64,
}

impl RunOut {
    fn detail(&self) -> String {
        format!(
            "messages-{}-audit-{}-grants-{}-incidents-{}",
            self.messages.min(999_999),
            self.audit_payloads.min(999_999),
            self.grant_records.min(999_999),
            self.incidents.min(999_999)
        )
    }
}

/// Runs the retention job over every organisation at `now`; one that fails is named in the
/// operator log by code and does not stop the others.
pub async fn run_all(state: &App, now: OffsetDateTime) -> Result<Vec<(String, RunOut)>, AppError> {
    let mut out = Vec::new();
    // The organisations open now, and the closed ones whose day has come (issue #18): a closed
    // organisation is visited once a day, an open one every round.
    for o in state
        .store
        .job_orgs(trygg_store::Job::Retention, now, 1024)
        .await?
    {
        let r = match state.store.org_for_job(&o).await {
            Ok(h) => run_org(&h, now).await,
            Err(e) => Err(e.into()),
        };
        if r.is_ok() {
            let next = now + time::Duration::days(1);
            if let Err(e) = state
                .store
                .set_job_wake(&o, trygg_store::Job::Retention, Some(next))
                .await
            {
                tracing::warn!(error = %e, "the retention job's next visit could not be recorded");
            }
        }
        match r {
            Ok(r) => out.push((o.slug.to_string(), r)),
            Err(e) => tracing::warn!(
                code = e.code,
                "the retention job could not serve an organisation"
            ),
        }
    }
    Ok(out)
}

/// Runs the retention job for one organisation (the console: `trygg retention run --org`).
pub async fn run(state: &App, org: &str, now: OffsetDateTime) -> Result<RunOut, AppError> {
    let h = crate::operator::org(state, org).await?;
    run_org(&h, now).await
}

async fn run_org(h: &Arc<OrgStore>, now: OffsetDateTime) -> Result<RunOut, AppError> {
    let policy = policy_of(h).await?;
    let before =
        |class: DataClass| now - time::Duration::milliseconds(class.millis(policy.get(class)));
    let actor = Actor::system("retention");
    let slug = h.organisation().slug.clone();
    let mut out = RunOut::default();
    let mut tx = h.begin().await?;
    for (id, patient) in tx
        .messages_of_quiet_threads(before(DataClass::Messages), BATCH)
        .await?
    {
        if tx.expire_message(id, now).await? {
            let e = crate::audit::event(
                &slug,
                &actor,
                Did::new(
                    Category::Access,
                    Operation::MessageExpire,
                    Action::Delete,
                    ("message", Some(id.to_string())),
                )
                .patient(Some(patient))
                .basis(Basis::None)
                .detail(Some(format!(
                    "retention-{}m",
                    policy.get(DataClass::Messages)
                ))),
                now,
            )?;
            tx.audit(&e).await?;
            out.messages += 1;
        }
    }
    let (removed, tampered) = tx
        .remove_due_audit_payloads(
            now,
            DataClass::AuditLog.millis(policy.get(DataClass::AuditLog)),
            DataClass::SecurityEvents.millis(policy.get(DataClass::SecurityEvents)),
            BATCH * 5,
        )
        .await?;
    out.audit_payloads = removed;
    out.grant_records = tx
        .delete_ended_grants(before(DataClass::GrantRecords), BATCH)
        .await?;
    out.incidents = tx
        .delete_closed_incidents(before(DataClass::IncidentRegister), BATCH)
        .await?;
    record(&mut tx, &slug, &actor, &out, now).await?;
    tx.commit().await?;
    // A change made at the console (another process) reaches this one's writer here, at the
    // latest an hour later; until then the job above still keeps to the stored policy.
    h.use_retention(&policy);
    if let Some(first) = tampered.first() {
        // Kept, not cleared: the payload no longer matches what the log committed to.
        let observed = format!(
            "the retention job found {} audit entries whose contents do not match their commitment (first: entry {first}); they were kept",
            tampered.len()
        );
        crate::incidents::draft_integrity(h, &observed, now).await?;
    }
    Ok(out)
}

async fn record(
    tx: &mut OrgTx<'_>,
    slug: &trygg_core::OrgSlug,
    actor: &Actor,
    out: &RunOut,
    now: OffsetDateTime,
) -> Result<(), AppError> {
    let counts = serde_json::to_string(out).map_err(|e| AppError::internal("TR-R791", e))?;
    let id = tx.record_retention_run(now, now, &counts).await?;
    let e = crate::audit::event(
        slug,
        actor,
        Did::new(
            Category::Administration,
            Operation::RetentionRun,
            Action::Delete,
            ("retention-run", Some(id.to_string())),
        )
        .basis(Basis::System)
        .detail(Some(out.detail())),
        now,
    )?;
    tx.audit(&e).await?;
    Ok(())
}

/// The latest run of the organisation: when, and what it deleted.
pub async fn last_run(h: &OrgStore) -> Result<Option<(OffsetDateTime, RunOut)>, AppError> {
    Ok(match h.last_retention_run().await? {
        Some((at, counts)) => Some((
            at,
            serde_json::from_str(&counts).map_err(|e| AppError::internal("TR-R792", e))?,
        )),
        None => None,
    })
}

/// The latest run as a person with `compliance-manage` or the console sees it: when (RFC 3339)
/// and what it deleted. Reads no personal data; not logged.
pub async fn last_run_by(
    state: &App,
    by: By<'_>,
    org: &str,
    now: OffsetDateTime,
) -> Result<Option<(String, RunOut)>, AppError> {
    let h = handle(state, by, org, now).await?;
    let (tx, _) = begin(&h, by, now).await?;
    drop(tx);
    Ok(last_run(&h).await?.map(|(t, r)| {
        (
            t.format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            r,
        )
    }))
}
