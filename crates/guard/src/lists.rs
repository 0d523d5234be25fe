//! Term lists: the file format, its parser with typed errors, and spelling variants.
//!
//! Lists are plain UTF-8 text, one term per line, grouped under `[section]` headers that name
//! the list (`[health-info]`, `[medication]`, `[revealing-unit]`, `[grey-unit]`, `[allow]` and the
//! cue lists in `data/cues.txt`). `#` starts a comment. A term is matched on word boundaries
//! after case folding; wildcards widen that:
//!
//! | line | matches |
//! |---|---|
//! | `kreft` | the whole word only ("kreft", not "krefter") |
//! | `diabetes*` | the word and any continuation ("diabetesen", "diabeteskontroll") |
//! | `*kreft` | the end of a compound ("brystkreft") |
//! | `*psykiatri*` | anywhere inside a word |
//! | `=LAR` | case-sensitive whole word |
//! | `operasjon!` | this word only, without the generated forms of `morph` |
//!
//! The built-in lists are compiled in with `include_str!`; an organisation can add lists at
//! deploy time (for example from the FEST medicine list or the ICPC-2 register it holds a licence
//! for). Every line is checked when loaded, and an error names the file, the line and what is
//! wrong.

use crate::fold::fold_str;
use std::fmt;

/// The list a term belongs to, from its section header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ListKind {
    /// `[health-info]`: diagnoses, conditions, health objects.
    Health,
    /// `[health-soft]`: general symptoms, ignored in a generic policy sentence.
    HealthSoft,
    /// `[medication]`: medicines, substances, kinds of medicine, dosing words.
    Medication,
    /// `[revealing-unit]`: units whose name ties a patient to a condition.
    RevealingUnit,
    /// `[grey-unit]`: units that may hint at a condition.
    GreyUnit,
    /// `[allow]`: words that contain a sensitive term but are harmless; they cover other matches.
    Allow,
    /// `[test-cue]`: a test or its result exists.
    TestCue,
    /// `[result-word]`: the content of a result ("normale", "positiv").
    ResultWord,
    /// `[analyte]`: a measured quantity; a number after it is a value.
    Analyte,
    /// `[unit-head]`: "Seksjon for", followed by a condition.
    UnitHead,
    /// `[unit-word]`: "poliklinikk" and the like, joined to a condition.
    UnitWord,
    /// `[location-cue]`: "rom", "plass": a code after it is a place.
    LocationCue,
    /// `[code-cue]`: "diagnose", "kode": a code near it is a diagnosis.
    CodeCue,
    /// `[phone-cue]`: "ring oss", "Tlf.": a number after it is the sender's.
    PhoneCue,
    /// `[patient-phone-cue]`: "mobilnummer på deg": a number after it is the patient's.
    PatientPhoneCue,
    /// `[third-party-phone-cue]`: "legevakten": a number after it is a third party's.
    ThirdPartyPhoneCue,
    /// `[closing]`: "Hilsen", "Mvh": a number after it is in the sender's signature.
    Closing,
    /// `[no-reply]`: the line saying the patient cannot reply.
    NoReply,
    /// `[conditional]`: "ved", "hvis", "blir du".
    Conditional,
    /// `[policy-action]`: "avbestille", "ring legevakten".
    PolicyAction,
    /// `[prescription-on]`: "resepten på", naming what follows.
    PrescriptionOn,
    /// `[not-a-medicine]`: words after "resepten på" that name no medicine (a word set).
    NotAMedicine,
    /// `[dose-unit]`: a word after a number that makes it a dose (a word set).
    DoseUnit,
    /// `[lab-unit]`: a word after a number that makes it a measured value (a word set).
    LabUnit,
    /// `[ordinary]`: ordinary words that no generated form (inflection, compound, misspelling;
    /// see `morph`) may match.
    Ordinary,
    /// `[body-part]`: a body part, the first part of a compound with a `[treatment-head]`.
    BodyPart,
    /// `[treatment-head]`: "behandling", "smerter": revealing after a `[body-part]` in one
    /// compound ("ryggbehandlinga", "knesmerter").
    TreatmentHead,
    /// `[specialty]`: a medical specialty ("nevrologisk", "kardiolog"): grey alone, a revealing
    /// unit with a unit word ("Nevrologisk poliklinikk") or after a unit head ("Avdeling for
    /// nevrologi").
    Specialty,
    /// `[organ]`: an organ or body system ("hjerte", "lunge"): nothing alone, a revealing unit
    /// joined to a unit word ("hjertepoliklinikken", "lungeavdelinga") or after a unit head.
    Organ,
    /// `[vaccine-cue]`: "vaksine mot": the diseases listed right after it name a vaccine, not
    /// the patient's condition ("oppfriskningsvaksine mot difteri, stivkrampe og kikhoste").
    VaccineCue,
}

