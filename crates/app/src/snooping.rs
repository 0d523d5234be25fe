//! Snooping detection over an organisation's real access log (issue #16, PC-ACL-1): a day's
//! accesses to patients' data (the day in the deployment's time zone) are read from the audit
//! log by time, each person's 60 days before it make their baseline, the care relationships,
//! roles and surnames come from the organisation's records and the population register's facts
//! from [`crate::register`] (compared as keyed hashes), and `trygg_core::snooping::day` explains what it can
//! and scores the rest as cases. For the console (`trygg snooping detect`) and the nightly job,
//! which save the day's cases; reading the log for control is itself logged. The cases go to a
//! queue for the organisation's log-control role (`log-control`, which no built-in role has:
//! managers see only what a case shows them): `cases`, `case` (each read logged, in the
//! patient's log too) and `decide` (explained, warned, confirmed; a confirmed case opens an
//! incident; nobody sees, opens or decides their own case). Emergency access can never lack its
//! note here: Trygg asks the reason when it is taken, so that rule only fires on imported or
//! other sources' logs.

use std::collections::HashMap;

use time::OffsetDateTime;
use trygg_audit::{Action, Basis as AuditBasis, Category};
use trygg_core::access::Permission;
use trygg_core::snooping::{self, Access, Baseline, Basis, Facts, Kind, Settings};
use trygg_core::Operation;
use uuid::Uuid;

use crate::access::{authorize, org_for, Caller};
use crate::audit::{Actor, Did};
use crate::context::App;
use crate::error::AppError;
use crate::operator::{Console, CONSOLE};

/// A case as the console shows it: ids and reason codes, no names.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CaseOut {
    /// The person who looked (personnel id).
    pub actor: Uuid,
    /// The patient, or none for a whole-day case (a spike).
    pub patient: Option<Uuid>,
    /// The score.
    pub score: u32,
    /// The reasons, as codes (`SameSurname`, ...).
    pub reasons: Vec<String>,
    /// The reasons in bokmål.
    pub words: Vec<String>,
    /// How many accesses.
    pub accesses: u32,
}

/// A day's result.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DayOut {
    /// Accesses explained.
    pub explained: u64,
    /// Accesses not explained.
    pub unexplained: u64,
    /// The cases, highest score first.
    pub cases: Vec<CaseOut>,
}

/// Small numbers for ids, both ways.
#[derive(Default)]
struct Ids {
    of: HashMap<Uuid, u32>,
    back: Vec<Uuid>,
}

impl Ids {
    fn id(&mut self, u: Uuid) -> u32 {
        if let Some(i) = self.of.get(&u) {
            return *i;
        }
        let i = u32::try_from(self.back.len()).unwrap_or(u32::MAX);
        self.of.insert(u, i);
        self.back.push(u);
        i
    }
}

fn surname(full: &str) -> String {
    full.split_whitespace()
        .last()
        .unwrap_or_default()
        .to_lowercase()
}

/// Judges `day` (a day in the deployment's time zone, the setting `time_zone`) in the
/// organisation's log, for the console, and saves its cases to the queue.
pub async fn detect(
    state: &App,
    _console: &Console,
    org: &str,
    day: time::Date,
    now: OffsetDateTime,
) -> Result<DayOut, AppError> {
    detect_as(state, CONSOLE, org, day, now).await
}

