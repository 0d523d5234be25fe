//! Catching snooping in the access log (issue #16, first step; PC-ACL-1, REQUIREMENTS section 4
//! "kontroll av logg", guide risk scenarios 14–16), as pure rules over plain values: every
//! access is first **explained** from what the data already holds (a care relationship, a
//! consultation, a message thread, an appointment, a grant for the purpose, a justified
//! emergency access; after Fabbri and LeFevre's explanation-based auditing), and an explained
//! access never alerts. What stays unexplained is judged by **rules**, each with its reason in
//! nb/nn/en (own record, same surname or address or next of kin, a colleague, a protected or
//! public person, after the care relationship ended, emergency access without a note in time, a
//! search followed by opening a record without a relation) and **baselines** (outside the
//! person's own hours; a spike in distinct patients against their history and their peers).
//! [`Detector`] turns a day's accesses into scored [`Case`]s. [`workload`] makes a deterministic
//! synthetic hospital with planted snoopers for tests and the benchmark. No IO, no clock.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use crate::Lang;

/// A person (personnel) or a patient, by a small number the caller maps from its ids.
pub type Id = u32;

/// One access from the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    /// When (Unix seconds).
    pub at: i64,
    /// Who looked.
    pub actor: Id,
    /// Whose data.
    pub patient: Id,
    /// A search (a listing with the patient in it) or opening the record.
    pub kind: Kind,
    /// The basis the access rule recorded.
    pub basis: Basis,
}

/// What kind of access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The patient appeared in a search or listing.
    Search,
    /// The record was opened.
    Open,
}

/// The basis recorded with the access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// A role's permission alone (no relationship named).
    Role,
    /// A care relationship.
    Care,
    /// Emergency access; `noted_after` is how long after the access a note (the justification)
    /// was written, if one was.
    Emergency {
        /// Seconds until the note, if any.
        noted_after: Option<i64>,
    },
}

/// What the organisation's data says about people and their relations (the explanations'
/// and the rules' inputs). Times are Unix seconds.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// Care relationships: (actor, patient) → periods.
    pub care: HashMap<(Id, Id), Vec<(i64, i64)>>,
    /// Consultations, threads and appointments: (actor, patient) → times; within a day of one
    /// explains an access.
    pub contacts: HashMap<(Id, Id), Vec<i64>>,
    /// Actors with a live grant whose purpose covers every patient (e.g. the medical records
    /// office), with its period.
    pub purpose_grants: HashMap<Id, Vec<(i64, i64)>>,
    /// The actor's own patient id, if they are a patient too.
    pub own_patient: HashMap<Id, Id>,
    /// Surname of each actor and patient (normalised, lower case), keyed by ("a"|"p", id).
    pub surname: HashMap<(char, Id), String>,
    /// Address (normalised) likewise.
    pub address: HashMap<(char, Id), String>,
    /// Registered next of kin: patient → actors.
    pub next_of_kin: HashMap<Id, HashSet<Id>>,
    /// Patients who are colleagues (employed in the organisation).
    pub colleagues: HashSet<Id>,
    /// Patients with a protected address or marked as public figures.
    pub protected: HashSet<Id>,
    /// Each actor's role, for peer baselines.
    pub role: HashMap<Id, String>,
}

/// Why an access is explained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Explanation {
    /// A care relationship in force.
    Care,
    /// A consultation, message thread or appointment within a day.
    Contact,
    /// A grant whose purpose covers it.
    Purpose,
    /// Emergency access with its note written in time.
    JustifiedEmergency,
}

/// A reason an access or a day stays unexplained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// The person looked at their own record.
    OwnRecord,
    /// Same surname as the person looking.
    SameSurname,
    /// Same address as the person looking.
    SameAddress,
    /// The person looking is the patient's registered next of kin.
    NextOfKin,
    /// The patient is a colleague in the organisation.
    Colleague,
    /// A protected address, or a public figure.
    Protected,
    /// After the care relationship ended.
    AfterCareEnded,
    /// Emergency access without a note in time.
    EmergencyWithoutNote,
    /// A search followed by opening the record, with no relation.
    SearchThenOpen,
    /// No explanation and none of the above: an unexplained access.
    Unexplained,
    /// Accesses outside the person's usual hours.
    OutsideHours,
    /// Many more distinct patients opened without an explanation than the person's own history
    /// and their peers' days.
    Spike,
}

impl Reason {
    /// Every reason.
    pub const ALL: [Self; 12] = [
        Self::OwnRecord,
        Self::SameSurname,
        Self::SameAddress,
        Self::NextOfKin,
        Self::Colleague,
        Self::Protected,
        Self::AfterCareEnded,
        Self::EmergencyWithoutNote,
        Self::SearchThenOpen,
        Self::Unexplained,
        Self::OutsideHours,
        Self::Spike,
    ];

    /// The reason by the code a saved case keeps (its name, `SameSurname`), if it is one.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|r| format!("{r:?}") == code.trim())
    }

    /// The weight of the reason in a case's score. Each rule reaches the default smallest score
    /// (25) on its own, `OutsideHours` together with `Unexplained`; `Unexplained` alone never does.
    pub fn weight(self) -> u32 {
        match self {
            Self::OwnRecord | Self::NextOfKin | Self::SameAddress => 40,
            Self::Colleague | Self::Protected | Self::SameSurname => 30,
            Self::SearchThenOpen | Self::AfterCareEnded | Self::EmergencyWithoutNote => 25,
            Self::Spike | Self::OutsideHours => 20,
            Self::Unexplained => 5,
        }
    }

    /// The reason in words.
    pub fn words(self, lang: Lang) -> &'static str {
        let (nb, nn, en) = match self {
            Self::OwnRecord => (
                "Så i sin egen journal",
                "Såg i sin eigen journal",
                "Looked at their own record",
            ),
            Self::SameSurname => (
                "Samme etternavn som pasienten",
                "Same etternamn som pasienten",
                "Same surname as the patient",
            ),
            Self::SameAddress => (
                "Samme adresse som pasienten",
                "Same adresse som pasienten",
                "Same address as the patient",
            ),
            Self::NextOfKin => (
                "Er pasientens pårørende",
                "Er pasienten sin pårørande",
                "Is the patient's next of kin",
            ),
            Self::Colleague => (
                "Pasienten er en kollega",
                "Pasienten er ein kollega",
                "The patient is a colleague",
            ),
            Self::Protected => (
                "Pasienten har skjermet adresse eller er en kjent person",
                "Pasienten har skjerma adresse eller er ein kjend person",
                "The patient has a protected address or is a public figure",
            ),
            Self::AfterCareEnded => (
                "Etter at behandlingsrelasjonen var avsluttet",
                "Etter at behandlingsrelasjonen var avslutta",
                "After the care relationship had ended",
            ),
            Self::EmergencyWithoutNote => (
                "Nødtilgang uten begrunnelse i tide",
                "Naudtilgang utan grunngiving i tide",
                "Emergency access without a note in time",
            ),
            Self::SearchThenOpen => (
                "Søkte opp og åpnet journalen uten relasjon",
                "Søkte opp og opna journalen utan relasjon",
                "Searched for and opened the record with no relation",
            ),
            Self::Unexplained => (
                "Ingen forklaring i dataene",
                "Inga forklaring i dataa",
                "No explanation in the data",
            ),
            Self::OutsideHours => (
                "Utenfor personens vanlige tider",
                "Utanfor personen sine vanlege tider",
                "Outside the person's usual hours",
            ),
            Self::Spike => (
                "Mange flere pasienter enn vanlig for personen og kollegene",
                "Mange fleire pasientar enn vanleg for personen og kollegane",
                "Many more patients than usual for the person and their peers",
            ),
        };
        match lang {
            Lang::Nb => nb,
            Lang::Nn => nn,
            Lang::En => en,
        }
    }
}

