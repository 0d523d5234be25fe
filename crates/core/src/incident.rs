//! The incident register's rules (avvik; issue #15, PC-DEV-1, PC-VENDOR-6, guide risk scenario
//! 17): an incident's states and the moves between them, the 72-hour deadline from awareness
//! (GDPR art. 33), its reference (`AVV-2026-014`), the facts under Datatilsynet's form headings,
//! the assessment and the notification decision, the notification report in bokmål and English,
//! and which security events open a draft on their own (`watch`). Pure: time is a parameter.

use std::fmt;

use time::OffsetDateTime;

use crate::Lang;

/// How long after awareness the authority must be notified (GDPR art. 33(1)).
pub const DEADLINE_HOURS: i64 = 72;

/// Where an incident is in its handling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// Reported (or drafted from security events), not yet looked at.
    Reported,
    /// Someone is finding out what happened.
    Triage,
    /// The risk to the people affected is assessed.
    Assessed,
    /// The authority (and, when decided, the people affected) were notified, or the decision
    /// not to was recorded with its reason.
    Notified,
    /// Handled; measures done or owned.
    Closed,
}

impl State {
    /// Every state in order.
    pub const ALL: [State; 5] = [
        Self::Reported,
        Self::Triage,
        Self::Assessed,
        Self::Notified,
        Self::Closed,
    ];

    /// The stable code.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reported => "reported",
            Self::Triage => "triage",
            Self::Assessed => "assessed",
            Self::Notified => "notified",
            Self::Closed => "closed",
        }
    }

    /// Parses the stable code.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// The state in words.
    pub fn words(self, lang: Lang) -> &'static str {
        let (nb, nn, en) = match self {
            Self::Reported => ("Meldt", "Meldt", "Reported"),
            Self::Triage => ("Under avklaring", "Under avklaring", "In triage"),
            Self::Assessed => ("Vurdert", "Vurdert", "Assessed"),
            Self::Notified => ("Varslet", "Varsla", "Notified"),
            Self::Closed => ("Lukket", "Lukka", "Closed"),
        };
        match lang {
            Lang::Nb => nb,
            Lang::Nn => nn,
            Lang::En => en,
        }
    }

    fn rank(self) -> u8 {
        match self {
            Self::Reported => 0,
            Self::Triage => 1,
            Self::Assessed => 2,
            Self::Notified => 3,
            Self::Closed => 4,
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who or what reported an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// A person (an employee, a patient who called).
    Person,
    /// Trygg, from security events in the audit log.
    SecurityEvent,
    /// A data processor's notice (PC-VENDOR-6).
    ProcessorNotice,
}

impl Source {
    /// The stable code.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Person => "person",
            Self::SecurityEvent => "security-event",
            Self::ProcessorNotice => "processor-notice",
        }
    }

    /// Parses the stable code.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Person, Self::SecurityEvent, Self::ProcessorNotice]
            .into_iter()
            .find(|x| x.as_str() == s)
    }
}

/// The risk to the people affected (GDPR art. 33/34).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Risk {
    /// Unlikely to result in a risk: record it, no notification.
    NoRisk,
    /// A risk: notify the authority within 72 hours.
    Risk,
    /// A high risk: notify the authority and the people affected.
    HighRisk,
}

impl Risk {
    /// The stable code.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoRisk => "no-risk",
            Self::Risk => "risk",
            Self::HighRisk => "high-risk",
        }
    }

    /// Parses the stable code.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::NoRisk, Self::Risk, Self::HighRisk]
            .into_iter()
            .find(|x| x.as_str() == s)
    }
}

/// A measure taken or to be taken.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Measure {
    /// What.
    pub what: String,
    /// Who owns it (a role or a name the organisation chooses).
    pub owner: String,
    /// When it is due (`YYYY-MM-DD`).
    pub due: String,
}