/// [`detect`] as Trygg's own job `who` (audit actor `trygg:<who>`): the server runs it once a
/// day for the day before.
pub async fn detect_as(
    state: &App,
    who: &str,
    org: &str,
    day: time::Date,
    now: OffsetDateTime,
) -> Result<DayOut, AppError> {
    let h = crate::operator::org(state, org).await?;
    let zone = state.config.zone();
    let start = zone.start_of(day).unix_timestamp();
    let end = day
        .next_day()
        .map_or(start + 86_400, |d| zone.start_of(d).unix_timestamp());
    let from = day
        .checked_sub(time::Duration::days(60))
        .map_or(start - 60 * 86_400, |d| zone.start_of(d).unix_timestamp());
    // The hour and the day of a moment, in the organisation's time zone.
    let local = |t: i64| {
        OffsetDateTime::from_unix_timestamp(t)
            .map(|x| zone.local(x))
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    };
    let mut persons = Ids::default();
    let mut patients = Ids::default();
    let mut facts = Facts::default();
    // The records: people, roles, surnames, care relationships; patients' surnames.
    let mut tx = h.begin().await?;
    for p in tx.list_personnel().await? {
        let a = persons.id(p.id);
        facts.role.insert(a, p.role.as_str().to_owned());
        facts.surname.insert(('a', a), surname(p.name.expose()));
        if let Some(subject) = tx.subject(p.id).await? {
            for c in subject.care {
                let until = c.ended_at.map_or(c.valid_to, |e| e.min(c.valid_to));
                facts
                    .care
                    .entry((a, patients.id(c.patient)))
                    .or_default()
                    .push((c.valid_from, until));
            }
        }
    }
    for p in tx.list_patients().await? {
        let id = patients.id(p.id);
        facts.surname.insert(('p', id), surname(p.name.expose()));
    }
    // Contacts: a consultation a person takes part in, a message they wrote; each explains a
    // look at that patient within a day of it.
    for (person, patient, at) in tx.contacts().await? {
        if at >= from - 86_400 && at < end + 86_400 {
            facts
                .contacts
                .entry((persons.id(person), patients.id(patient)))
                .or_default()
                .push(at);
        }
    }
    // The register's facts, as keyed hashes: addresses, next of kin, staff who are patients,
    // protected persons (`crate::register`).
    let reg = tx.register_facts().await?;
    let mut staff_by_nid: HashMap<&str, u32> = HashMap::new();
    for s in &reg.personnel {
        let a = persons.id(s.id);
        if let Some(n) = &s.nid_hash {
            staff_by_nid.insert(n.as_str(), a);
        }
        if let Some(addr) = &s.address_hash {
            facts.address.insert(('a', a), addr.clone());
        }
    }
    for p in &reg.patients {
        let id = patients.id(p.id);
        if let Some(addr) = &p.address_hash {
            facts.address.insert(('p', id), addr.clone());
        }
        if p.protection != "none" {
            facts.protected.insert(id);
        }
        if let Some(a) = staff_by_nid.get(p.nid_hash.as_str()) {
            // The patient is one of the staff: their own record for them, a colleague's for
            // everyone else.
            facts.own_patient.insert(*a, id);
            facts.colleagues.insert(id);
        }
        for k in &p.next_of_kin {
            if let Some(a) = staff_by_nid.get(k.as_str()) {
                facts.next_of_kin.entry(id).or_default().insert(*a);
            }
        }
    }
    // Reading the log for control is an access to log, in the same unit as the reads above.
    let e = crate::audit::event(
        &h.organisation().slug,
        &Actor::system(who),
        Did::new(
            Category::Access,
            Operation::AuditSearch,
            Action::Read,
            ("AuditEvent", None),
        )
        .basis(AuditBasis::Administration)
        .detail(Some("snooping-detect".to_owned())),
        now,
    )?;
    tx.audit(&e).await?;
    tx.commit().await?;
    // The log: the day and the 60 days before.
    let mut today = Vec::new();
    let mut baselines: HashMap<u32, Baseline> = HashMap::new();
    let mut history_days: HashMap<u32, HashMap<time::Date, std::collections::HashSet<u32>>> =
        HashMap::new();
    for (_, e) in h.audit_events_between(from * 1000, end * 1000).await? {
        // Log control's and the audit search's own reads are their job, not looks at a record.
        let op = e.operation.as_str();
        if e.category != Category::Access || op.starts_with("snoop.") || op.starts_with("audit.") {
            continue;
        }
        let at = e.recorded.unix_millis() / 1000;
        if at < from || at >= end {
            continue;
        }
        let Some(actor) = e
            .agent
            .id
            .as_ref()
            .and_then(|i| i.as_str().strip_prefix("personnel:"))
            .and_then(|u| Uuid::parse_str(u).ok())
        else {
            continue;
        };
        let Some(patient) = e
            .patient
            .as_ref()
            .and_then(|p| Uuid::parse_str(p.as_str()).ok())
        else {
            continue;
        };
        let (a, p) = (persons.id(actor), patients.id(patient));
        if at < start {
            let b = baselines.entry(a).or_default();
            let hour = usize::from(local(at).hour());
            if let Some(slot) = b.hours.get_mut(hour) {
                *slot += 1;
            }
            history_days
                .entry(a)
                .or_default()
                .entry(local(at).date())
                .or_default()
                .insert(p);
            continue;
        }
        let kind = if e.operation.as_str() == Operation::PatientList.code() {
            Kind::Search
        } else {
            Kind::Open
        };
        let basis = match e.basis {
            AuditBasis::CareRelationship { .. } => Basis::Care,
            // Trygg asks the reason when emergency access is taken: it is noted at once.
            AuditBasis::Emergency { .. } => Basis::Emergency {
                noted_after: Some(0),
            },
            _ => Basis::Role,
        };
        today.push(Access {
            at,
            actor: a,
            patient: p,
            kind,
            basis,
        });
    }
    for (a, days) in history_days {
        let b = baselines.entry(a).or_default();
        b.daily_patients = days.values().map(|s| s.len() as u32).collect();
    }
    let d = snooping::day(&today, &facts, &baselines, Settings::default(), |t| {
        usize::from(local(t).hour())
    });
    let uuid_of = |ids: &Ids, i: u32| ids.back.get(i as usize).copied();
    let out = DayOut {
        explained: d.explained,
        unexplained: d.unexplained,
        cases: d
            .cases
            .into_iter()
            .filter_map(|c| {
                Some(CaseOut {
                    actor: uuid_of(&persons, c.actor)?,
                    patient: c.patient.and_then(|p| uuid_of(&patients, p)),
                    score: c.score,
                    reasons: c.reasons.iter().map(|r| format!("{r:?}")).collect(),
                    words: c
                        .reasons
                        .iter()
                        .map(|r| r.words(trygg_core::Lang::Nb).to_owned())
                        .collect(),
                    accesses: c.accesses,
                })
            })
            .collect(),
    };
    // The cases go to the queue, once per person, patient and day.
    let day = day.to_string();
    let mut tx = h.begin().await?;
    let mut new = 0u32;
    for c in &out.cases {
        if tx
            .save_snoop_case(
                &day,
                c.actor,
                c.patient,
                c.score,
                &c.reasons.join(","),
                c.accesses,
                now,
            )
            .await?
        {
            new += 1;
        }
    }
    // A day judged whole is recorded, so the nightly job does not judge it again; a day still
    // under way is judged again when it has ended (its cases then updated).
    if end <= now.unix_timestamp() {
        tx.record_snoop_run(
            &day,
            out.explained,
            out.unexplained,
            out.cases.len() as u64,
            now,
        )
        .await?;
    }
    let e = crate::audit::event(
        &h.organisation().slug,
        &Actor::system(who),
        Did::new(
            Category::Administration,
            Operation::SnoopCaseFound,
            Action::Create,
            ("snoop-case", None),
        )
        .basis(AuditBasis::Administration)
        .detail(Some(format!("{day}-new-{new}"))),
        now,
    )?;
    tx.audit(&e).await?;
    tx.commit().await?;
    Ok(out)
}