impl ListKind {
    /// Every list and its section name.
    pub const SECTIONS: [(&'static str, ListKind); 30] = [
        ("health-info", ListKind::Health),
        ("health-soft", ListKind::HealthSoft),
        ("medication", ListKind::Medication),
        ("revealing-unit", ListKind::RevealingUnit),
        ("grey-unit", ListKind::GreyUnit),
        ("allow", ListKind::Allow),
        ("test-cue", ListKind::TestCue),
        ("result-word", ListKind::ResultWord),
        ("analyte", ListKind::Analyte),
        ("unit-head", ListKind::UnitHead),
        ("unit-word", ListKind::UnitWord),
        ("location-cue", ListKind::LocationCue),
        ("code-cue", ListKind::CodeCue),
        ("phone-cue", ListKind::PhoneCue),
        ("patient-phone-cue", ListKind::PatientPhoneCue),
        ("third-party-phone-cue", ListKind::ThirdPartyPhoneCue),
        ("closing", ListKind::Closing),
        ("no-reply", ListKind::NoReply),
        ("conditional", ListKind::Conditional),
        ("policy-action", ListKind::PolicyAction),
        ("prescription-on", ListKind::PrescriptionOn),
        ("not-a-medicine", ListKind::NotAMedicine),
        ("dose-unit", ListKind::DoseUnit),
        ("lab-unit", ListKind::LabUnit),
        ("ordinary", ListKind::Ordinary),
        ("body-part", ListKind::BodyPart),
        ("treatment-head", ListKind::TreatmentHead),
        ("specialty", ListKind::Specialty),
        ("organ", ListKind::Organ),
        ("vaccine-cue", ListKind::VaccineCue),
    ];

    /// The list named by a section header.
    pub fn from_section(name: &str) -> Option<ListKind> {
        Self::SECTIONS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, k)| *k)
    }

    /// The section name of the list.
    pub fn section(self) -> &'static str {
        Self::SECTIONS
            .iter()
            .find(|(_, k)| *k == self)
            .map_or("?", |(n, _)| n)
    }

    /// Whether the list is a word set looked up by the number and prescription rules rather than
    /// searched for in the text.
    pub(crate) fn is_word_set(self) -> bool {
        matches!(
            self,
            ListKind::NotAMedicine | ListKind::DoseUnit | ListKind::LabUnit
        )
    }

    /// Whether a term of the list is a finding by itself (a condition, a medicine, a unit),
    /// not a cue that qualifies other words.
    pub(crate) fn is_content(self) -> bool {
        matches!(
            self,
            ListKind::Health
                | ListKind::HealthSoft
                | ListKind::Medication
                | ListKind::RevealingUnit
                | ListKind::GreyUnit
        )
    }

    /// Whether spelling variants are generated for the list's terms.
    fn wants_variants(self) -> bool {
        matches!(self, ListKind::Health | ListKind::Medication)
    }
}

impl fmt::Display for ListKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.section())
    }
}

/// What is wrong with a line of a term list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineProblem {
    /// A `[section]` header names no known list.
    #[error("unknown section [{0}]; known: health-info, health-soft, medication, revealing-unit, grey-unit, allow and the cue lists")]
    UnknownSection(String),
    /// A term comes before any section header.
    #[error("term before any [section] header")]
    NoSection,
    /// The term is too short to match safely (fewer than 2 characters).
    #[error("term is too short (at least 2 characters)")]
    TooShort,
    /// A `*` stands inside the term rather than at its start or end.
    #[error("`*` may stand only at the start or the end of a term")]
    MisplacedWildcard,
    /// The term starts or ends with a space or holds a control character or tab.
    #[error("term has a control character or leading or trailing space")]
    BadSpace,
    /// `!` (this word only) is combined with a `*` wildcard.
    #[error("a term for this word only (`!`) cannot have wildcards")]
    OnlyWordWildcard,
    /// `=` (case-sensitive) is combined with a `*` wildcard.
    #[error("a case-sensitive term (`=`) cannot have wildcards")]
    CaseSensitiveWildcard,
    /// A section header is empty or malformed.
    #[error("malformed section header")]
    BadHeader,
}