/// How long a contact (consultation, thread, appointment) explains accesses around it.
pub const CONTACT_WINDOW: i64 = 86_400;
/// How long after an emergency access its note may come.
pub const NOTE_WITHIN: i64 = 24 * 3600;
/// How long after a search opening the same record counts as "search, then open".
pub const SEARCH_THEN_OPEN: i64 = 15 * 60;

fn within(periods: Option<&Vec<(i64, i64)>>, at: i64) -> bool {
    periods.is_some_and(|ps| ps.iter().any(|(a, b)| *a <= at && at <= *b))
}

/// The explanation of an access, if the data has one.
pub fn explain(a: &Access, f: &Facts) -> Option<Explanation> {
    if let Basis::Emergency { noted_after } = a.basis {
        return noted_after
            .filter(|n| *n <= NOTE_WITHIN)
            .map(|_| Explanation::JustifiedEmergency);
    }
    if within(f.care.get(&(a.actor, a.patient)), a.at) {
        return Some(Explanation::Care);
    }
    if f.contacts
        .get(&(a.actor, a.patient))
        .is_some_and(|ts| ts.iter().any(|t| (a.at - t).abs() <= CONTACT_WINDOW))
    {
        return Some(Explanation::Contact);
    }
    if within(f.purpose_grants.get(&a.actor), a.at) {
        return Some(Explanation::Purpose);
    }
    None
}

/// The reasons an unexplained access is suspicious (never empty: at least `Unexplained`).
/// `searched_before` says whether the same actor searched for the patient shortly before.
pub fn reasons(a: &Access, f: &Facts, searched_before: bool) -> Vec<Reason> {
    let mut r = Vec::new();
    if f.own_patient.get(&a.actor) == Some(&a.patient) {
        r.push(Reason::OwnRecord);
    }
    let same = |m: &HashMap<(char, Id), String>| matches!((m.get(&('a', a.actor)), m.get(&('p', a.patient))), (Some(x), Some(y)) if !x.is_empty() && x == y);
    if same(&f.surname) && !r.contains(&Reason::OwnRecord) {
        r.push(Reason::SameSurname);
    }
    if same(&f.address) && !r.contains(&Reason::OwnRecord) {
        r.push(Reason::SameAddress);
    }
    if f.next_of_kin
        .get(&a.patient)
        .is_some_and(|k| k.contains(&a.actor))
    {
        r.push(Reason::NextOfKin);
    }
    // Their own record is not a colleague's.
    if f.colleagues.contains(&a.patient) && !r.contains(&Reason::OwnRecord) {
        r.push(Reason::Colleague);
    }
    if f.protected.contains(&a.patient) {
        r.push(Reason::Protected);
    }
    if f.care
        .get(&(a.actor, a.patient))
        .is_some_and(|ps| ps.iter().any(|(_, end)| *end < a.at))
    {
        r.push(Reason::AfterCareEnded);
    }
    if matches!(a.basis, Basis::Emergency { .. }) {
        r.push(Reason::EmergencyWithoutNote);
    }
    if a.kind == Kind::Open && searched_before {
        r.push(Reason::SearchThenOpen);
    }
    if r.is_empty() {
        r.push(Reason::Unexplained);
    }
    r
}

/// A case for the log-control role: one actor and one patient, with its score and reasons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    /// Who looked.
    pub actor: Id,
    /// Whose data (`None` for a case about the actor's whole day: a spike, with their accesses
    /// that had nothing against them but being unexplained folded in).
    pub patient: Option<Id>,
    /// The score: the sum of the reasons' weights (each once).
    pub score: u32,
    /// The reasons, sorted.
    pub reasons: Vec<Reason>,
    /// The first access's time.
    pub first: i64,
    /// How many accesses it covers.
    pub accesses: u32,
}

/// The person's usual hours: the hours of day (0–23, UTC offset applied by the caller) they had
/// accesses in, over their history, and how many distinct patients per day.
#[derive(Debug, Clone, Default)]
pub struct Baseline {
    /// Accesses per hour of day over the history.
    pub hours: [u32; 24],
    /// Distinct patients on each day of the history.
    pub daily_patients: Vec<u32>,
}

impl Baseline {
    /// Whether `hour` is unusual: under 1% of the history's accesses, with history enough to
    /// say (100 accesses or more).
    pub fn unusual_hour(&self, hour: usize) -> bool {
        let total: u32 = self.hours.iter().sum();
        total >= 100
            && self
                .hours
                .get(hour)
                .is_some_and(|h| u64::from(*h) * 100 < u64::from(total))
    }

    /// The median distinct patients per day.
    pub fn median_daily(&self) -> u32 {
        let mut d = self.daily_patients.clone();
        d.sort_unstable();
        d.get(d.len() / 2).copied().unwrap_or(0)
    }
}

/// The detector's settings.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// The smallest score that makes a case.
    pub min_score: u32,
    /// A spike is more than this many times both the person's median and their peers' median,
    /// and at least `spike_min` patients.
    pub spike_factor: u32,
    /// The fewest distinct patients a spike needs.
    pub spike_min: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            min_score: 25,
            spike_factor: 2,
            spike_min: 30,
        }
    }
}

/// The result of a day: cases, and how many accesses were explained.
#[derive(Debug, Clone, Default)]
pub struct Day {
    /// The cases, highest score first.
    pub cases: Vec<Case>,
    /// Accesses explained (never alerting).
    pub explained: u64,
    /// Accesses not explained.
    pub unexplained: u64,
}

/// One person's unexplained openings of one patient's record in a day: the reasons, the first,
/// how many, and whether one was at an hour unusual for the person.
struct Looks {
    reasons: BTreeSet<Reason>,
    first: i64,
    n: u32,
    odd: bool,
}

