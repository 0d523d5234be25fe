//! The requirement catalogue the compliance report is built from (issue #15, VC-PBD-2): the repo's
//! copy of Normen's requirements (`docs/normen/REQUIREMENTS.md`, compiled in) read into one item
//! per requirement ID and per risk scenario (factsheet 54's 21, the guide's 36), the statuses a
//! row of the report can have, and the organisation's routine checklist (REQUIREMENTS section 5).
//! Which check answers which ID is `trygg_app::compliance`'s; this module only knows the words.

use std::fmt;

/// The catalogue, as copied into the repository (its source is named in `docs/normen/README.md`).
pub const CATALOGUE: &str = include_str!("../../../docs/normen/REQUIREMENTS.md");

/// What a catalogue item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ItemKind {
    /// A requirement with its own ID (`VC-AUTH-1`, `PC-STORE-1`).
    Requirement,
    /// A risk scenario the system must mitigate (`VC-RISK-13`, `PC-RISK-17`).
    RiskScenario,
}

/// One row of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Item {
    /// The stable ID.
    pub id: String,
    /// Requirement or risk scenario.
    pub kind: ItemKind,
    /// What Normen asks (the catalogue's English text).
    pub text: String,
    /// The system measure the catalogue names, if any.
    pub measure: Option<String>,
    /// Where in Normen it comes from.
    pub source: String,
}

const SOURCE_VC: &str = "Normen, faktaark 54 Videokonsultasjon (v2.0, 2020)";
const SOURCE_PC: &str = "Normen, veileder Digital pasientkommunikasjon (2024)";

/// Every item of the catalogue, requirements first (in the catalogue's order), then the risk
/// scenarios. The test `every_id_is_read` pins the counts, so an edit to the copy that the reader
/// does not understand fails loudly instead of shrinking the report.
pub fn catalogue() -> Vec<Item> {
    let mut out = Vec::new();
    for line in CATALOGUE.lines() {
        let Some(row) = line.strip_prefix("| ") else {
            continue;
        };
        let cells: Vec<&str> = row.trim_end_matches('|').split(" | ").collect();
        let Some(first) = cells.first() else { continue };
        let mut id_part = first.split_whitespace();
        let Some(id) = id_part.next() else { continue };
        if !(id.starts_with("VC-") || id.starts_with("PC-")) {
            continue;
        }
        let section = id_part
            .next()
            .map(|s| s.trim_matches(|c| c == '(' || c == ')'));
        let source = match (id.starts_with("VC-"), section) {
            (true, _) => SOURCE_VC.to_owned(),
            (false, Some(s)) => format!("{SOURCE_PC}, {s}"),
            (false, None) => SOURCE_PC.to_owned(),
        };
        out.push(Item {
            id: id.to_owned(),
            kind: ItemKind::Requirement,
            text: clean(cells.get(1).copied().unwrap_or_default()),
            measure: cells.get(2).map(|s| clean(s)),
            source,
        });
    }
    for (n, text) in video_risks() {
        out.push(Item {
            id: format!("VC-RISK-{n}"),
            kind: ItemKind::RiskScenario,
            text,
            measure: None,
            source: format!("{SOURCE_VC}, risikoscenario {n}"),
        });
    }
    for (n, text) in guide_risks() {
        out.push(Item {
            id: format!("PC-RISK-{n}"),
            kind: ItemKind::RiskScenario,
            text,
            measure: None,
            source: format!("{SOURCE_PC}, kapittel 4, risikoscenario {n}"),
        });
    }
    out
}

fn clean(s: &str) -> String {
    s.replace("**", "").trim().to_owned()
}

/// The lines of the section that starts with `heading`, up to the next heading.
fn section(heading: &str) -> String {
    let mut on = false;
    let mut text = String::new();
    for line in CATALOGUE.lines() {
        if line.starts_with('#') {
            on = line.trim() == heading;
            continue;
        }
        if on {
            text.push_str(line.trim());
            text.push(' ');
        }
    }
    text
}