/// Everything recorded about an incident, under Datatilsynet's form headings. Kept sealed.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Facts {
    /// A short title.
    pub title: String,
    /// Who owns the handling.
    pub owner: String,
    /// What happened.
    pub what_happened: String,
    /// The cause, as far as known.
    pub cause: String,
    /// Confidentiality breached.
    pub confidentiality: bool,
    /// Integrity breached.
    pub integrity: bool,
    /// Availability breached.
    pub availability: bool,
    /// Categories of personal data affected (free words: "health data", "contact data").
    pub data_categories: String,
    /// Approximate number of people affected.
    pub people_approx: Option<u32>,
    /// Approximate number of records affected.
    pub records_approx: Option<u32>,
    /// The affected patients, by opaque id (never shown in a report).
    pub affected_patients: Vec<String>,
    /// The assessment of the risk.
    pub risk: Option<Risk>,
    /// Why that assessment.
    pub risk_rationale: String,
    /// Measures with owners and due dates.
    pub measures: Vec<Measure>,
    /// The decision to notify the authority, once made.
    pub notify_authority: Option<bool>,
    /// The decision to notify the people affected, once made.
    pub notify_people: Option<bool>,
    /// Why not, when a decision is no.
    pub no_notify_reason: String,
    /// For a draft from security events: what was seen (codes and counts, no personal data).
    pub observed: String,
}

/// A move that is not allowed, or facts that do not yet allow it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IncidentError {
    /// Backwards, or skipping a step.
    #[error("an incident moves from {from} only to the next state (or stays), not to {to}")]
    Move {
        /// From.
        from: State,
        /// To.
        to: State,
    },
    /// A step needs facts first.
    #[error("{0}")]
    Incomplete(&'static str),
    /// A closed incident does not change.
    #[error("a closed incident does not change")]
    Closed,
}

/// Whether `facts` may move from `from` to `to`. An incident moves one step forward at a time
/// (or stays to record more facts); `assessed` needs the risk and its rationale; `notified` the
/// two decisions and, for a "no", its reason; a high risk means the people affected are told.
pub fn check_move(from: State, to: State, facts: &Facts) -> Result<(), IncidentError> {
    if from == State::Closed {
        return Err(IncidentError::Closed);
    }
    if to.rank() != from.rank() && to.rank() != from.rank() + 1 {
        return Err(IncidentError::Move { from, to });
    }
    if facts.title.trim().is_empty() {
        return Err(IncidentError::Incomplete("an incident needs a title"));
    }
    if to.rank() >= State::Assessed.rank()
        && (facts.risk.is_none() || facts.risk_rationale.trim().is_empty())
    {
        return Err(IncidentError::Incomplete(
            "an assessment needs the risk and its rationale",
        ));
    }
    if to.rank() >= State::Notified.rank() {
        let (Some(a), Some(p)) = (facts.notify_authority, facts.notify_people) else {
            return Err(IncidentError::Incomplete(
                "record both decisions: to notify the authority and the people affected",
            ));
        };
        if (!a || !p) && facts.no_notify_reason.trim().is_empty() {
            return Err(IncidentError::Incomplete(
                "a decision not to notify needs its reason",
            ));
        }
        if facts.risk != Some(Risk::NoRisk) && !a {
            return Err(IncidentError::Incomplete(
                "a risk to people's rights means the authority is notified",
            ));
        }
        if facts.risk == Some(Risk::HighRisk) && !p {
            return Err(IncidentError::Incomplete(
                "a high risk means the people affected are told",
            ));
        }
    }
    Ok(())
}

/// The deadline: 72 hours after the organisation became aware.
pub fn deadline(aware: OffsetDateTime) -> OffsetDateTime {
    aware.saturating_add(time::Duration::hours(DEADLINE_HOURS))
}