/// Judges one day's accesses (sorted or not) against the facts and the baselines (`hour_of`
/// maps a time to the local hour of day). Only unexplained accesses count towards a case:
/// `OutsideHours` is a case's reason when one of its own unexplained openings fell in an hour
/// unusual for the person (explained night work, on call or on a night shift, never adds it), and
/// a spike counts the distinct patients the person opened without an explanation. A spiking
/// person's day is one case: their per-patient cases with nothing but `Unexplained` and
/// `OutsideHours` fold into it (it carries `OutsideHours` if any did).
pub fn day(
    accesses: &[Access],
    f: &Facts,
    baselines: &HashMap<Id, Baseline>,
    s: Settings,
    hour_of: impl Fn(i64) -> usize,
) -> Day {
    let mut out = Day::default();
    let mut order: Vec<&Access> = accesses.iter().collect();
    order.sort_by_key(|a| a.at);
    // The last search of each (actor, patient), for "search, then open".
    let mut searched: HashMap<(Id, Id), i64> = HashMap::new();
    let mut cases: BTreeMap<(Id, Id), Looks> = BTreeMap::new();
    // Everyone's distinct patients today (the peers' measure) and those opened unexplained.
    let mut distinct: HashMap<Id, HashSet<Id>> = HashMap::new();
    let mut unexplained: HashMap<Id, HashSet<Id>> = HashMap::new();
    for a in order {
        distinct.entry(a.actor).or_default().insert(a.patient);
        if explain(a, f).is_some() {
            out.explained += 1;
            if a.kind == Kind::Search {
                searched.insert((a.actor, a.patient), a.at);
            }
            continue;
        }
        out.unexplained += 1;
        let before = searched
            .get(&(a.actor, a.patient))
            .is_some_and(|t| a.at - t <= SEARCH_THEN_OPEN);
        if a.kind == Kind::Search {
            searched.insert((a.actor, a.patient), a.at);
            // A search alone is not a look at the record: judged when it is opened.
            continue;
        }
        unexplained.entry(a.actor).or_default().insert(a.patient);
        let odd = baselines
            .get(&a.actor)
            .is_some_and(|b| b.unusual_hour(hour_of(a.at)));
        let e = cases.entry((a.actor, a.patient)).or_insert(Looks {
            reasons: BTreeSet::new(),
            first: a.at,
            n: 0,
            odd: false,
        });
        e.reasons.extend(reasons(a, f, before));
        e.n += 1;
        e.odd |= odd;
    }
    // Spikes: against the person's own history and the lower median of the other people in the
    // same role today.
    let mut by_role: HashMap<&str, Vec<(Id, u32)>> = HashMap::new();
    for (actor, set) in &distinct {
        let role = f.role.get(actor).map_or("", String::as_str);
        by_role
            .entry(role)
            .or_default()
            .push((*actor, set.len() as u32));
    }
    let peer_median = |actor: Id, role: &str| {
        let mut v: Vec<u32> = by_role
            .get(role)
            .map(|l| {
                l.iter()
                    .filter(|(a, _)| *a != actor)
                    .map(|(_, n)| *n)
                    .collect()
            })
            .unwrap_or_default();
        v.sort_unstable();
        v.get(v.len().saturating_sub(1) / 2).copied().unwrap_or(0)
    };
    let mut spikes: BTreeMap<Id, (u32, bool)> = BTreeMap::new();
    for (actor, set) in &unexplained {
        let n = set.len() as u32;
        let own = baselines.get(actor).map_or(0, Baseline::median_daily);
        let peers = peer_median(*actor, f.role.get(actor).map_or("", String::as_str));
        if n >= s.spike_min && n > own.max(1) * s.spike_factor && n > peers.max(1) * s.spike_factor
        {
            spikes.insert(*actor, (n, false));
        }
    }
    for (
        (actor, patient),
        Looks {
            reasons,
            first,
            n,
            odd,
        },
    ) in cases
    {
        let mut reasons: Vec<Reason> = reasons.into_iter().collect();
        if reasons.len() > 1 {
            reasons.retain(|r| *r != Reason::Unexplained);
        }
        if let Some(spike) = spikes.get_mut(&actor) {
            if reasons == [Reason::Unexplained] {
                spike.1 |= odd;
                continue;
            }
        }
        if odd {
            reasons.push(Reason::OutsideHours);
        }
        reasons.sort();
        let score = reasons.iter().map(|r| r.weight()).sum();
        if score >= s.min_score {
            out.cases.push(Case {
                actor,
                patient: Some(patient),
                score,
                reasons,
                first,
                accesses: n,
            });
        }
    }
    for (actor, (n, odd)) in spikes {
        let mut reasons = vec![Reason::Spike];
        if odd {
            reasons.insert(0, Reason::OutsideHours);
        }
        out.cases.push(Case {
            actor,
            patient: None,
            score: reasons.iter().map(|r| r.weight()).sum::<u32>() + 10,
            reasons,
            first: 0,
            accesses: n,
        });
    }
    out.cases
        .sort_by(|a, b| b.score.cmp(&a.score).then(a.actor.cmp(&b.actor)));
    out
}

/// A deterministic synthetic hospital for tests and the benchmark: clinicians with their
/// patients (care relationships and contacts), a records office with a purpose grant, night and
/// on-call shifts, a little unexplained everyday work, planted snoopers of one kind per rule who
/// look where they have no reason to, and for each kind innocent look-alikes whose accesses are
/// explained (or within their own hours), so that precision is measured against them.
pub mod workload {
    use super::*;

    /// A small, fast, deterministic generator (SplitMix64).
    #[derive(Debug, Clone)]
    pub struct Rng(u64);

    impl Rng {
        /// From a seed.
        pub fn new(seed: u64) -> Self {
            Self(seed)
        }

        /// The next number.
        pub fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        /// A number below `n` (n > 0).
        pub fn below(&mut self, n: u32) -> u32 {
            u32::try_from(self.next_u64() % u64::from(n.max(1))).unwrap_or(0)
        }
    }

