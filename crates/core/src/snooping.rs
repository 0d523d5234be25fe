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
    /// Many more distinct patients than the person's own history and their peers'.
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

    /// The weight of the reason in a case's score.
    pub fn weight(self) -> u32 {
        match self {
            Self::OwnRecord | Self::NextOfKin | Self::SameAddress => 40,
            Self::Colleague | Self::Protected | Self::SameSurname => 30,
            Self::SearchThenOpen | Self::AfterCareEnded => 25,
            Self::EmergencyWithoutNote => 20,
            Self::Spike => 20,
            Self::OutsideHours => 10,
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
    if f.colleagues.contains(&a.patient) {
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
    /// Whose data (`None` for a case about the actor's whole day: a spike).
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

/// Judges one day's accesses (sorted or not) against the facts and the baselines (`hour_of`
/// maps a time to the local hour of day).
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
    let mut cases: BTreeMap<(Id, Id), (BTreeSet<Reason>, i64, u32)> = BTreeMap::new();
    let mut distinct: HashMap<Id, HashSet<Id>> = HashMap::new();
    let mut odd_hours: HashMap<Id, (i64, u32)> = HashMap::new();
    for a in order {
        distinct.entry(a.actor).or_default().insert(a.patient);
        if baselines
            .get(&a.actor)
            .is_some_and(|b| b.unusual_hour(hour_of(a.at)))
        {
            let e = odd_hours.entry(a.actor).or_insert((a.at, 0));
            e.1 += 1;
        }
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
        let e = cases
            .entry((a.actor, a.patient))
            .or_insert((BTreeSet::new(), a.at, 0));
        e.0.extend(reasons(a, f, before));
        e.2 += 1;
    }
    for ((actor, patient), (reasons, first, n)) in cases {
        let mut reasons: Vec<Reason> = reasons.into_iter().collect();
        if reasons.len() > 1 {
            reasons.retain(|r| *r != Reason::Unexplained);
        }
        if odd_hours.contains_key(&actor) {
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
    for (actor, set) in &distinct {
        let n = set.len() as u32;
        let own = baselines.get(actor).map_or(0, Baseline::median_daily);
        let peers = peer_median(*actor, f.role.get(actor).map_or("", String::as_str));
        if n >= s.spike_min && n > own.max(1) * s.spike_factor && n > peers.max(1) * s.spike_factor
        {
            out.cases.push(Case {
                actor: *actor,
                patient: None,
                score: Reason::Spike.weight() + 10,
                reasons: vec![Reason::Spike],
                first: 0,
                accesses: n,
            });
        }
    }
    out.cases
        .sort_by(|a, b| b.score.cmp(&a.score).then(a.actor.cmp(&b.actor)));
    out
}

/// A deterministic synthetic hospital for tests and the benchmark: clinicians with their
/// patients (care relationships and contacts), a records office with a purpose grant, and
/// planted snoopers who look where they have no reason to.
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

    /// The kinds of planted snooping.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Plant {
        /// Opens a colleague's record.
        Colleague,
        /// Opens a relative's record (same surname and address).
        Relative,
        /// Searches for a protected person and opens the record.
        Celebrity,
        /// Opens many strangers' records in one day.
        Spree,
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
    }

    /// Makes a day of a hospital with `clinicians` clinicians, `patients` patients and about
    /// `accesses` accesses, and one snooper of each kind per `snoopers` group.
    pub fn hospital(
        seed: u64,
        clinicians: u32,
        patients: u32,
        accesses: u32,
        snoopers: u32,
    ) -> Workload {
        let mut rng = Rng::new(seed);
        let mut f = Facts::default();
        let day0: i64 = 1_800_000_000 - 1_800_000_000 % 86_400;
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
        let per = (patients / clinicians.max(1)).max(1) * 2;
        let mut mine: HashMap<Id, Vec<Id>> = HashMap::new();
        for c in 0..clinicians {
            for _ in 0..per {
                let p = rng.below(patients);
                mine.entry(c).or_default().push(p);
                if rng.below(4) == 0 {
                    f.contacts.entry((c, p)).or_default().push(day0 + 9 * 3600);
                } else {
                    f.care
                        .entry((c, p))
                        .or_default()
                        .push((day0 - 30 * 86_400, day0 + 30 * 86_400));
                }
            }
        }
        // The records office: clinician 0 has a purpose grant.
        f.purpose_grants
            .insert(0, vec![(day0 - 86_400, day0 + 86_400)]);
        let mut out = Vec::with_capacity(accesses as usize + 1000);
        // Ordinary work: each access by a clinician to one of their patients, in working hours;
        // sometimes a search first.
        for _ in 0..accesses {
            let c = 1 + rng.below(clinicians.saturating_sub(1).max(1));
            let Some(list) = mine.get(&c) else { continue };
            let p = list[rng.below(list.len() as u32) as usize];
            let at = day0 + 7 * 3600 + i64::from(rng.below(10 * 3600));
            if rng.below(5) == 0 {
                out.push(Access {
                    at: at - 60,
                    actor: c,
                    patient: p,
                    kind: Kind::Search,
                    basis: Basis::Role,
                });
            }
            let basis = if f.care.contains_key(&(c, p)) {
                Basis::Care
            } else {
                Basis::Role
            };
            out.push(Access {
                at,
                actor: c,
                patient: p,
                kind: Kind::Open,
                basis,
            });
        }
        // History: working hours 7–17, and about as many distinct patients a day as today's
        // ordinary work (each of 60 days within a fifth of it).
        let mut today: HashMap<Id, HashSet<Id>> = HashMap::new();
        for a in &out {
            today.entry(a.actor).or_default().insert(a.patient);
        }
        let mut baselines = HashMap::new();
        for c in 0..clinicians {
            let mut b = Baseline::default();
            for h in 7..17 {
                b.hours[h] = 60 + rng.below(40);
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
            let at = day0 + 12 * 3600;
            out.push(Access {
                at,
                actor: c,
                patient: p,
                kind: Kind::Open,
                basis: Basis::Emergency {
                    noted_after: Some(600),
                },
            });
        }
        // The planted snoopers.
        let mut planted = Vec::new();
        for g in 0..snoopers {
            let base = 1 + (g * 4) % clinicians.saturating_sub(5).max(1);
            let at = day0 + 10 * 3600 + i64::from(g);
            // A colleague: patient who works here.
            let (c, p) = (base, patients - 1 - (g * 4) % patients.max(1));
            f.colleagues.insert(p);
            out.push(Access {
                at,
                actor: c,
                patient: p,
                kind: Kind::Open,
                basis: Basis::Role,
            });
            planted.push((c, Plant::Colleague));
            // A relative: same surname and address.
            let (c, p) = (base + 1, patients - 2 - (g * 4) % patients.max(1));
            let sn = f.surname.get(&('a', c)).cloned().unwrap_or_default();
            let ad = f.address.get(&('a', c)).cloned().unwrap_or_default();
            f.surname.insert(('p', p), sn);
            f.address.insert(('p', p), ad);
            out.push(Access {
                at,
                actor: c,
                patient: p,
                kind: Kind::Open,
                basis: Basis::Role,
            });
            planted.push((c, Plant::Relative));
            // A celebrity: searched for, then opened.
            let (c, p) = (base + 2, patients - 3 - (g * 4) % patients.max(1));
            f.protected.insert(p);
            out.push(Access {
                at: at - 120,
                actor: c,
                patient: p,
                kind: Kind::Search,
                basis: Basis::Role,
            });
            out.push(Access {
                at,
                actor: c,
                patient: p,
                kind: Kind::Open,
                basis: Basis::Role,
            });
            planted.push((c, Plant::Celebrity));
            // A spree: 600 strangers in an evening.
            let c = base + 3;
            for k in 0..600 {
                let p = rng.below(patients);
                out.push(Access {
                    at: day0 + 20 * 3600 + k,
                    actor: c,
                    patient: p,
                    kind: Kind::Open,
                    basis: Basis::Role,
                });
            }
            planted.push((c, Plant::Spree));
        }
        Workload {
            facts: f,
            accesses: out,
            baselines,
            snoopers: planted,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::workload::{hospital, Plant};
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
        let d = day(
            &w.accesses,
            &w.facts,
            &w.baselines,
            Settings::default(),
            hour,
        );
        for (actor, plant) in &w.snoopers {
            assert!(
                d.cases.iter().any(|c| c.actor == *actor),
                "missed {plant:?} by {actor}"
            );
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
        assert!(w.snoopers.iter().any(|s| s.1 == Plant::Spree));
    }
}