/// Checks an incident's times: each between 2000 and a few minutes from now (clocks differ),
/// and in order: occurred, then discovered, then aware. On a change, the awareness may only move
/// earlier (`before`: the current one), so a missed deadline cannot be hidden by moving it.
pub fn check_times(
    occurred: Option<OffsetDateTime>,
    discovered: OffsetDateTime,
    aware: OffsetDateTime,
    before: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> Result<(), IncidentError> {
    let earliest = time::macros::datetime!(2000-01-01 0:00 UTC);
    let latest = now.saturating_add(time::Duration::minutes(5));
    for t in occurred.iter().chain([&discovered, &aware]) {
        if *t < earliest || *t > latest {
            return Err(IncidentError::Incomplete(
                "a time is before 2000 or in the future",
            ));
        }
    }
    if occurred.is_some_and(|o| o > discovered) || discovered > aware {
        return Err(IncidentError::Incomplete(
            "the times are in the order: occurred, discovered, aware",
        ));
    }
    if before.is_some_and(|b| aware > b) {
        return Err(IncidentError::Incomplete(
            "the time of awareness can only move earlier: the 72 hours run from the first",
        ));
    }
    Ok(())
}

/// Where an incident's clock stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case", tag = "clock")]
pub enum Clock {
    /// Running: minutes left.
    Running {
        /// Whole minutes to the deadline.
        minutes_left: i64,
    },
    /// Past the deadline with no notification decision.
    Overdue {
        /// Whole minutes since the deadline.
        minutes_over: i64,
    },
    /// Stopped: the decision is recorded (notified or closed).
    Stopped,
}

/// The clock of an incident in `state`, aware at `aware`, at `now`.
pub fn clock(state: State, aware: OffsetDateTime, now: OffsetDateTime) -> Clock {
    if state.rank() >= State::Notified.rank() {
        return Clock::Stopped;
    }
    let left = (deadline(aware) - now).whole_minutes();
    if left >= 0 {
        Clock::Running { minutes_left: left }
    } else {
        Clock::Overdue {
            minutes_over: -left,
        }
    }
}

impl Clock {
    /// The clock in words ("41 t 12 min igjen", "3 h 5 min over the deadline").
    pub fn words(self, lang: Lang) -> String {
        let hm = |m: i64| (m / 60, m % 60);
        match (self, lang) {
            (Self::Running { minutes_left }, Lang::En) => {
                let (h, m) = hm(minutes_left);
                format!("{h} h {m} min left of 72 h")
            }
            (Self::Running { minutes_left }, _) => {
                let (h, m) = hm(minutes_left);
                format!("{h} t {m} min igjen av 72 t")
            }
            (Self::Overdue { minutes_over }, Lang::En) => {
                let (h, m) = hm(minutes_over);
                format!("{h} h {m} min past the 72-hour deadline")
            }
            (Self::Overdue { minutes_over }, Lang::Nb) => {
                let (h, m) = hm(minutes_over);
                format!("{h} t {m} min over 72-timersfristen")
            }
            (Self::Overdue { minutes_over }, Lang::Nn) => {
                let (h, m) = hm(minutes_over);
                format!("{h} t {m} min over 72-timarsfristen")
            }
            (Self::Stopped, Lang::En) => "decision recorded".to_owned(),
            (Self::Stopped, Lang::Nb) => "beslutning registrert".to_owned(),
            (Self::Stopped, Lang::Nn) => "avgjerd registrert".to_owned(),
        }
    }
}

/// The reference of the `n`th incident of `year`: `AVV-2026-014`.
pub fn reference(year: i32, n: u32) -> String {
    format!("AVV-{year}-{n:03}")
}

/// Checks a free-text field: bounded, no control characters or bidirectional overrides.
pub fn check_text(s: &str, max: usize) -> Result<(), IncidentError> {
    if s.chars().count() > max {
        return Err(IncidentError::Incomplete("a field is too long"));
    }
    if s.chars().any(|c| {
        (c.is_control() && c != '\n' && c != '\r' && c != '\t')
            || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}')
    }) {
        return Err(IncidentError::Incomplete(
            "a field holds control or direction characters",
        ));
    }
    Ok(())
}

/// Checks every text field of the facts.
pub fn check_facts(f: &Facts) -> Result<(), IncidentError> {
    for (s, max) in [
        (&f.title, 200),
        (&f.owner, 200),
        (&f.what_happened, 8000),
        (&f.cause, 4000),
        (&f.data_categories, 1000),
        (&f.risk_rationale, 4000),
        (&f.no_notify_reason, 4000),
        (&f.observed, 2000),
    ] {
        check_text(s, max)?;
    }
    if f.measures.len() > 50 || f.affected_patients.len() > 100_000 {
        return Err(IncidentError::Incomplete("too many measures or patients"));
    }
    for m in &f.measures {
        check_text(&m.what, 1000)?;
        check_text(&m.owner, 200)?;
        check_text(&m.due, 10)?;
        if !m.due.is_empty() && !looks_like_date(&m.due) {
            return Err(IncidentError::Incomplete(
                "a measure's due date is YYYY-MM-DD",
            ));
        }
    }
    Ok(())
}

