//! The incident register (avvik; issue #15, PC-DEV-1, PC-VENDOR-6, guide risk scenario 17): an
//! organisation's incidents, each change a new version (the rules in `trygg_core::incident`:
//! one step forward at a time, the facts each step needs, the 72-hour clock from awareness);
//! registered by a person with `compliance-manage`, the console, or drafted by Trygg itself when
//! the audit log shows repeated failed logins, a burst of refusals, a cross-organisation probe
//! or an integrity failure (`watch_round`, run every minute by the server; `draft_integrity`,
//! called when `trygg audit verify` fails). Every read and change is logged; the facts are
//! sealed; the notification report never names an affected patient.

use std::sync::Arc;

use time::OffsetDateTime;
use trygg_audit::{Action, Basis, Category};
use trygg_core::incident::{self, Clock, Facts, Observation, State, Thresholds};
use trygg_core::{Lang, Operation};
use trygg_store::{IncidentVersion, NewVersion, OrgStore, OrgTx};
use uuid::Uuid;

use crate::audit::{Actor, Did};
use crate::compliance::{begin, handle, By};
use crate::context::App;
use crate::error::AppError;

/// An incident as the API and pages show it: its latest version with its clock.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct IncidentOut {
    /// Id.
    pub id: Uuid,
    /// Reference (`AVV-2026-014`).
    pub reference: String,
    /// `person`, `security-event` or `processor-notice`.
    pub source: String,
    /// For a draft from security events, the rule that opened it.
    pub rule: Option<String>,
    /// This version's number.
    pub version: u32,
    /// `reported`, `triage`, `assessed`, `notified`, `closed`.
    pub state: String,
    /// When it occurred (RFC 3339), if known.
    pub occurred_at: Option<String>,
    /// When it was discovered.
    pub discovered_at: String,
    /// When the organisation became aware.
    pub aware_at: String,
    /// The 72-hour deadline.
    pub deadline: String,
    /// The clock: running (minutes left), overdue (minutes over) or stopped.
    #[schema(value_type = Object)]
    pub clock: Clock,
    /// Everything recorded, under the notification form's headings.
    #[schema(value_type = Object)]
    pub facts: Facts,
    /// Who made this version (an actor id).
    pub by: String,
    /// When.
    pub at: String,
}

fn rfc(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn out(v: &IncidentVersion, now: OffsetDateTime) -> Result<IncidentOut, AppError> {
    let state = State::parse(&v.state)
        .ok_or_else(|| AppError::internal("TR-V790", "a stored incident state is unknown"))?;
    let facts: Facts =
        serde_json::from_str(&v.facts).map_err(|e| AppError::internal("TR-V791", e))?;
    Ok(IncidentOut {
        id: v.id,
        reference: v.reference.clone(),
        source: v.source.clone(),
        rule: v.rule.clone(),
        version: v.version,
        state: state.as_str().to_owned(),
        occurred_at: v.occurred_at.map(rfc),
        discovered_at: rfc(v.discovered_at),
        aware_at: rfc(v.aware_at),
        deadline: rfc(incident::deadline(v.aware_at)),
        clock: incident::clock(state, v.aware_at, now),
        facts,
        by: v.by.clone(),
        at: rfc(v.at),
    })
}

/// A new incident, or a new version of one.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IncidentIn {
    /// For a change: the state it moves to (or stays in). A new incident is `reported`.
    #[serde(default)]
    pub state: Option<String>,
    /// For a new incident: `person` (default) or `processor-notice`.
    #[serde(default)]
    pub source: Option<String>,
    /// When it occurred (RFC 3339), if known.
    #[serde(default)]
    pub occurred_at: Option<String>,
    /// When it was discovered (RFC 3339); now if not given.
    #[serde(default)]
    pub discovered_at: Option<String>,
    /// When the organisation became aware (RFC 3339): the 72-hour clock's start; now if not
    /// given.
    #[serde(default)]
    pub aware_at: Option<String>,
    /// The facts; for a change, the whole new set (the form sends all of it).
    #[schema(value_type = Object)]
    pub facts: Facts,
}