/// An error loading term lists.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A line of a list is invalid.
    #[error("{file}:{line}: {problem}")]
    Line {
        /// The list's name (its file path for files).
        file: String,
        /// The 1-based line number.
        line: usize,
        /// What is wrong.
        problem: LineProblem,
    },
    /// A list file could not be read.
    #[error("cannot read term list {file}: {source}")]
    Read {
        /// The file path.
        file: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The matcher could not be built from the terms (for example, too many of them).
    #[error("cannot build the term matcher: {0}")]
    Build(String),
}

/// One parsed term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// The list it belongs to.
    pub kind: ListKind,
    /// The case-folded text without wildcards.
    pub folded: String,
    /// The text as written, without `=` (used for case-sensitive terms).
    pub original: String,
    /// `*term`: may be preceded by letters.
    pub free_start: bool,
    /// `term*`: may be followed by letters.
    pub free_end: bool,
    /// `=TERM`: case-sensitive.
    pub case_sensitive: bool,
    /// `term!`: this word only, without the inflected, compound and misspelt forms that
    /// `morph` gives other whole-word terms ("operasjon!", since "flytteoperasjonen" and
    /// "operasjonssentralen" are ordinary words).
    pub only_word: bool,
}

/// Parses one list text. `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Vec<Term>, LoadError> {
    let mut out = Vec::new();
    let mut section: Option<ListKind> = None;
    for (i, raw) in text.lines().enumerate() {
        let err = |problem| LoadError::Line {
            file: file.to_string(),
            line: i + 1,
            problem,
        };
        let line = match raw.find('#') {
            Some(p) => raw.get(..p).unwrap_or(raw),
            None => raw,
        };
        let line = line.trim_end_matches([' ', '\t', '\r']);
        if line.trim().is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix('[') {
            let name = rest.strip_suffix(']').ok_or(err(LineProblem::BadHeader))?;
            if name.is_empty() {
                return Err(err(LineProblem::BadHeader));
            }
            section = Some(
                ListKind::from_section(name)
                    .ok_or_else(|| err(LineProblem::UnknownSection(name.to_string())))?,
            );
            continue;
        }
        let kind = section.ok_or(err(LineProblem::NoSection))?;
        out.push(parse_term(kind, line).map_err(err)?);
    }
    Ok(out)
}

fn parse_term(kind: ListKind, line: &str) -> Result<Term, LineProblem> {
    if line.starts_with(' ') || line.chars().any(|c| c.is_control()) {
        return Err(LineProblem::BadSpace);
    }
    let (case_sensitive, rest) = match line.strip_prefix('=') {
        Some(r) => (true, r),
        None => (false, line),
    };
    let (free_start, rest) = match rest.strip_prefix('*') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let (only_word, rest) = match rest.strip_suffix('!') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let (free_end, core) = match rest.strip_suffix('*') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    if only_word && (free_start || free_end) {
        return Err(LineProblem::OnlyWordWildcard);
    }
    if core.contains('*') {
        return Err(LineProblem::MisplacedWildcard);
    }
    if case_sensitive && (free_start || free_end) {
        return Err(LineProblem::CaseSensitiveWildcard);
    }
    if core.starts_with(' ') || core.ends_with(' ') {
        return Err(LineProblem::BadSpace);
    }
    if core.chars().count() < 2 {
        return Err(LineProblem::TooShort);
    }
    Ok(Term {
        kind,
        folded: fold_str(&crate::normalize::normalise_str(core)),
        original: core.to_string(),
        free_start,
        free_end,
        case_sensitive,
        only_word,
    })
}

/// Adds common misspellings of health and medicine terms: c/k, y/i, ph/f, th/t, x/ks, a doubled
/// letter written once, and `-es` written `-is` ("diabetis"). Variants shorter than seven letters
/// are not added and those shorter than eight match whole words only, so short words do not start
/// matching ordinary words ("pillene" → "pilene", "arrows", is not added).
pub fn add_variants(terms: &mut Vec<Term>) {
    let mut extra = Vec::new();
    for t in terms.iter() {
        if !t.kind.wants_variants() || t.case_sensitive {
            continue;
        }
        // A whole-word term long enough for the misspelling rule (`morph`) needs no variant
        // that rule finds anyway (one edit away); fewer patterns keep the matcher fast.
        let fuzzy_covers = !t.free_start
            && !t.free_end
            && t.folded.chars().count() >= crate::morph::MIN_FUZZY
            && t.folded.chars().all(char::is_alphabetic);
        for v in variants(&t.folded) {
            let len = v.chars().count();
            if fuzzy_covers && crate::morph::within(v.as_bytes(), t.folded.as_bytes(), 1) {
                continue;
            }
            if len >= 7 && v != t.folded {
                extra.push(Term {
                    folded: v.clone(),
                    original: v,
                    // A short variant with a free end starts matching ordinary words.
                    free_end: t.free_end && len >= 8,
                    ..t.clone()
                });
            }
        }
    }
    terms.extend(extra);
    terms.sort_by(|a, b| {
        (a.kind, &a.folded, a.free_start, a.free_end).cmp(&(
            b.kind,
            &b.folded,
            b.free_start,
            b.free_end,
        ))
    });
    terms.dedup_by(|a, b| {
        a.kind == b.kind
            && a.folded == b.folded
            && a.free_start == b.free_start
            && a.free_end == b.free_end
            && a.case_sensitive == b.case_sensitive
    });
}