fn looks_like_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

/// An incident as the notification report reads it.
pub struct ReportInput<'a> {
    /// Its reference.
    pub reference: &'a str,
    /// The organisation's name.
    pub organisation: &'a str,
    /// Its state.
    pub state: State,
    /// When it occurred, was discovered, and the organisation became aware (already in words).
    pub occurred: &'a str,
    /// Discovered.
    pub discovered: &'a str,
    /// Aware.
    pub aware: &'a str,
    /// The deadline in words.
    pub deadline: &'a str,
    /// The facts.
    pub facts: &'a Facts,
}

/// The report for the notification to Datatilsynet, under the form's headings, as plain text in
/// bokmål or English (nynorsk readers get bokmål, as the authority's form). The affected
/// patients are never in it: only their approximate number.
pub fn notification_report(r: &ReportInput<'_>, lang: Lang) -> String {
    let en = lang == Lang::En;
    let h = |nb: &'static str, e: &'static str| if en { e } else { nb };
    let yes_no = |b: bool| match (b, en) {
        (true, true) => "yes",
        (false, true) => "no",
        (true, false) => "ja",
        (false, false) => "nei",
    };
    let unknown = h("ikke kjent", "not known");
    let decided = |d: Option<bool>| d.map_or(h("ikke avgjort", "not decided"), yes_no);
    let num = |n: Option<u32>| n.map_or(unknown.to_owned(), |n| format!("ca. {n}"));
    let f = r.facts;
    let mut out = String::new();
    let mut line = |k: &str, v: &str| {
        out.push_str(k);
        out.push_str(": ");
        out.push_str(if v.trim().is_empty() { unknown } else { v });
        out.push('\n');
    };
    line(
        h(
            "Melding om brudd på personopplysningssikkerheten",
            "Personal data breach notification",
        ),
        r.reference,
    );
    line(h("Behandlingsansvarlig", "Controller"), r.organisation);
    line(
        h("Status", "Status"),
        r.state.words(if en { Lang::En } else { Lang::Nb }),
    );
    line(h("Tittel", "Title"), &f.title);
    line(h("Ansvarlig for oppfølging", "Owner"), &f.owner);
    line(
        h("Tidspunkt for bruddet", "When the breach occurred"),
        r.occurred,
    );
    line(
        h("Tidspunkt bruddet ble oppdaget", "When it was discovered"),
        r.discovered,
    );
    line(
        h(
            "Tidspunkt virksomheten ble kjent med bruddet",
            "When the controller became aware",
        ),
        r.aware,
    );
    line(
        h(
            "Frist for melding (72 timer)",
            "Deadline for notification (72 hours)",
        ),
        r.deadline,
    );
    line(h("Hva har skjedd", "What happened"), &f.what_happened);
    line(h("Årsak", "Cause"), &f.cause);
    let cia = [
        (f.confidentiality, h("konfidensialitet", "confidentiality")),
        (f.integrity, h("integritet", "integrity")),
        (f.availability, h("tilgjengelighet", "availability")),
    ]
    .iter()
    .filter(|(b, _)| *b)
    .map(|(_, w)| *w)
    .collect::<Vec<_>>()
    .join(", ");
    line(h("Type brudd", "Type of breach"), &cia);
    line(
        h(
            "Kategorier personopplysninger",
            "Categories of personal data",
        ),
        &f.data_categories,
    );
    line(
        h(
            "Omtrentlig antall berørte personer",
            "Approximate number of people affected",
        ),
        &num(f.people_approx),
    );
    line(
        h(
            "Omtrentlig antall berørte registreringer",
            "Approximate number of records affected",
        ),
        &num(f.records_approx),
    );
    let risk = f.risk.map_or(unknown, |r| match (r, en) {
        (Risk::NoRisk, true) => "unlikely to result in a risk",
        (Risk::Risk, true) => "a risk to people's rights and freedoms",
        (Risk::HighRisk, true) => "a high risk to people's rights and freedoms",
        (Risk::NoRisk, false) => "lite sannsynlig at det medfører risiko",
        (Risk::Risk, false) => "risiko for de registrertes rettigheter og friheter",
        (Risk::HighRisk, false) => "høy risiko for de registrertes rettigheter og friheter",
    });
    line(h("Vurdering av risiko", "Risk assessment"), risk);
    line(h("Begrunnelse", "Rationale"), &f.risk_rationale);
    let measures = f
        .measures
        .iter()
        .map(|m| format!("{} ({}, {})", m.what, m.owner, m.due))
        .collect::<Vec<_>>()
        .join("; ");
    line(h("Tiltak", "Measures"), &measures);
    line(
        h("Melding til Datatilsynet", "Notification of the authority"),
        decided(f.notify_authority),
    );
    line(
        h(
            "Varsel til de berørte",
            "Communication to the people affected",
        ),
        decided(f.notify_people),
    );
    if f.notify_authority == Some(false) || f.notify_people == Some(false) {
        line(
            h("Begrunnelse for ikke å varsle", "Reason not to notify"),
            &f.no_notify_reason,
        );
    }
    out
}