fn time_of(s: &Option<String>, what: &str) -> Result<Option<OffsetDateTime>, AppError> {
    s.as_deref()
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            OffsetDateTime::parse(s.trim(), &time::format_description::well_known::Rfc3339).map_err(
                |_| AppError::invalid("TR-V002", format!("{what} is not an RFC 3339 time")),
            )
        })
        .transpose()
}

fn check(facts: &Facts) -> Result<(), AppError> {
    incident::check_facts(facts).map_err(|e| AppError::invalid("TR-V001", e.to_string()))?;
    for p in &facts.affected_patients {
        Uuid::parse_str(p)
            .map_err(|_| AppError::invalid("TR-V003", "an affected patient is not a patient id"))?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn log(
    tx: &mut OrgTx<'_>,
    h: &OrgStore,
    actor: &Actor,
    op: Operation,
    action: Action,
    id: Option<Uuid>,
    detail: Option<String>,
    now: OffsetDateTime,
) -> Result<(), AppError> {
    let e = crate::audit::event(
        &h.organisation().slug,
        actor,
        Did::new(
            Category::Administration,
            op,
            action,
            ("incident", id.map(|i| i.to_string())),
        )
        .basis(Basis::Administration)
        .detail(detail),
        now,
    )?;
    tx.audit(&e).await?;
    Ok(())
}

/// Registers an incident (state `reported`). The clock starts at `aware_at` (now if not given).
pub async fn create(
    state: &App,
    by: By<'_>,
    org: &str,
    input: IncidentIn,
    now: OffsetDateTime,
) -> Result<IncidentOut, AppError> {
    // The access decision first: a refused caller is logged whatever they sent.
    let h = handle(state, by, org, now).await?;
    let (mut tx, actor) = begin(&h, by, now).await?;
    check(&input.facts)?;
    incident::check_move(State::Reported, State::Reported, &input.facts)
        .map_err(|e| AppError::invalid("TR-V004", e.to_string()))?;
    let source = match input.source.as_deref().map(str::trim) {
        None | Some("") | Some("person") => incident::Source::Person,
        Some("processor-notice") => incident::Source::ProcessorNotice,
        Some(_) => {
            return Err(AppError::invalid(
                "TR-V005",
                "the source is person or processor-notice",
            ))
        }
    };
    let mut facts = input.facts;
    facts.observed.clear();
    let occurred = time_of(&input.occurred_at, "occurred_at")?;
    let discovered = time_of(&input.discovered_at, "discovered_at")?.unwrap_or(now);
    let aware = time_of(&input.aware_at, "aware_at")?.unwrap_or(now);
    incident::check_times(occurred, discovered, aware, None, now)
        .map_err(|e| AppError::invalid("TR-V008", e.to_string()))?;
    let v = insert(
        &mut tx, source, None, &facts, occurred, discovered, aware, &actor, now,
    )
    .await?;
    log(
        &mut tx,
        &h,
        &actor,
        Operation::IncidentCreate,
        Action::Create,
        Some(v.id),
        None,
        now,
    )
    .await?;
    tx.commit().await?;
    out(&v, now)
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn insert(
    tx: &mut OrgTx<'_>,
    source: incident::Source,
    rule: Option<&str>,
    facts: &Facts,
    occurred: Option<OffsetDateTime>,
    discovered: OffsetDateTime,
    aware: OffsetDateTime,
    actor: &Actor,
    now: OffsetDateTime,
) -> Result<IncidentVersion, AppError> {
    let json = serde_json::to_string(facts).map_err(|e| AppError::internal("TR-V792", e))?;
    Ok(tx
        .create_incident(
            now.year(),
            source.as_str(),
            rule,
            &NewVersion {
                state: State::Reported.as_str(),
                occurred_at: occurred,
                discovered_at: discovered,
                aware_at: aware,
                facts: &json,
                by: &actor.id,
            },
            now,
            |n| incident::reference(now.year(), n),
        )
        .await?)
}

fn not_found() -> AppError {
    AppError::not_found("TR-V404", "no such incident")
}

/// Adds a version: the state one step on (or the same), the facts each step needs. A closed
/// incident does not change.
pub async fn update(
    state: &App,
    by: By<'_>,
    org: &str,
    id: Uuid,
    input: IncidentIn,
    now: OffsetDateTime,
) -> Result<IncidentOut, AppError> {
    // The access decision first: a refused caller is logged whatever they sent.
    let h = handle(state, by, org, now).await?;
    let (mut tx, actor) = begin(&h, by, now).await?;
    check(&input.facts)?;
    let cur = tx.incident(id).await?.ok_or_else(not_found)?;
    let from = State::parse(&cur.state)
        .ok_or_else(|| AppError::internal("TR-V790", "a stored incident state is unknown"))?;
    let to = match input.state.as_deref() {
        None => from,
        Some(s) => State::parse(s.trim())
            .ok_or_else(|| AppError::invalid("TR-V006", format!("unknown state {s:?}")))?,
    };
    let old: Facts =
        serde_json::from_str(&cur.facts).map_err(|e| AppError::internal("TR-V791", e))?;
    let mut facts = input.facts;
    // What the watcher saw stays as it saw it.
    facts.observed = old.observed;
    incident::check_move(from, to, &facts).map_err(|e| match e {
        incident::IncidentError::Closed => AppError::conflict("TR-V409", e.to_string()),
        _ => AppError::invalid("TR-V007", e.to_string()),
    })?;
    let json = serde_json::to_string(&facts).map_err(|e| AppError::internal("TR-V792", e))?;
    let occurred = time_of(&input.occurred_at, "occurred_at")?.or(cur.occurred_at);
    let discovered = time_of(&input.discovered_at, "discovered_at")?.unwrap_or(cur.discovered_at);
    let aware = time_of(&input.aware_at, "aware_at")?.unwrap_or(cur.aware_at);
    incident::check_times(occurred, discovered, aware, Some(cur.aware_at), now)
        .map_err(|e| AppError::invalid("TR-V008", e.to_string()))?;
    tx.add_incident_version(
        id,
        cur.version + 1,
        &NewVersion {
            state: to.as_str(),
            occurred_at: occurred,
            discovered_at: discovered,
            aware_at: aware,
            facts: &json,
            by: &actor.id,
        },
        now,
    )
    .await?;
    log(
        &mut tx,
        &h,
        &actor,
        Operation::IncidentUpdate,
        Action::Update,
        Some(id),
        Some(format!("{}-to-{}", from.as_str(), to.as_str())),
        now,
    )
    .await?;
    let v = tx.incident(id).await?.ok_or_else(not_found)?;
    tx.commit().await?;
    out(&v, now)
}

/// The register: every incident's latest version, newest first.
pub async fn list(
    state: &App,
    by: By<'_>,
    org: &str,
    now: OffsetDateTime,
) -> Result<Vec<IncidentOut>, AppError> {
    let h = handle(state, by, org, now).await?;
    let (mut tx, actor) = begin(&h, by, now).await?;
    let all = tx.incidents(500).await?;
    log(
        &mut tx,
        &h,
        &actor,
        Operation::IncidentRead,
        Action::Read,
        None,
        None,
        now,
    )
    .await?;
    tx.commit().await?;
    all.iter().map(|v| out(v, now)).collect()
}

/// One incident with every version, oldest first.
pub async fn get(
    state: &App,
    by: By<'_>,
    org: &str,
    id: Uuid,
    now: OffsetDateTime,
) -> Result<Vec<IncidentOut>, AppError> {
    let h = handle(state, by, org, now).await?;
    let (mut tx, actor) = begin(&h, by, now).await?;
    let all = tx.incident_history(id).await?;
    if all.is_empty() {
        return Err(not_found());
    }
    log(
        &mut tx,
        &h,
        &actor,
        Operation::IncidentRead,
        Action::Read,
        Some(id),
        None,
        now,
    )
    .await?;
    tx.commit().await?;
    all.iter().map(|v| out(v, now)).collect()
}

/// The report for the notification to Datatilsynet, in bokmål or English, with times in the
/// deployment's time zone (no affected patient is in it).
pub async fn notification_report(
    state: &App,
    by: By<'_>,
    org: &str,
    id: Uuid,
    lang: Lang,
    now: OffsetDateTime,
) -> Result<String, AppError> {
    let h = handle(state, by, org, now).await?;
    let (mut tx, actor) = begin(&h, by, now).await?;
    let v = tx.incident(id).await?.ok_or_else(not_found)?;
    log(
        &mut tx,
        &h,
        &actor,
        Operation::IncidentRead,
        Action::Read,
        Some(id),
        Some("notification-report".to_owned()),
        now,
    )
    .await?;
    tx.commit().await?;
    let o = out(&v, now)?;
    let zone = state.config.zone();
    let when = |t: OffsetDateTime| trygg_core::words::when(t, lang, zone);
    let occurred = v.occurred_at.map(when).unwrap_or_default();
    Ok(incident::notification_report(
        &incident::ReportInput {
            reference: &o.reference,
            organisation: &h.organisation().name,
            state: State::parse(&o.state).unwrap_or(State::Reported),
            occurred: &occurred,
            discovered: &when(v.discovered_at),
            aware: &when(v.aware_at),
            deadline: &when(incident::deadline(v.aware_at)),
            facts: &o.facts,
        },
        lang,
    ))
}

/// The open incidents' clocks, for the compliance report's counters: (open, overdue).
pub async fn open_counts(h: &OrgStore, now: OffsetDateTime) -> Result<(u64, u64), AppError> {
    let mut tx = h.begin().await?;
    let all = tx.incidents(10_000).await?;
    drop(tx);
    let mut open = 0;
    let mut overdue = 0;
    for v in &all {
        let Some(s) = State::parse(&v.state) else {
            continue;
        };
        if s != State::Closed {
            open += 1;
        }
        if matches!(incident::clock(s, v.aware_at, now), Clock::Overdue { .. }) {
            overdue += 1;
        }
    }
    Ok((open, overdue))
}

/// Runs the compliance jobs until stopped: the watcher every `every`, the retention job
/// (`crate::retention::run_all`) at the first round and every `retention_every` rounds after,
/// and once a day the snooping detector over the day before (`crate::snooping::detect`).
/// A failure is logged by code and the next round comes as planned.
pub async fn run_jobs(state: App, every: std::time::Duration, retention_every: u32) {
    let mut round: u32 = 0;
    let mut checked: Option<time::Date> = None;
    loop {
        // Once a day, every organisation's days not yet judged for snooping, up to a week back,
        // are judged (issue #16): a server that was down catches up.
        let today = state.config.zone().local(state.now()).date();
        if checked != Some(today) {
            // The organisations open now and those not judged since before today (issue #18:
            // each is visited once a day, then its next visit is set to tomorrow).
            if let Ok(orgs) = state
                .store
                .job_orgs(trygg_store::Job::Snooping, state.now(), u32::MAX)
                .await
            {
                for o in orgs {
                    snooping_catch_up(&state, &o, today).await;
                }
            }
            checked = Some(today);
        }
        if round.is_multiple_of(retention_every.max(1)) {
            if let Err(e) = crate::retention::run_all(&state, state.now()).await {
                tracing::warn!(code = e.code, "the retention job's round failed");
            }
        }
        if let Err(e) = watch_round(&state, state.now()).await {
            tracing::warn!(code = e.code, "the incident watcher's round failed");
        }
        round = round.wrapping_add(1);
        tokio::time::sleep(every).await;
    }
}

/// How many days back the nightly job catches up.
const SNOOP_CATCH_UP_DAYS: i64 = 7;

/// Judges every day of the week before `today` that log control has not judged yet.
async fn snooping_catch_up(state: &App, org: &trygg_store::Organisation, today: time::Date) {
    let Ok(h) = state.store.org_for_job(org).await else {
        return;
    };
    let zone = state.config.zone();
    if let Some(tomorrow) = today.next_day() {
        let next = zone.start_of(tomorrow);
        if let Err(e) = state
            .store
            .set_job_wake(org, trygg_store::Job::Snooping, Some(next))
            .await
        {
            tracing::warn!(error = %e, "the snooping job's next visit could not be recorded");
        }
    }
    for back in (1..=SNOOP_CATCH_UP_DAYS).rev() {
        let Some(day) = today.checked_sub(time::Duration::days(back)) else {
            continue;
        };
        if h.snoop_day_judged(&day.to_string()).await.unwrap_or(true) {
            continue;
        }
        let r = crate::snooping::detect_as(state, "snooping", org.slug.as_str(), day, state.now())
            .await;
        if let Err(e) = r {
            tracing::warn!(
                code = e.code,
                "the snooping detector could not serve an organisation"
            );
            return;
        }
    }
}

/// The most events the watcher reads in one round.
const WATCH_BATCH: u32 = 20_000;

/// How far back the watcher looks (its windows), in seconds.
const LOOKBACK: i64 = 15 * 60;

/// One round of the watcher over every organisation: the security events since its position
/// (and the window before it), a draft per rule they call for unless the rule opened one in the
/// last day. Returns the drafts opened.
pub async fn watch_round(state: &App, now: OffsetDateTime) -> Result<usize, AppError> {
    let mut n = 0;
    // The organisations open now and those with entries the watcher has not read (issue #18).
    for o in state
        .store
        .job_orgs(trygg_store::Job::Watch, now, 1024)
        .await?
    {
        let r = match state.store.org_for_job(&o).await {
            Ok(h) => watch_org(&h, now).await,
            Err(e) => Err(e.into()),
        };
        match r {
            Ok(k) => n += k,
            Err(e) => tracing::warn!(
                code = e.code,
                "the incident watcher could not serve an organisation"
            ),
        }
    }
    Ok(n)
}

async fn watch_org(h: &Arc<OrgStore>, now: OffsetDateTime) -> Result<usize, AppError> {
    // Read before the log is: an entry committed after it leaves the watcher due at once when
    // the organisation closes (issue #18).
    let seen = h.generation();
    let from = h.watch_position().await?;
    let events = h.audit_events_from(from, WATCH_BATCH).await?;
    let Some(last) = events.last().map(|(s, _)| *s) else {
        h.job_visited(trygg_store::Job::Watch, seen, None);
        return Ok(0);
    };
    // While a security event is inside the window, look again in a minute; otherwise not
    // until something new is logged.
    let security_in_window = events.iter().any(|(_, e)| {
        matches!(e.category, Category::Security(_))
            && e.recorded.unix_millis() / 1000 >= now.unix_timestamp() - LOOKBACK
    });
    let horizon = now.unix_timestamp() - LOOKBACK;
    let mut obs = Vec::new();
    // The next round starts at the first event still inside the window, so a burst that
    // straddles two rounds is seen whole.
    let mut next = last + 1;
    for (seq, e) in &events {
        let at = e.recorded.unix_millis() / 1000;
        if at >= horizon {
            next = next.min(*seq);
        }
        if let Category::Security(kind) = e.category {
            let kind = serde_json::to_value(kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            let actor = e
                .agent
                .id
                .as_ref()
                .map(|i| i.as_str().to_owned())
                .or_else(|| e.source.address.map(|a| a.to_string()))
                .unwrap_or_default();
            obs.push(Observation { at, kind, actor });
        }
    }
    if events.len() >= WATCH_BATCH as usize {
        // A full batch: move past it whatever the window says, or a flood of recent events
        // would hold the watcher in place.
        next = last + 1;
    }
    let drafts = incident::watch(&obs, Thresholds::default());
    let actor = Actor::system("watch");
    let mut opened = 0;
    let mut tx = h.begin().await?;
    for d in drafts {
        let first = OffsetDateTime::from_unix_timestamp(d.first).unwrap_or(now);
        // A draft made since the burst began covers it (open or closed: a closed one was
        // handled); otherwise an open draft of the rule gets the new observation as a version,
        // or a new draft is opened.
        if tx.open_drafts_of(d.rule, first).await? > 0 {
            continue;
        }
        if !note_on_open(&mut tx, h, &actor, d.rule, &d.observed, now).await? {
            draft(&mut tx, h, &actor, d.rule, &d.observed, Some(first), now).await?;
        }
        opened += 1;
    }
    if opened > 0 || next != from {
        tx.set_watch_position(next).await?;
        tx.commit().await?;
    } else {
        drop(tx);
        let again = security_in_window.then(|| now + time::Duration::seconds(60));
        h.job_visited(trygg_store::Job::Watch, seen, again);
    }
    Ok(opened)
}

async fn draft(
    tx: &mut OrgTx<'_>,
    h: &OrgStore,
    actor: &Actor,
    rule: &str,
    observed: &str,
    occurred: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> Result<Uuid, AppError> {
    let title = match rule {
        "failed-logins" => "Mange mislykkede innlogginger / Many failed logins",
        "denied-burst" => "Gjentatte avviste tilganger / Repeated refused access",
        "cross-organisation" => "Forsøk mot en annen virksomhets data / Cross-organisation attempt",
        "integrity" => "Loggen besto ikke kontrollen / Audit log verification failed",
        _ => "Sikkerhetshendelse / Security event",
    };
    let facts = Facts {
        title: title.to_owned(),
        observed: observed.to_owned(),
        ..Facts::default()
    };
    let v = insert(
        tx,
        incident::Source::SecurityEvent,
        Some(rule),
        &facts,
        occurred,
        now,
        now,
        actor,
        now,
    )
    .await?;
    log(
        tx,
        h,
        actor,
        Operation::IncidentCreate,
        Action::Create,
        Some(v.id),
        Some(format!("draft-{rule}")),
        now,
    )
    .await?;
    Ok(v.id)
}

/// Adds the new observation to the rule's open draft as a new version (the oldest lines go first
/// when the field is full). Returns whether there was one.
async fn note_on_open(
    tx: &mut OrgTx<'_>,
    h: &OrgStore,
    actor: &Actor,
    rule: &str,
    observed: &str,
    now: OffsetDateTime,
) -> Result<bool, AppError> {
    let Some(open) = tx.open_draft_of(rule).await? else {
        return Ok(false);
    };
    let mut facts: Facts =
        serde_json::from_str(&open.facts).map_err(|e| AppError::internal("TR-V791", e))?;
    facts.observed = format!("{}\n[{}] {observed}", facts.observed, now.unix_timestamp());
    while facts.observed.chars().count() > 2000 {
        match facts.observed.split_once('\n') {
            Some((_, rest)) => facts.observed = rest.to_owned(),
            None => facts.observed = facts.observed.chars().take(2000).collect(),
        }
    }
    let json = serde_json::to_string(&facts).map_err(|e| AppError::internal("TR-V792", e))?;
    tx.add_incident_version(
        open.id,
        open.version + 1,
        &NewVersion {
            state: &open.state,
            occurred_at: open.occurred_at,
            discovered_at: open.discovered_at,
            aware_at: open.aware_at,
            facts: &json,
            by: &actor.id,
        },
        now,
    )
    .await?;
    log(
        tx,
        h,
        actor,
        Operation::IncidentUpdate,
        Action::Update,
        Some(open.id),
        Some(format!("observed-{rule}")),
        now,
    )
    .await?;
    Ok(true)
}

/// Opens a draft incident when an integrity check failed (`trygg audit verify`, or the
/// retention job finding a payload that does not match its commitment), or adds the observation
/// to the open one.
pub async fn draft_integrity(
    h: &OrgStore,
    observed: &str,
    now: OffsetDateTime,
) -> Result<bool, AppError> {
    let actor = Actor::system("watch");
    let mut tx = h.begin().await?;
    if !note_on_open(&mut tx, h, &actor, "integrity", observed, now).await? {
        draft(&mut tx, h, &actor, "integrity", observed, Some(now), now).await?;
    }
    tx.commit().await?;
    Ok(true)
}