    /// The kinds of planted snooping: one per rule that can make a case (`Unexplained` is what
    /// is left when no rule applies, and never makes a case on its own).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum Plant {
        /// Opens their own record (a clinician who is also a patient here).
        OwnRecord,
        /// Opens a relative's record (same surname and address).
        Relative,
        /// Opens the record of someone at their address with another surname (a flatmate).
        Flatmate,
        /// Opens the record of a patient whose registered next of kin they are.
        NextOfKin,
        /// Opens a colleague's record.
        Colleague,
        /// Searches for a protected person and opens the record.
        Celebrity,
        /// Opens a former patient's record after the care relationship ended.
        CareEnded,
        /// Emergency access with no note, or with one written too late.
        UnnotedEmergency,
        /// Searches for a stranger and opens the record.
        Stranger,
        /// Opens strangers' records in the night, outside their usual daytime hours.
        NightOwl,
        /// Opens many strangers' records in one evening.
        Spree,
    }

    impl Plant {
        /// Every kind, in the order of the rules' reasons.
        pub const ALL: [Self; 11] = [
            Self::OwnRecord,
            Self::Relative,
            Self::Flatmate,
            Self::NextOfKin,
            Self::Colleague,
            Self::Celebrity,
            Self::CareEnded,
            Self::UnnotedEmergency,
            Self::Stranger,
            Self::NightOwl,
            Self::Spree,
        ];

        /// The reason the kind's rule gives.
        pub fn reason(self) -> Reason {
            match self {
                Self::OwnRecord => Reason::OwnRecord,
                Self::Relative => Reason::SameSurname,
                Self::Flatmate => Reason::SameAddress,
                Self::NextOfKin => Reason::NextOfKin,
                Self::Colleague => Reason::Colleague,
                Self::Celebrity => Reason::Protected,
                Self::CareEnded => Reason::AfterCareEnded,
                Self::UnnotedEmergency => Reason::EmergencyWithoutNote,
                Self::Stranger => Reason::SearchThenOpen,
                Self::NightOwl => Reason::OutsideHours,
                Self::Spree => Reason::Spike,
            }
        }
    }

    /// The workload: its facts, the day's accesses, the history's baselines, and the truth.
    #[derive(Debug, Clone)]
    pub struct Workload {
        /// The facts.
        pub facts: Facts,
        /// The day's accesses.
        pub accesses: Vec<Access>,
        /// Each clinician's history.
        pub baselines: HashMap<Id, Baseline>,
        /// The planted snoopers and what they did.
        pub snoopers: Vec<(Id, Plant)>,
        /// Innocent people who look like a kind of snooper (the same relation to the patient, the
        /// same hour, as many patients) but whose accesses are explained or within their own
        /// hours: none of them may have a case.
        pub lookalikes: Vec<(Id, Plant)>,
    }

    const HOUR: i64 = 3600;
    const DAY: i64 = 86_400;

    fn open(at: i64, actor: Id, patient: Id, basis: Basis) -> Access {
        Access {
            at,
            actor,
            patient,
            kind: Kind::Open,
            basis,
        }
    }

    fn search(at: i64, actor: Id, patient: Id) -> Access {
        Access {
            at,
            actor,
            patient,
            kind: Kind::Search,
            basis: Basis::Role,
        }
    }

    /// Gives patient `p` clinician `c`'s surname and, or, address.
    fn copy(f: &mut Facts, c: Id, p: Id, surname: bool, address: bool) {
        for (m, yes) in [(&mut f.surname, surname), (&mut f.address, address)] {
            if let Some(v) = m.get(&('a', c)).cloned().filter(|_| yes) {
                m.insert(('p', p), v);
            }
        }
    }

    /// Makes a day of a hospital with `clinicians` clinicians, `patients` patients and about
    /// `accesses` accesses of ordinary work, one snooper of each kind per `snoopers` group, and
    /// for each group innocent look-alikes of each kind.
    ///
    /// Clinician 0 is the records office (a purpose grant). The snoopers are clinicians 1, 2, …
    /// (eleven a group); the last `max(clinicians / 50, 2)` clinicians work nights (their history
    /// is at night) and as many before them were on call last night (explained work at 02:00,
    /// against a daytime history). One ordinary access in a hundred opens a record with no
    /// explanation in the data, in the person's own hours and without a search before it (it
    /// scores `Unexplained` only); one in fifty comes with a listing showing a patient who is not
    /// opened. The patients the plants and look-alikes are about are kept apart from the
    /// ordinary patients (the last 32 per group), so that ordinary work never explains a plant.
    /// Needs more than `snoopers * 11 + 2 * max(clinicians / 50, 2)` clinicians and
    /// `snoopers * 32` patients for the plants not to overlap.
    pub fn hospital(
        seed: u64,
        clinicians: u32,
        patients: u32,
        accesses: u32,
        snoopers: u32,
    ) -> Workload {
        let mut rng = Rng::new(seed);
        let mut f = Facts::default();
        let day0: i64 = 1_800_000_000 - 1_800_000_000 % DAY;
        let surnames = [
            "hansen",
            "johansen",
            "olsen",
            "larsen",
            "andersen",
            "pedersen",
            "nilsen",
            "kristiansen",
            "jensen",
            "karlsen",
        ];
        let kinds = Plant::ALL.len() as u32;
        let shift = (clinicians / 50).max(2);
        let nights_from = clinicians.saturating_sub(shift);
        let on_call_from = clinicians.saturating_sub(2 * shift);
        let span = on_call_from.saturating_sub(1 + kinds).max(1);
        let base = |g: u32| 1 + (g * kinds) % span;
        let snooper_ids: HashSet<Id> = (0..snoopers)
            .flat_map(|g| (0..kinds).map(move |k| base(g) + k))
            .collect();
        // Innocent people for the look-alikes: neither snoopers nor on a shift.
        let pool: Vec<Id> = (1..on_call_from)
            .filter(|c| !snooper_ids.contains(c))
            .collect();
        let pick = |rng: &mut Rng| {
            pool.get(rng.below(pool.len() as u32) as usize)
                .copied()
                .unwrap_or(1)
        };
        // The patients of the plants and look-alikes: from the top, apart from the ordinary ones.
        let ordinary = patients.saturating_sub(snoopers * 32).max(1);
        let mut next_special = patients;
        let mut special = || {
            next_special = next_special.saturating_sub(1).max(ordinary);
            next_special
        };
        for c in 0..clinicians {
            f.role.insert(
                c,
                if c % 5 == 0 {
                    "nurse".into()
                } else {
                    "doctor".into()
                },
            );
            f.surname
                .insert(('a', c), format!("{}{}", surnames[(c % 10) as usize], c));
            f.address.insert(('a', c), format!("gate {c}"));
        }
        for p in 0..patients {
            f.surname.insert(('p', p), format!("p{p}"));
            f.address.insert(('p', p), format!("vei {p}"));
        }
        // Each clinician has a list of patients in care, and contacts with some.
        let per = (ordinary / clinicians.max(1)).max(1) * 2;
        let mut mine: HashMap<Id, Vec<Id>> = HashMap::new();
        let in_care = (day0 - 30 * DAY, day0 + 30 * DAY);
        for c in 0..clinicians {
            for _ in 0..per {
                let p = rng.below(ordinary);
                mine.entry(c).or_default().push(p);
                if rng.below(4) == 0 {
                    f.contacts.entry((c, p)).or_default().push(day0 + 9 * HOUR);
                } else {
                    f.care.entry((c, p)).or_default().push(in_care);
                }
            }
        }
        // The records office: clinician 0 has a purpose grant.
        f.purpose_grants.insert(0, vec![(day0 - DAY, day0 + DAY)]);
        let mut out = Vec::with_capacity(accesses as usize + accesses as usize / 20 + 1000);
        // Ordinary work: each access by a clinician to one of their patients, in their hours
        // (07–17, or 21–07 on nights); sometimes a search first.
        for _ in 0..accesses {
            let c = 1 + rng.below(clinicians.saturating_sub(1).max(1));
            let Some(list) = mine.get(&c) else { continue };
            let p = list[rng.below(list.len() as u32) as usize];
            let at = if c >= nights_from {
                day0 + (21 * HOUR + i64::from(rng.below(10 * 3600))) % DAY
            } else {
                day0 + 7 * HOUR + i64::from(rng.below(10 * 3600))
            };
            if rng.below(100) == 0 {
                // A record opened with no explanation in the data (covering for someone, a
                // relation not recorded).
                out.push(open(at, c, rng.below(ordinary), Basis::Role));
                continue;
            }
            if rng.below(50) == 0 {
                out.push(search(at - 30, c, rng.below(ordinary)));
            }
            if rng.below(5) == 0 {
                out.push(search(at - 60, c, p));
            }
            let basis = if f.care.contains_key(&(c, p)) {
                Basis::Care
            } else {
                Basis::Role
            };
            out.push(open(at, c, p, basis));
        }
        // History: the person's hours (07–17, or 21–07 on nights), and about as many distinct
        // patients a day as today's ordinary work (each of 60 days within a fifth of it).
        let mut today: HashMap<Id, HashSet<Id>> = HashMap::new();
        for a in &out {
            today.entry(a.actor).or_default().insert(a.patient);
        }
        let mut baselines = HashMap::new();
        for c in 0..clinicians {
            let mut b = Baseline::default();
            for (h, n) in b.hours.iter_mut().enumerate() {
                let on = if c >= nights_from {
                    !(7..21).contains(&h)
                } else {
                    (7..17).contains(&h)
                };
                if on {
                    *n = 60 + rng.below(40);
                }
            }
            let d = today.get(&c).map_or(10, |s| s.len() as u32).max(10);
            b.daily_patients = (0..60)
                .map(|_| d * 4 / 5 + rng.below(d * 2 / 5 + 1))
                .collect();
            baselines.insert(c, b);
        }
        // Emergencies with notes in time.
        for _ in 0..(accesses / 1000).max(1) {
            let c = 1 + rng.below(clinicians.saturating_sub(1).max(1));
            let p = rng.below(patients);
            out.push(open(
                day0 + 12 * HOUR,
                c,
                p,
                Basis::Emergency {
                    noted_after: Some(600),
                },
            ));
        }
        let mut lookalikes = Vec::new();
        // Look-alikes of the night owl: on call last night (explained work at 02:00 against a
        // daytime history, and a record opened unexplained in the day), and on nights (explained
        // work and a record opened unexplained at 03:00, both in their own hours).
        for c in on_call_from..clinicians {
            let night = c >= nights_from;
            let list = mine.get(&c).cloned().unwrap_or_default();
            for (k, p) in list.iter().take(3).enumerate() {
                let basis = if f.care.contains_key(&(c, *p)) {
                    Basis::Care
                } else {
                    Basis::Role
                };
                out.push(open(day0 + 2 * HOUR + 600 * k as i64, c, *p, basis));
            }
            let at = day0 + if night { 3 * HOUR } else { 11 * HOUR };
            out.push(open(at, c, rng.below(ordinary), Basis::Role));
            lookalikes.push((c, Plant::NightOwl));
        }
        // The planted snoopers, and for each an innocent look-alike or two.
        let mut planted = Vec::new();
        for g in 0..snoopers {
            let at = day0 + 10 * HOUR + i64::from(g);
            for (k, plant) in (0..kinds).zip(Plant::ALL) {
                let c = base(g) + k;
                planted.push((c, plant));
                let p = special();
                let l = pick(&mut rng);
                let q = special();
                // The look-alike's relation to their patient, explained by care in force.
                let mut treat = |f: &mut Facts, out: &mut Vec<Access>| {
                    f.care.entry((l, q)).or_default().push(in_care);
                    out.push(open(at, l, q, Basis::Care));
                    lookalikes.push((l, plant));
                };
                match plant {
                    Plant::OwnRecord => {
                        // A clinician who is a patient here opens their own record; the
                        // look-alike treats (searches for and opens) another such colleague.
                        let staff = pick(&mut rng);
                        for (who, their) in [(c, p), (staff, q)] {
                            f.own_patient.entry(who).or_insert(their);
                            f.colleagues.insert(their);
                            copy(&mut f, who, their, true, true);
                        }
                        out.push(open(at, c, p, Basis::Role));
                        out.push(search(at - 60, l, q));
                        treat(&mut f, &mut out);
                    }
                    Plant::Relative | Plant::Flatmate => {
                        // Same surname and address, or only the address; the look-alike
                        // treats a patient with their surname, or at their address.
                        let relative = plant == Plant::Relative;
                        copy(&mut f, c, p, relative, true);
                        copy(&mut f, l, q, relative, !relative);
                        out.push(open(at, c, p, Basis::Role));
                        treat(&mut f, &mut out);
                    }
                    Plant::NextOfKin => {
                        f.next_of_kin.entry(p).or_default().insert(c);
                        out.push(open(at, c, p, Basis::Role));
                        f.next_of_kin.entry(q).or_default().insert(l);
                        treat(&mut f, &mut out);
                    }
                    Plant::Colleague => {
                        f.colleagues.insert(p);
                        out.push(open(at, c, p, Basis::Role));
                        f.colleagues.insert(q);
                        treat(&mut f, &mut out);
                    }
                    Plant::Celebrity => {
                        f.protected.insert(p);
                        out.push(search(at - 120, c, p));
                        out.push(open(at, c, p, Basis::Role));
                        f.protected.insert(q);
                        out.push(search(at - 120, l, q));
                        treat(&mut f, &mut out);
                    }
                    Plant::CareEnded => {
                        // Care ended ten days ago. The look-alikes: the same, with a follow-up
                        // appointment today; and care that ended and began again.
                        let ended = (day0 - 60 * DAY, day0 - 10 * DAY);
                        f.care.insert((c, p), vec![ended]);
                        out.push(open(at, c, p, Basis::Role));
                        f.care.insert((l, q), vec![ended]);
                        f.contacts.entry((l, q)).or_default().push(day0 + 9 * HOUR);
                        out.push(open(at, l, q, Basis::Role));
                        lookalikes.push((l, plant));
                        let (l2, q2) = (pick(&mut rng), special());
                        f.care
                            .insert((l2, q2), vec![ended, (day0 - DAY, day0 + 30 * DAY)]);
                        out.push(open(at, l2, q2, Basis::Care));
                        lookalikes.push((l2, plant));
                    }
                    Plant::UnnotedEmergency => {
                        // No note, or a note an hour too late. The look-alikes: notes in time,
                        // one at the last moment.
                        let noted_after = (g % 2 == 1).then_some(NOTE_WITHIN + 3600);
                        out.push(open(at, c, p, Basis::Emergency { noted_after }));
                        let (l2, q2) = (pick(&mut rng), special());
                        for (l, q, n) in [(l, q, NOTE_WITHIN), (l2, q2, 300)] {
                            let basis = Basis::Emergency {
                                noted_after: Some(n),
                            };
                            out.push(open(at, l, q, basis));
                            lookalikes.push((l, plant));
                        }
                    }
                    Plant::Stranger => {
                        // A search for someone with no relation, then the record. The
                        // look-alike does the same for a new patient with an appointment today.
                        out.push(search(at - 180, c, p));
                        out.push(open(at, c, p, Basis::Role));
                        f.contacts.entry((l, q)).or_default().push(day0 + 9 * HOUR);
                        out.push(search(at - 180, l, q));
                        out.push(open(at, l, q, Basis::Role));
                        lookalikes.push((l, plant));
                    }
                    Plant::NightOwl => {
                        // Three strangers between 02:00 and 03:00 against a daytime history.
                        for (k, p) in [p, q, special()].into_iter().enumerate() {
                            let at = day0 + 2 * HOUR + 1200 * k as i64 + i64::from(g);
                            out.push(open(at, c, p, Basis::Role));
                        }
                    }
                    Plant::Spree => {
                        // 600 strangers in an evening. The look-alike: a busy day of 600
                        // patients, each in care (a ward covered).
                        for k in 0..600 {
                            let p = rng.below(patients);
                            out.push(open(day0 + 20 * HOUR + k, c, p, Basis::Role));
                        }
                        for k in 0..600 {
                            let q = rng.below(ordinary);
                            f.care.entry((l, q)).or_default().push(in_care);
                            out.push(open(day0 + 8 * HOUR + 50 * k, l, q, Basis::Care));
                        }
                        lookalikes.push((l, plant));
                    }
                }
            }
        }
        Workload {
            facts: f,
            accesses: out,
            baselines,
            snoopers: planted,
            lookalikes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::workload::{hospital, Plant, Workload};
    use super::*;

    fn hour(t: i64) -> usize {
        usize::try_from(t.rem_euclid(86_400) / 3600).unwrap_or(0)
    }

    fn open(actor: Id, patient: Id, at: i64) -> Access {
        Access {
            at,
            actor,
            patient,
            kind: Kind::Open,
            basis: Basis::Role,
        }
    }

    #[test]
    fn explained_accesses_never_alert() {
        let mut f = Facts::default();
        f.care.insert((1, 2), vec![(0, 1000)]);
        f.contacts.insert((1, 3), vec![5000]);
        f.purpose_grants.insert(9, vec![(0, 10_000)]);
        assert_eq!(explain(&open(1, 2, 500), &f), Some(Explanation::Care));
        assert_eq!(
            explain(&open(1, 3, 5000 + CONTACT_WINDOW), &f),
            Some(Explanation::Contact)
        );
        assert_eq!(explain(&open(9, 7, 5), &f), Some(Explanation::Purpose));
        let e = |n| Access {
            basis: Basis::Emergency { noted_after: n },
            ..open(1, 4, 0)
        };
        assert_eq!(
            explain(&e(Some(60)), &f),
            Some(Explanation::JustifiedEmergency)
        );
        assert_eq!(explain(&e(Some(NOTE_WITHIN + 1)), &f), None);
        assert_eq!(explain(&e(None), &f), None);
        let d = day(
            &[open(1, 2, 500), open(9, 7, 5)],
            &f,
            &HashMap::new(),
            Settings::default(),
            hour,
        );
        assert!(d.cases.is_empty());
        assert_eq!(d.explained, 2);
    }

    #[test]
    fn each_rule_gives_its_reason() {
        let mut f = Facts::default();
        f.own_patient.insert(1, 10);
        f.surname.insert(('a', 1), "berg".into());
        f.surname.insert(('p', 11), "berg".into());
        f.address.insert(('a', 1), "gate 1".into());
        f.address.insert(('p', 12), "gate 1".into());
        f.next_of_kin.insert(13, [1].into_iter().collect());
        f.colleagues.insert(14);
        f.protected.insert(15);
        f.care.insert((1, 16), vec![(0, 100)]);
        let r = |p, basis, searched| {
            reasons(
                &Access {
                    basis,
                    ..open(1, p, 500)
                },
                &f,
                searched,
            )
        };
        assert_eq!(r(10, Basis::Role, false), [Reason::OwnRecord]);
        assert_eq!(r(11, Basis::Role, false), [Reason::SameSurname]);
        assert_eq!(r(12, Basis::Role, false), [Reason::SameAddress]);
        assert_eq!(r(13, Basis::Role, false), [Reason::NextOfKin]);
        assert_eq!(r(14, Basis::Role, false), [Reason::Colleague]);
        assert_eq!(r(15, Basis::Role, false), [Reason::Protected]);
        assert_eq!(r(16, Basis::Role, false), [Reason::AfterCareEnded]);
        assert_eq!(
            r(17, Basis::Emergency { noted_after: None }, false),
            [Reason::EmergencyWithoutNote]
        );
        assert_eq!(r(18, Basis::Role, true), [Reason::SearchThenOpen]);
        assert_eq!(r(19, Basis::Role, false), [Reason::Unexplained]);
        for reason in [Reason::OwnRecord, Reason::Spike, Reason::OutsideHours] {
            for lang in [Lang::Nb, Lang::Nn, Lang::En] {
                assert!(!reason.words(lang).is_empty());
            }
        }
    }

    #[test]
    fn every_reason_reads_back_from_its_saved_code_and_has_words_in_each_language() {
        // The queue (PC-ACL-1) keeps codes; the log-control page shows the words.
        for reason in Reason::ALL {
            assert_eq!(Reason::from_code(&format!("{reason:?}")), Some(reason));
            for lang in [Lang::Nb, Lang::Nn, Lang::En] {
                let w = reason.words(lang);
                assert!(!w.is_empty() && w != format!("{reason:?}"), "{reason:?}");
            }
        }
        assert_eq!(Reason::from_code("Nonsense"), None);
        assert_eq!(Reason::from_code(""), None);
    }

    #[test]
    fn a_search_then_open_makes_a_case_and_a_search_alone_does_not() {
        let f = Facts::default();
        let search = Access {
            kind: Kind::Search,
            ..open(1, 5, 100)
        };
        let d = day(&[search], &f, &HashMap::new(), Settings::default(), hour);
        assert!(d.cases.is_empty());
        let d = day(
            &[search, open(1, 5, 200)],
            &f,
            &HashMap::new(),
            Settings::default(),
            hour,
        );
        assert_eq!(d.cases.len(), 1);
        assert_eq!(d.cases[0].reasons, [Reason::SearchThenOpen]);
        // An hour later it is only unexplained, which alone does not make a case.
        let d = day(
            &[search, open(1, 5, 100 + 3600)],
            &f,
            &HashMap::new(),
            Settings::default(),
            hour,
        );
        assert!(d.cases.is_empty());
    }

    #[test]
    fn baselines_catch_odd_hours_and_spikes() {
        let mut b = Baseline::default();
        for h in 8..16 {
            b.hours[h] = 50;
        }
        b.daily_patients = vec![10; 60];
        assert!(b.unusual_hour(3));
        assert!(!b.unusual_hour(9));
        assert_eq!(b.median_daily(), 10);
        let mut f = Facts::default();
        f.role.insert(1, "doctor".into());
        f.role.insert(2, "doctor".into());
        f.colleagues.insert(99);
        let baselines: HashMap<Id, Baseline> = [(1, b.clone()), (2, b)].into_iter().collect();
        // A colleague's record at 03:00 scores higher than at 09:00.
        let night = day(
            &[open(1, 99, 3 * 3600)],
            &f,
            &baselines,
            Settings::default(),
            hour,
        );
        let morning = day(
            &[open(1, 99, 9 * 3600)],
            &f,
            &baselines,
            Settings::default(),
            hour,
        );
        assert!(night.cases[0].score > morning.cases[0].score);
        assert!(night.cases[0].reasons.contains(&Reason::OutsideHours));
        // Person 1 opens 60 patients, person 2 their usual 10: a spike for 1 only.
        let mut acc: Vec<Access> = (0..60).map(|p| open(1, 1000 + p, 9 * 3600)).collect();
        acc.extend((0..10).map(|p| open(2, 2000 + p, 9 * 3600)));
        let d = day(&acc, &f, &baselines, Settings::default(), hour);
        let spikes: Vec<_> = d
            .cases
            .iter()
            .filter(|c| c.reasons == [Reason::Spike])
            .collect();
        assert_eq!(spikes.len(), 1);
        assert_eq!(spikes[0].actor, 1);
    }

    #[test]
    fn the_synthetic_hospital_finds_every_planted_snooper_and_stays_quiet_otherwise() {
        let w = hospital(7, 200, 20_000, 100_000, 5);
        let w2 = hospital(7, 200, 20_000, 100_000, 5);
        assert_eq!(w.accesses, w2.accesses, "deterministic");
        assert_eq!(w.snoopers, w2.snoopers);
        assert_eq!(w.lookalikes, w2.lookalikes);
        let d = day(
            &w.accesses,
            &w.facts,
            &w.baselines,
            Settings::default(),
            hour,
        );
        for (actor, plant) in &w.snoopers {
            assert!(
                d.cases
                    .iter()
                    .any(|c| c.actor == *actor && c.reasons.contains(&plant.reason())),
                "missed {plant:?} by {actor}"
            );
        }
        for (actor, plant) in &w.lookalikes {
            let cases: Vec<_> = d.cases.iter().filter(|c| c.actor == *actor).collect();
            assert!(cases.is_empty(), "look-alike of {plant:?}: {cases:?}");
        }
        let snoopers: HashSet<Id> = w.snoopers.iter().map(|s| s.0).collect();
        let false_alarms = d
            .cases
            .iter()
            .filter(|c| !snoopers.contains(&c.actor))
            .count() as u64;
        assert!(
            false_alarms * 1000 <= d.explained,
            "{false_alarms} false alarms for {} explained accesses",
            d.explained
        );
        for plant in Plant::ALL {
            assert_eq!(w.snoopers.iter().filter(|s| s.1 == plant).count(), 5);
            assert!(w.lookalikes.iter().any(|s| s.1 == plant), "{plant:?}");
        }
    }

    /// A small synthetic hospital (two groups of planted snoopers) judged with the defaults.
    fn small() -> (Workload, Day) {
        let w = hospital(3, 120, 6_000, 30_000, 2);
        let d = day(
            &w.accesses,
            &w.facts,
            &w.baselines,
            Settings::default(),
            hour,
        );
        (w, d)
    }

    /// On the small hospital: every planted snooper of `plant` has a case with its rule's
    /// reason, none of its look-alikes has any case, and no case carries the reason unless its
    /// person is a planted snooper. Returns the workload and the planted snoopers' cases with
    /// the reason.
    fn found_and_lookalikes_quiet(plant: Plant) -> (Workload, Vec<Case>) {
        let (w, d) = small();
        let planted: HashSet<Id> = w
            .snoopers
            .iter()
            .filter(|s| s.1 == plant)
            .map(|s| s.0)
            .collect();
        assert_eq!(planted.len(), 2, "{plant:?}");
        let lookalikes: Vec<Id> = w
            .lookalikes
            .iter()
            .filter(|s| s.1 == plant)
            .map(|s| s.0)
            .collect();
        assert!(!lookalikes.is_empty(), "{plant:?} has look-alikes");
        let reason = plant.reason();
        for a in &planted {
            assert!(
                d.cases
                    .iter()
                    .any(|c| c.actor == *a && c.reasons.contains(&reason)),
                "missed {plant:?} by {a}"
            );
        }
        for l in &lookalikes {
            let cases: Vec<_> = d.cases.iter().filter(|c| c.actor == *l).collect();
            assert!(cases.is_empty(), "look-alike {l} of {plant:?}: {cases:?}");
        }
        let snoopers: HashSet<Id> = w.snoopers.iter().map(|s| s.0).collect();
        for c in d.cases.iter().filter(|c| c.reasons.contains(&reason)) {
            assert!(
                snoopers.contains(&c.actor),
                "{reason:?} for no snooper: {c:?}"
            );
        }
        let found = d
            .cases
            .into_iter()
            .filter(|c| planted.contains(&c.actor) && c.reasons.contains(&reason))
            .collect();
        (w, found)
    }

    /// PC-ACL-1: a clinician who is a patient here and opens their own record is found as
    /// `OwnRecord` alone (not also a colleague, or a namesake at the same address, though the
    /// record is theirs); a clinician treating a colleague who is a patient is not.
    #[test]
    fn the_own_record_plant_is_found_and_treating_a_colleague_patient_is_not() {
        let (w, found) = found_and_lookalikes_quiet(Plant::OwnRecord);
        for c in &found {
            assert_eq!(c.reasons, [Reason::OwnRecord], "{c:?}");
            assert_eq!(c.patient, w.facts.own_patient.get(&c.actor).copied());
            assert!(c.patient.is_some_and(|p| w.facts.colleagues.contains(&p)));
        }
    }

    /// PC-ACL-1: opening a flatmate's record (same address, another surname) is found as
    /// `SameAddress` alone; treating a patient at one's own address under a care relationship
    /// is not; a relative (surname and address) gives both.
    #[test]
    fn the_flatmate_plant_is_found_and_treating_a_neighbour_in_care_is_not() {
        let (w, found) = found_and_lookalikes_quiet(Plant::Flatmate);
        for c in &found {
            assert_eq!(c.reasons, [Reason::SameAddress], "{c:?}");
        }
        let (_, relatives) = found_and_lookalikes_quiet(Plant::Relative);
        for c in &relatives {
            assert_eq!(c.reasons, [Reason::SameSurname, Reason::SameAddress]);
        }
        // The relative's look-alike shares a surname with a patient in their care.
        let (l, _) = w
            .lookalikes
            .iter()
            .find(|l| l.1 == Plant::Relative)
            .copied()
            .unwrap();
        let namesake = w.accesses.iter().find(|a| {
            a.actor == l && w.facts.surname.get(&('p', a.patient)) == w.facts.surname.get(&('a', l))
        });
        assert!(namesake.is_some_and(|a| explain(a, &w.facts) == Some(Explanation::Care)));
    }

    /// PC-ACL-1: the registered next of kin opening the patient's record is found as
    /// `NextOfKin`; a next of kin who treats the patient under a care relationship is not.
    #[test]
    fn the_next_of_kin_plant_is_found_and_a_next_of_kin_in_care_is_not() {
        let (_, found) = found_and_lookalikes_quiet(Plant::NextOfKin);
        for c in &found {
            assert_eq!(c.reasons, [Reason::NextOfKin], "{c:?}");
        }
    }

    /// PC-ACL-1: opening a former patient's record ten days after the care relationship ended
    /// is found as `AfterCareEnded`; the same with a follow-up appointment today, or with care
    /// begun again, is explained and not.
    #[test]
    fn the_care_ended_plant_is_found_and_a_follow_up_or_renewed_care_is_not() {
        let (w, found) = found_and_lookalikes_quiet(Plant::CareEnded);
        for c in &found {
            assert_eq!(c.reasons, [Reason::AfterCareEnded], "{c:?}");
        }
        // Every look-alike's access to a former patient is explained, by the follow-up or by
        // the care begun again.
        let ended = |a: &Access| {
            w.facts
                .care
                .get(&(a.actor, a.patient))
                .is_some_and(|ps| ps.iter().any(|(_, end)| *end < a.at))
        };
        let why: HashSet<_> = w
            .lookalikes
            .iter()
            .filter(|l| l.1 == Plant::CareEnded)
            .flat_map(|l| w.accesses.iter().filter(|a| a.actor == l.0 && ended(a)))
            .map(|a| explain(a, &w.facts))
            .collect();
        assert_eq!(
            why,
            [Some(Explanation::Care), Some(Explanation::Contact)].into()
        );
    }

    /// PC-ACL-1: emergency access with no note, or a note written too late, is found as
    /// `EmergencyWithoutNote`; emergency access with its note in time (the control, one at the
    /// last moment) is explained and never alerts.
    #[test]
    fn the_unnoted_emergency_plant_is_found_and_a_noted_one_is_not() {
        let (w, found) = found_and_lookalikes_quiet(Plant::UnnotedEmergency);
        for c in &found {
            assert_eq!(c.reasons, [Reason::EmergencyWithoutNote], "{c:?}");
        }
        let planted: Vec<_> = w
            .snoopers
            .iter()
            .filter(|s| s.1 == Plant::UnnotedEmergency)
            .filter_map(|s| {
                w.accesses.iter().find(|a| {
                    a.actor == s.0
                        && matches!(a.basis, Basis::Emergency { .. })
                        && explain(a, &w.facts).is_none()
                })
            })
            .map(|a| a.basis)
            .collect();
        assert_eq!(
            planted,
            [
                Basis::Emergency { noted_after: None },
                Basis::Emergency {
                    noted_after: Some(NOTE_WITHIN + 3600)
                }
            ]
        );
        let controls: Vec<&Access> = w
            .lookalikes
            .iter()
            .filter(|l| l.1 == Plant::UnnotedEmergency)
            .flat_map(|l| {
                w.accesses
                    .iter()
                    .filter(|a| a.actor == l.0 && matches!(a.basis, Basis::Emergency { .. }))
            })
            .collect();
        for n in [NOTE_WITHIN, 300] {
            let noted = Basis::Emergency {
                noted_after: Some(n),
            };
            assert!(controls.iter().any(|a| a.basis == noted), "{n}");
        }
        for a in controls {
            assert_eq!(explain(a, &w.facts), Some(Explanation::JustifiedEmergency));
        }
    }

    /// PC-ACL-1: searching for a stranger and opening the record is found as `SearchThenOpen`;
    /// searching for and opening a new patient with an appointment today is not.
    #[test]
    fn the_stranger_plant_is_found_and_a_new_patient_with_an_appointment_is_not() {
        let (_, found) = found_and_lookalikes_quiet(Plant::Stranger);
        for c in &found {
            assert_eq!(c.reasons, [Reason::SearchThenOpen], "{c:?}");
        }
    }

    /// PC-ACL-1: a day worker opening strangers' records at 02:00 is found as `OutsideHours`
    /// (one case per record, with nothing else against it); night-shift clinicians working
    /// (and opening a record unexplained) at night, their usual hours, are not, nor are
    /// clinicians on call whose explained night work must not add the reason to their day.
    #[test]
    fn the_night_owl_plant_is_found_and_night_shifts_and_on_call_are_not() {
        let (w, found) = found_and_lookalikes_quiet(Plant::NightOwl);
        assert_eq!(found.len(), 6);
        for c in &found {
            assert_eq!(
                c.reasons,
                [Reason::Unexplained, Reason::OutsideHours],
                "{c:?}"
            );
            assert_eq!(hour(c.first), 2);
        }
        let unusual = |a: Id, h: usize| w.baselines.get(&a).is_some_and(|b| b.unusual_hour(h));
        let (mut nights, mut on_call) = (0, 0);
        for (l, _) in w.lookalikes.iter().filter(|l| l.1 == Plant::NightOwl) {
            let night: Vec<_> = w
                .accesses
                .iter()
                .filter(|a| a.actor == *l && hour(a.at) < 4)
                .collect();
            assert!(!night.is_empty());
            if unusual(*l, 2) {
                // On call: their night work is explained.
                on_call += 1;
                assert!(night.iter().all(|a| explain(a, &w.facts).is_some()));
            } else {
                nights += 1;
                assert!(!unusual(*l, 3) && unusual(*l, 12));
            }
        }
        assert_eq!((nights, on_call), (2, 2));
    }

    /// PC-ACL-1: a spree of strangers in an evening is one `Spike` case (its records fold into
    /// it, with `OutsideHours`); a busy day of as many patients, all in care, is not.
    #[test]
    fn the_spree_plant_is_one_case_and_a_busy_day_in_care_is_not() {
        let (w, found) = found_and_lookalikes_quiet(Plant::Spree);
        assert_eq!(found.len(), 2);
        for c in &found {
            assert_eq!(c.reasons, [Reason::OutsideHours, Reason::Spike], "{c:?}");
            assert_eq!(c.patient, None);
        }
        let (busy, _) = w
            .lookalikes
            .iter()
            .find(|l| l.1 == Plant::Spree)
            .copied()
            .unwrap();
        let theirs: HashSet<Id> = w
            .accesses
            .iter()
            .filter(|a| a.actor == busy)
            .map(|a| a.patient)
            .collect();
        assert!(theirs.len() > 500, "{}", theirs.len());
    }

    /// PC-ACL-1: the rules each reach a case alone: an emergency access without a note, and an
    /// unexplained access at an hour unusual for the person; explained night work does not put
    /// `OutsideHours` on the person's daytime cases, and explained accesses never count towards
    /// a spike.
    #[test]
    fn every_rule_makes_a_case_alone_and_explained_work_adds_nothing() {
        let mut b = Baseline::default();
        for h in 8..16 {
            b.hours[h] = 50;
        }
        b.daily_patients = vec![10; 60];
        let baselines: HashMap<Id, Baseline> = [(1, b)].into_iter().collect();
        let mut f = Facts::default();
        f.colleagues.insert(99);
        let emergency = Access {
            basis: Basis::Emergency { noted_after: None },
            ..open(1, 5, 9 * 3600)
        };
        let d = day(&[emergency], &f, &baselines, Settings::default(), hour);
        assert_eq!(d.cases.len(), 1);
        assert_eq!(d.cases[0].reasons, [Reason::EmergencyWithoutNote]);
        let d = day(
            &[open(1, 5, 3 * 3600)],
            &f,
            &baselines,
            Settings::default(),
            hour,
        );
        assert_eq!(d.cases.len(), 1);
        assert_eq!(
            d.cases[0].reasons,
            [Reason::Unexplained, Reason::OutsideHours]
        );
        // On call: explained work at 03:00, then in the day an unexplained record (no case) and
        // a colleague's (a case, without OutsideHours).
        for p in 0..40 {
            f.care.insert((1, 100 + p), vec![(0, 86_400)]);
        }
        let mut acc: Vec<Access> = (0..40)
            .map(|p| Access {
                basis: Basis::Care,
                ..open(1, 100 + p, 3 * 3600)
            })
            .collect();
        acc.extend([open(1, 5, 9 * 3600), open(1, 99, 10 * 3600)]);
        let d = day(&acc, &f, &baselines, Settings::default(), hour);
        assert_eq!(d.cases.len(), 1, "{:?}", d.cases);
        assert_eq!(d.cases[0].reasons, [Reason::Colleague]);
        assert_eq!(d.cases[0].patient, Some(99));
    }
}