/// Factsheet 54's scenarios: "1. text 2. text ... 16/17. text" (one text for two numbers).
fn video_risks() -> Vec<(u32, String)> {
    let text = section("### Risk scenarios the system must mitigate (factsheet 54)");
    // Where a number (optionally "/number") followed by ". " starts a scenario.
    let bytes = text.as_bytes();
    let mut starts: Vec<(usize, usize, Vec<u32>)> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let at_word = i == 0 || bytes[i - 1] == b' ';
        if at_word && bytes[i].is_ascii_digit() {
            let mut j = i;
            let mut nums = Vec::new();
            let mut cur = String::new();
            while j < bytes.len() && (bytes[j].is_ascii_digit() || bytes[j] == b'/') {
                if bytes[j] == b'/' {
                    nums.extend(cur.parse::<u32>().ok());
                    cur.clear();
                } else {
                    cur.push(char::from(bytes[j]));
                }
                j += 1;
            }
            nums.extend(cur.parse::<u32>().ok());
            if text[j..].starts_with(". ") && !nums.is_empty() {
                starts.push((i, j + 2, nums));
                i = j + 2;
                continue;
            }
        }
        i += 1;
    }
    let mut out = Vec::new();
    for (k, (_, body, nums)) in starts.iter().enumerate() {
        let end = starts.get(k + 1).map_or(text.len(), |s| s.0);
        let t = clean(&text[*body..end]);
        for n in nums {
            out.push((*n, t.clone()));
        }
    }
    out
}

/// The guide's scenarios: "1 text; 2 text; ...".
fn guide_risks() -> Vec<(u32, String)> {
    let text = section("### General risk scenarios (guide chapter 4), numbered as in the guide");
    let mut out: Vec<(u32, String)> = Vec::new();
    for part in text.split("; ") {
        let part = part.trim().trim_end_matches('.');
        let (num, rest) = part.split_once(' ').unwrap_or((part, ""));
        match num.parse::<u32>() {
            Ok(n) => out.push((n, clean(rest))),
            Err(_) => {
                if let Some(last) = out.last_mut() {
                    last.1.push_str("; ");
                    last.1.push_str(&clean(part));
                }
            }
        }
    }
    out
}

/// A row's status in the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// A check ran against the live system and found the requirement met by how Trygg works.
    Met,
    /// Met because a setting has the recommended value (shown with who changed it last).
    MetBySetting,
    /// The organisation's routine (shown with its checklist item).
    OrganisationRoutine,
    /// Not met now: a check failed, or a setting is below the recommended value.
    NotMet,
    /// Does not apply to this deployment (with the reason).
    NotApplicable,
}