fn variants(word: &str) -> Vec<String> {
    let chars: Vec<char> = word.chars().collect();
    let mut out = Vec::new();
    let mut single = |from: &[char], to: &str| {
        let n = from.len();
        let mut i = 0;
        while i + n <= chars.len() {
            if chars.get(i..i + n) == Some(from) {
                let mut s: String = chars.iter().take(i).collect();
                s.push_str(to);
                s.extend(chars.iter().skip(i + n));
                out.push(s);
            }
            i += 1;
        }
    };
    single(&['c'], "k");
    single(&['k'], "c");
    single(&['y'], "i");
    single(&['i'], "y");
    single(&['p', 'h'], "f");
    single(&['t', 'h'], "t");
    single(&['x'], "ks");
    single(&['k', 's'], "x");
    for w in chars.windows(2) {
        if let [a, b] = w {
            if a == b && a.is_alphabetic() {
                single(&[*a, *a], &a.to_string());
            }
        }
    }
    if word.ends_with("es") && !word.contains(' ') {
        let mut s = word.to_string();
        s.truncate(s.len() - 2);
        s.push_str("is");
        out.push(s);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sections_wildcards_and_comments() {
        let terms = parse(
            "t",
            "# c\n[health-info]\ndiabetes* # x\n*kreft\n=LAR\n\n[allow]\nekstra krefter\n",
        )
        .unwrap();
        assert_eq!(terms.len(), 4);
        assert_eq!(terms[0].folded, "diabetes");
        assert!(terms[0].free_end && !terms[0].free_start);
        assert!(terms[1].free_start && !terms[1].free_end);
        assert!(terms[2].case_sensitive);
        assert_eq!(terms[3].kind, ListKind::Allow);
        assert_eq!(terms[3].folded, "ekstra krefter");
    }

    #[test]
    fn errors_name_file_line_and_problem() {
        let e = parse("orgs/extra.txt", "[health-info]\nok\nx\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "orgs/extra.txt:3: term is too short (at least 2 characters)"
        );
        let e = parse("f", "diabetes\n").unwrap_err();
        assert!(matches!(
            e,
            LoadError::Line {
                line: 1,
                problem: LineProblem::NoSection,
                ..
            }
        ));
        let e = parse("f", "[helse]\n").unwrap_err();
        assert!(matches!(
            e,
            LoadError::Line {
                problem: LineProblem::UnknownSection(_),
                ..
            }
        ));
        let e = parse("f", "[medication]\nzo*loft\n").unwrap_err();
        assert!(matches!(
            e,
            LoadError::Line {
                problem: LineProblem::MisplacedWildcard,
                ..
            }
        ));
        let e = parse("f", "[medication]\n=Zol*\n").unwrap_err();
        assert!(matches!(
            e,
            LoadError::Line {
                problem: LineProblem::CaseSensitiveWildcard,
                ..
            }
        ));
        let e = parse("f", "[medication\n").unwrap_err();
        assert!(matches!(
            e,
            LoadError::Line {
                problem: LineProblem::BadHeader,
                ..
            }
        ));
    }

    #[test]
    fn folds_norwegian_letters_and_drops_other_accents() {
        // Terms are normalised like the messages they are looked for in (src/normalize.rs).
        let t = parse("f", "[health-info]\nSØVNAPNÉ*\n").unwrap();
        assert_eq!(t[0].folded, "søvnapne");
    }

    #[test]
    fn variants_cover_common_misspellings() {
        let v = variants("ozempic");
        assert!(v.contains(&"ozempik".to_string()));
        let v = variants("klamydia");
        assert!(v.contains(&"klamidia".to_string()));
        let v = variants("diabetes");
        assert!(v.contains(&"diabetis".to_string()));
        let v = variants("metylfenidat");
        assert!(
            v.contains(&"methylfenidat".to_string()) || v.contains(&"metilfenidat".to_string())
        );
    }
}