/// A case as the log-control role reads it: ids and names, reason codes, score, outcome (the
/// names are read in the same unit as the case, under the same rule: the person who looked in
/// the queue and a case, the patient only in an opened case, whose read is in the patient's
/// log; PC-ACL-1).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct CaseView {
    /// Id.
    pub id: Uuid,
    /// The day (`YYYY-MM-DD`).
    pub day: String,
    /// The person who looked (personnel id).
    pub actor: Uuid,
    /// Their name, if the records still have them.
    pub actor_name: Option<String>,
    /// The patient: only when one case is opened (the read is then in the patient's log); the
    /// queue shows none.
    pub patient: Option<Uuid>,
    /// The patient's name, with `patient` only (none in the queue, none if the records no
    /// longer have them).
    pub patient_name: Option<String>,
    /// Whether the case is about one patient (else: the person's whole day, a spike).
    pub about_a_patient: bool,
    /// The score.
    pub score: u32,
    /// The reason codes.
    pub reasons: Vec<String>,
    /// How many accesses.
    pub accesses: u32,
    /// `explained`, `warned` or `confirmed`, once decided.
    pub outcome: Option<String>,
}

fn view(c: trygg_store::snooping::SnoopCase) -> CaseView {
    CaseView {
        id: c.id,
        day: c.day,
        actor: c.actor,
        actor_name: None,
        patient_name: None,
        about_a_patient: c.patient.is_some(),
        patient: c.patient,
        score: c.score,
        reasons: c
            .reasons
            .split(',')
            .filter(|r| !r.is_empty())
            .map(str::to_owned)
            .collect(),
        accesses: c.accesses,
        outcome: c.outcome,
    }
}