impl Status {
    /// The stable code.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Met => "met",
            Self::MetBySetting => "met-by-setting",
            Self::OrganisationRoutine => "organisation-routine",
            Self::NotMet => "not-met",
            Self::NotApplicable => "not-applicable",
        }
    }

    /// The worse of two statuses for a row that depends on several (a risk scenario on the
    /// requirements that mitigate it): `not-met` wins, then routine, then setting, then met.
    pub fn worst(self, other: Self) -> Self {
        fn rank(s: Status) -> u8 {
            match s {
                Status::NotMet => 4,
                Status::OrganisationRoutine => 3,
                Status::MetBySetting => 2,
                Status::Met => 1,
                Status::NotApplicable => 0,
            }
        }
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A routine the organisation keeps (REQUIREMENTS section 1 "Routines the system must support",
/// guide 2.7, section 5): stable key, English and Norwegian name.
pub struct Routine {
    /// Stable key.
    pub key: &'static str,
    /// English name.
    pub en: &'static str,
    /// Bokmål name.
    pub nb: &'static str,
}

/// The routine checklist every organisation gets (section 5: owner, document, review date each).
pub const ROUTINES: &[Routine] = &[
    Routine {
        key: "risk-assessment",
        en: "Risk assessment and DPIA (before use and after major changes)",
        nb: "Risikovurdering og DPIA (før bruk og etter større endringer)",
    },
    Routine {
        key: "data-processing-agreement",
        en: "Data processing agreement with every vendor",
        nb: "Databehandleravtale med hver leverandør",
    },
    Routine {
        key: "access-control",
        en: "Access control: granting, changing and ending access",
        nb: "Tilgangsstyring: tildele, endre og avslutte tilgang",
    },
    Routine {
        key: "patient-authentication",
        en: "How patients are authorised and authenticated",
        nb: "Hvordan pasienter autoriseres og autentiseres",
    },
    Routine {
        key: "personnel-authentication",
        en: "How personnel are authorised for a need to know, and authenticated",
        nb: "Hvordan personell autoriseres etter tjenstlig behov og autentiseres",
    },
    Routine {
        key: "encryption-control",
        en: "Regular control that communication is encrypted",
        nb: "Jevnlig kontroll av at kommunikasjonen er kryptert",
    },
    Routine {
        key: "approved-participants",
        en: "Only approved participants; informing the patient of extra participants",
        nb: "Bare godkjente deltakere; informere pasienten om flere deltakere",
    },
    Routine {
        key: "rights-review",
        en: "Periodic control of granted rights (personnel and administrators)",
        nb: "Periodisk kontroll av tildelte rettigheter (personell og administratorer)",
    },
    Routine {
        key: "journal-duty",
        en: "Journal duty: who, what, when",
        nb: "Journalføringsplikt: hvem, hva, når",
    },
    Routine {
        key: "private-devices",
        en: "Personnel's private devices",
        nb: "Personellets private enheter",
    },
    Routine {
        key: "training",
        en: "Training of personnel",
        nb: "Opplæring av personell",
    },
    Routine {
        key: "patient-information",
        en: "Information to patients",
        nb: "Informasjon til pasienter",
    },
    Routine {
        key: "admin-accounts",
        en: "Administrator and system accounts",
        nb: "Administrator- og systemkontoer",
    },
    Routine {
        key: "confidentiality-at-home",
        en: "Confidentiality at home and in shared rooms",
        nb: "Konfidensialitet hjemme og i delte rom",
    },
    Routine {
        key: "deviations",
        en: "Deviations (avvik): who reports, how, the 72-hour clock",
        nb: "Avvik: hvem melder, hvordan, 72-timersfristen",
    },
    Routine {
        key: "availability",
        en: "Availability: backups, restore, exit plan",
        nb: "Tilgjengelighet: sikkerhetskopi, gjenoppretting, exit-plan",
    },
    Routine {
        key: "social-media",
        en: "Use of social media (outside Trygg)",
        nb: "Bruk av sosiale medier (utenfor Trygg)",
    },
];

/// The routine with this key.
pub fn routine(key: &str) -> Option<&'static Routine> {
    ROUTINES.iter().find(|r| r.key == key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_id_is_read() {
        let items = catalogue();
        let req = items
            .iter()
            .filter(|i| i.kind == ItemKind::Requirement)
            .count();
        let vc: Vec<_> = items
            .iter()
            .filter(|i| i.id.starts_with("VC-RISK-"))
            .collect();
        let pc: Vec<_> = items
            .iter()
            .filter(|i| i.id.starts_with("PC-RISK-"))
            .collect();
        // Every ID-shaped word in the catalogue's tables is an item.
        let in_tables = CATALOGUE
            .lines()
            .filter(|l| l.starts_with("| VC-") || l.starts_with("| PC-"))
            .count();
        assert_eq!(req, in_tables);
        assert!(req >= 49, "{req}");
        assert_eq!(vc.len(), 21);
        assert_eq!(pc.len(), 36);
        for (k, i) in vc.iter().enumerate() {
            assert_eq!(i.id, format!("VC-RISK-{}", k + 1));
            assert!(!i.text.is_empty());
        }
        for (k, i) in pc.iter().enumerate() {
            assert_eq!(i.id, format!("PC-RISK-{}", k + 1));
            assert!(!i.text.is_empty(), "{}", i.id);
        }
        assert!(
            vc[12].text.starts_with("Unauthorised people join"),
            "{}",
            vc[12].text
        );
        assert!(vc[16].text.contains("inside / outside"), "{}", vc[16].text);
        assert!(pc[16].text.contains("security events"), "{}", pc[16].text);
        let mut ids: Vec<_> = items.iter().map(|i| &i.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), items.len(), "IDs are unique");
        let v = items
            .iter()
            .find(|i| i.id == "PC-VENDOR-3")
            .map(|i| &i.source);
        assert_eq!(v.map(|s| s.ends_with("5.4.4")), Some(true), "{v:?}");
    }

    #[test]
    fn worst_is_not_met_first() {
        assert_eq!(Status::Met.worst(Status::NotMet), Status::NotMet);
        assert_eq!(
            Status::OrganisationRoutine.worst(Status::Met),
            Status::OrganisationRoutine
        );
        assert_eq!(
            Status::NotApplicable.worst(Status::MetBySetting),
            Status::MetBySetting
        );
    }
}