/// A security event the watcher sees (from the audit log: codes, no personal data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// When (Unix seconds).
    pub at: i64,
    /// The security kind's code (`failed-login`, `access-denied`, `cross-organisation`,
    /// `integrity-failure`, ...).
    pub kind: String,
    /// The acting agent's opaque id (or the address for an anonymous failure).
    pub actor: String,
}

/// A draft the watcher opens: which rule, and what it saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    /// The rule's code (`failed-logins`, `denied-burst`, `cross-organisation`, `integrity`).
    pub rule: &'static str,
    /// What was seen, in words with codes and counts only.
    pub observed: String,
    /// The first event's time (Unix seconds): when it occurred.
    pub first: i64,
}

/// The watcher's thresholds: failed logins in the organisation, access refusals of one actor,
/// each within `window` seconds; any cross-organisation probe; any integrity failure.
#[derive(Debug, Clone, Copy)]
pub struct Thresholds {
    /// Failed logins that open a draft.
    pub failed_logins: usize,
    /// Refusals of one actor that open a draft.
    pub denied: usize,
    /// The window, seconds.
    pub window: i64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            failed_logins: 20,
            denied: 10,
            window: 15 * 60,
        }
    }
}

/// Which drafts the observations call for, at most one per rule (sliding window over time-sorted
/// observations). The caller skips a rule that has an open draft already.
pub fn watch(observations: &[Observation], t: Thresholds) -> Vec<Draft> {
    let mut obs: Vec<&Observation> = observations.iter().collect();
    obs.sort_by_key(|o| o.at);
    let mut out = Vec::new();
    let burst = |list: &[&Observation], need: usize| -> Option<(i64, usize)> {
        if need == 0 {
            return None;
        }
        for (i, o) in list.iter().enumerate() {
            let n = list[i..]
                .iter()
                .take_while(|x| x.at - o.at <= t.window)
                .count();
            if n >= need {
                return Some((o.at, n));
            }
        }
        None
    };
    let failed: Vec<&Observation> = obs
        .iter()
        .copied()
        .filter(|o| o.kind == "failed-login")
        .collect();
    if let Some((first, n)) = burst(&failed, t.failed_logins) {
        out.push(Draft {
            rule: "failed-logins",
            observed: format!("{n} failed logins within {} minutes", t.window / 60),
            first,
        });
    }
    let mut actors: Vec<&str> = obs
        .iter()
        .filter(|o| o.kind == "access-denied")
        .map(|o| o.actor.as_str())
        .collect();
    actors.sort_unstable();
    actors.dedup();
    // Every actor with a burst counts (one noisy actor must not hide another).
    let mut bursts: Vec<(i64, usize)> = Vec::new();
    for a in actors {
        let list: Vec<&Observation> = obs
            .iter()
            .copied()
            .filter(|o| o.kind == "access-denied" && o.actor == a)
            .collect();
        bursts.extend(burst(&list, t.denied));
    }
    if let Some(first) = bursts.iter().map(|b| b.0).min() {
        let largest = bursts.iter().map(|b| b.1).max().unwrap_or(0);
        out.push(Draft {
            rule: "denied-burst",
            observed: format!(
                "refused accesses in bursts by {} actor(s) within {} minutes (largest {largest})",
                bursts.len(),
                t.window / 60
            ),
            first,
        });
    }
    let cross: Vec<&&Observation> = obs
        .iter()
        .filter(|o| o.kind == "cross-organisation")
        .collect();
    if let Some(o) = cross.first() {
        out.push(Draft {
            rule: "cross-organisation",
            observed: format!(
                "{} attempts to reach another organisation's data",
                cross.len()
            ),
            first: o.at,
        });
    }
    let integrity: Vec<&&Observation> = obs
        .iter()
        .filter(|o| o.kind == "integrity-failure")
        .collect();
    if let Some(o) = integrity.first() {
        out.push(Draft {
            rule: "integrity",
            observed: format!("{} integrity check failures", integrity.len()),
            first: o.at,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn facts() -> Facts {
        Facts {
            title: "Feilsendt melding".into(),
            ..Facts::default()
        }
    }

    #[test]
    fn states_move_one_step_with_the_facts_each_needs() {
        let mut f = facts();
        assert!(check_move(State::Reported, State::Triage, &f).is_ok());
        assert!(matches!(
            check_move(State::Reported, State::Assessed, &f),
            Err(IncidentError::Move { .. })
        ));
        assert!(matches!(
            check_move(State::Triage, State::Reported, &f),
            Err(IncidentError::Move { .. })
        ));
        assert!(
            check_move(State::Triage, State::Assessed, &f).is_err(),
            "needs the risk"
        );
        f.risk = Some(Risk::HighRisk);
        f.risk_rationale = "helseopplysninger".into();
        assert!(check_move(State::Triage, State::Assessed, &f).is_ok());
        assert!(
            check_move(State::Assessed, State::Notified, &f).is_err(),
            "needs decisions"
        );
        f.notify_authority = Some(true);
        f.notify_people = Some(false);
        assert!(
            check_move(State::Assessed, State::Notified, &f).is_err(),
            "high risk: tell them"
        );
        f.notify_people = Some(true);
        assert!(check_move(State::Assessed, State::Notified, &f).is_ok());
        f.risk = Some(Risk::NoRisk);
        f.notify_authority = Some(false);
        f.notify_people = Some(false);
        assert!(
            check_move(State::Assessed, State::Notified, &f).is_err(),
            "reason for no"
        );
        f.no_notify_reason = "kryptert, nøkkel ikke kompromittert".into();
        assert!(check_move(State::Assessed, State::Notified, &f).is_ok());
        assert!(check_move(State::Notified, State::Closed, &f).is_ok());
        assert_eq!(
            check_move(State::Closed, State::Closed, &f),
            Err(IncidentError::Closed)
        );
        f.title = " ".into();
        assert!(check_move(State::Reported, State::Reported, &f).is_err());
    }

    #[test]
    fn the_clock_runs_72_hours_from_awareness_and_stops_at_the_decision() {
        let aware = datetime!(2026-12-01 10:00 UTC);
        assert_eq!(
            clock(State::Triage, aware, aware + time::Duration::hours(30)),
            Clock::Running {
                minutes_left: 42 * 60
            }
        );
        assert_eq!(
            clock(
                State::Assessed,
                aware,
                aware + time::Duration::minutes(72 * 60 + 5)
            ),
            Clock::Overdue { minutes_over: 5 }
        );
        assert_eq!(
            clock(State::Notified, aware, aware + time::Duration::days(9)),
            Clock::Stopped
        );
        assert_eq!(
            Clock::Running { minutes_left: 125 }.words(Lang::En),
            "2 h 5 min left of 72 h"
        );
        assert_eq!(reference(2026, 14), "AVV-2026-014");
    }

    #[test]
    fn times_are_bounded_ordered_and_awareness_only_moves_earlier() {
        let now = datetime!(2026-12-06 12:00 UTC);
        let h = |n: i64| now - time::Duration::hours(n);
        assert!(check_times(Some(h(3)), h(2), h(1), None, now).is_ok());
        assert!(
            check_times(None, h(2), h(3), None, now).is_err(),
            "aware before discovered"
        );
        assert!(check_times(None, h(1), now + time::Duration::days(1), None, now).is_err());
        assert!(check_times(
            None,
            datetime!(9999-12-31 0:00 UTC),
            datetime!(9999-12-31 0:00 UTC),
            None,
            now
        )
        .is_err());
        assert!(
            check_times(None, h(5), h(1), Some(h(2)), now).is_err(),
            "moved later"
        );
        assert!(
            check_times(None, h(5), h(3), Some(h(2)), now).is_ok(),
            "moved earlier"
        );
        let far = datetime!(9999-12-31 23:59 UTC);
        assert_eq!(deadline(far), deadline(far), "no panic at the edge");
    }

    #[test]
    fn hostile_text_is_refused() {
        assert!(check_text("a\u{202E}b", 10).is_err());
        assert!(check_text("a\u{0}b", 10).is_err());
        assert!(check_text(&"x".repeat(11), 10).is_err());
        assert!(check_text("linje\nlinje", 20).is_ok());
        let mut f = facts();
        f.measures.push(Measure {
            what: "x".into(),
            owner: "y".into(),
            due: "31.12.2026".into(),
        });
        assert!(check_facts(&f).is_err());
    }

    #[test]
    fn the_report_has_the_forms_headings_in_both_languages_and_no_patient() {
        let mut f = facts();
        f.affected_patients = vec!["0f0e0d0c-patient".into()];
        f.people_approx = Some(3);
        f.confidentiality = true;
        let r = ReportInput {
            reference: "AVV-2026-001",
            organisation: "Normland legesenter",
            state: State::Triage,
            occurred: "1. desember",
            discovered: "2. desember",
            aware: "2. desember",
            deadline: "5. desember",
            facts: &f,
        };
        let nb = notification_report(&r, Lang::Nb);
        let en = notification_report(&r, Lang::En);
        assert!(
            nb.contains("Omtrentlig antall berørte personer: ca. 3"),
            "{nb}"
        );
        assert!(nb.contains("Type brudd: konfidensialitet"));
        assert!(
            en.contains("Approximate number of people affected: ca. 3"),
            "{en}"
        );
        assert!(en.contains("Deadline for notification (72 hours): 5. desember"));
        assert!(!nb.contains("0f0e0d0c") && !en.contains("0f0e0d0c"));
    }

    #[test]
    fn watch_opens_drafts_for_bursts_probes_and_integrity() {
        let o = |at, kind: &str, actor: &str| Observation {
            at,
            kind: kind.into(),
            actor: actor.into(),
        };
        let t = Thresholds {
            failed_logins: 3,
            denied: 3,
            window: 60,
        };
        assert!(watch(
            &[
                o(0, "failed-login", "a"),
                o(100, "failed-login", "a"),
                o(200, "failed-login", "a")
            ],
            t
        )
        .is_empty());
        let d = watch(
            &[
                o(0, "failed-login", "a"),
                o(10, "failed-login", "b"),
                o(20, "failed-login", "c"),
            ],
            t,
        );
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].rule, "failed-logins");
        // Refusals count per actor.
        let spread = [
            o(0, "access-denied", "a"),
            o(1, "access-denied", "b"),
            o(2, "access-denied", "c"),
        ];
        assert!(watch(&spread, t).is_empty());
        let one = [
            o(0, "access-denied", "a"),
            o(1, "access-denied", "a"),
            o(2, "access-denied", "a"),
        ];
        assert_eq!(watch(&one, t)[0].rule, "denied-burst");
        let d = watch(
            &[
                o(5, "cross-organisation", "a"),
                o(6, "integrity-failure", "trygg"),
            ],
            t,
        );
        assert_eq!(
            d.iter().map(|d| d.rule).collect::<Vec<_>>(),
            ["cross-organisation", "integrity"]
        );
    }
}