fn did(
    op: Operation,
    action: Action,
    id: Option<Uuid>,
    patient: Option<Uuid>,
    detail: Option<String>,
) -> Did {
    Did::new(
        Category::Access,
        op,
        action,
        ("snoop-case", id.map(|i| i.to_string())),
    )
    .patient(patient)
    .basis(AuditBasis::Administration)
    .detail(detail)
}

/// The open cases, highest score first (`log-control`); the read is logged.
pub async fn cases(
    state: &App,
    caller: &Caller,
    org: &str,
    now: OffsetDateTime,
) -> Result<Vec<CaseView>, AppError> {
    let h = org_for(state, caller, org, now).await?;
    let (mut tx, ok) = authorize(&h, caller, Permission::LogControl, None, now).await?;
    // Nobody sees a case about themselves.
    let list: Vec<_> = tx
        .open_snoop_cases(500)
        .await?
        .into_iter()
        .filter(|c| c.actor != caller.personnel_id)
        .collect();
    // Who looked, by name (one statement in the unit); the queue names no patient.
    let names: HashMap<Uuid, String> = if list.is_empty() {
        HashMap::new()
    } else {
        tx.list_personnel()
            .await?
            .into_iter()
            .map(|p| (p.id, p.name.expose().to_owned()))
            .collect()
    };
    let e = crate::audit::event(
        &h.organisation().slug,
        &ok.actor,
        did(
            Operation::SnoopCaseRead,
            Action::Read,
            None,
            None,
            Some("queue".into()),
        ),
        now,
    )?;
    tx.audit(&e).await?;
    tx.commit().await?;
    // The queue names no patient (its read is not in any patient's log); opening a case does.
    Ok(list
        .into_iter()
        .map(|c| CaseView {
            actor_name: names.get(&c.actor).cloned(),
            patient: None,
            ..view(c)
        })
        .collect())
}

fn no_case() -> AppError {
    AppError::not_found("TR-X404", "no such case")
}

/// An opened case with the names of the person who looked and of the patient, read in the
/// caller's unit (whose audit entry puts the read in the patient's log).
async fn named(
    tx: &mut trygg_store::OrgTx<'_>,
    c: trygg_store::snooping::SnoopCase,
) -> Result<CaseView, AppError> {
    let actor_name = tx
        .personnel_name(c.actor)
        .await?
        .map(|n| n.expose().to_owned());
    let patient_name = match c.patient {
        Some(p) => tx.patient(p).await?.map(|p| p.name.expose().to_owned()),
        None => None,
    };
    Ok(CaseView {
        actor_name,
        patient_name,
        ..view(c)
    })
}

/// Refuses a reading or a decision of a case about the caller themselves, and logs the
/// refusal (a denied attempt: the log-control role's own case is the one it must not touch).
async fn refuse_own<T>(
    mut tx: trygg_store::OrgTx<'_>,
    h: &trygg_store::OrgStore,
    actor: &Actor,
    op: Operation,
    id: Uuid,
    now: OffsetDateTime,
) -> Result<T, AppError> {
    let e = crate::audit::event(
        &h.organisation().slug,
        actor,
        did(op, Action::Read, Some(id), None, Some("own-case".into()))
            .outcome(trygg_audit::Outcome::Denied),
        now,
    )?;
    tx.audit(&e).await?;
    tx.commit().await?;
    Err(AppError::forbidden(
        "TR-X403",
        "nobody reads or decides a case about themselves",
    ))
}

/// One case (`log-control`); the read is logged, in the patient's own log too.
pub async fn case(
    state: &App,
    caller: &Caller,
    org: &str,
    id: Uuid,
    now: OffsetDateTime,
) -> Result<CaseView, AppError> {
    let h = org_for(state, caller, org, now).await?;
    let (mut tx, ok) = authorize(&h, caller, Permission::LogControl, None, now).await?;
    let c = tx.snoop_case(id).await?.ok_or_else(no_case)?;
    if c.actor == caller.personnel_id {
        return refuse_own(tx, &h, &ok.actor, Operation::SnoopCaseRead, id, now).await;
    }
    let e = crate::audit::event(
        &h.organisation().slug,
        &ok.actor,
        did(
            Operation::SnoopCaseRead,
            Action::Read,
            Some(id),
            c.patient,
            None,
        ),
        now,
    )?;
    tx.audit(&e).await?;
    let out = named(&mut tx, c).await?;
    tx.commit().await?;
    Ok(out)
}

/// A case's outcome.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OutcomeIn {
    /// `explained`, `warned` or `confirmed` (a confirmed case opens an incident).
    pub outcome: String,
}

/// Decides a case (`log-control`), once; nobody decides a case about themselves; a confirmed
/// case opens an incident in the register with the patient as affected (PC-DEV-1).
pub async fn decide(
    state: &App,
    caller: &Caller,
    org: &str,
    id: Uuid,
    input: OutcomeIn,
    now: OffsetDateTime,
) -> Result<CaseView, AppError> {
    let h = org_for(state, caller, org, now).await?;
    let (mut tx, ok) = authorize(&h, caller, Permission::LogControl, None, now).await?;
    let outcome = input.outcome.trim();
    if !["explained", "warned", "confirmed"].contains(&outcome) {
        return Err(AppError::invalid(
            "TR-X001",
            "the outcome is explained, warned or confirmed",
        ));
    }
    let c = tx.snoop_case(id).await?.ok_or_else(no_case)?;
    if c.actor == caller.personnel_id {
        return refuse_own(tx, &h, &ok.actor, Operation::SnoopCaseDecide, id, now).await;
    }
    if !tx.decide_snoop_case(id, outcome, &ok.actor.id, now).await? {
        return Err(AppError::conflict("TR-X409", "the case is decided already"));
    }
    let e = crate::audit::event(
        &h.organisation().slug,
        &ok.actor,
        did(
            Operation::SnoopCaseDecide,
            Action::Update,
            Some(id),
            c.patient,
            Some(outcome.to_owned()),
        ),
        now,
    )?;
    tx.audit(&e).await?;
    if outcome == "confirmed" {
        let facts = trygg_core::incident::Facts {
            title: "Bekreftet urettmessig innsyn / Confirmed unjustified access".into(),
            what_happened: format!("Log control confirmed snooping case {id} ({})", c.reasons),
            confidentiality: true,
            affected_patients: c.patient.iter().map(Uuid::to_string).collect(),
            ..Default::default()
        };
        let v = crate::incidents::insert(
            &mut tx,
            trygg_core::incident::Source::Person,
            None,
            &facts,
            None,
            now,
            now,
            &ok.actor,
            now,
        )
        .await?;
        crate::incidents::log(
            &mut tx,
            &h,
            &ok.actor,
            Operation::IncidentCreate,
            Action::Create,
            Some(v.id),
            Some("from-snoop-case".into()),
            now,
        )
        .await?;
    }
    let c = tx.snoop_case(id).await?.ok_or_else(no_case)?;
    let out = named(&mut tx, c).await?;
    tx.commit().await?;
    Ok(out)
}
