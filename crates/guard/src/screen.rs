//! The screening rules: from term hits, numbers and codes to findings.
//!
//! PC-CONF-1 (guide appendix; guide risk scenarios 1–3, 9 and 31). One pass of the term matcher
//! over the folded message gives hits in every list; a cheap byte scanner finds digit runs and
//! code-shaped words. The rules below then judge each hit *in its context in the whole message*:
//!
//! - a health, medicine or unit term is a finding, unless an `[allow]` term or the organisation's
//!   neutral sender name covers it; a condition word inside a unit name counts as the unit only;
//! - a condition word joined to a unit word ("diabetespoliklinikken", "HIV-poliklinikken",
//!   "diabetes poliklinikk") or after a unit head ("Seksjon for spiseforstyrrelser") is a
//!   revealing unit;
//! - a general symptom ("feber", "symptomer") in a sentence that is a generic policy (a
//!   condition such as "ved" or "har du" and an action such as "avbestille" or "ring legevakten")
//!   is not about the patient;
//! - a result word ("normale", "positiv") in a sentence about a test or a measured value is the
//!   content of a result; a number after an analyte ("Hb", "hemoglobinverdien") is a value;
//! - the word after "resepten på" names a medicine unless it is a known harmless word;
//! - a number followed by a dose unit (`mg`, `tabletter`) is a dose, by a lab unit (`mmol/l`) a
//!   measured value;
//! - an 11-digit national identity number (today's or the 2032 control-digit rule, see
//!   [`crate::nid`]);
//! - a Norwegian phone number is the sender's when the nearest cue before it says so ("ring oss
//!   på", "Tlf.", a signature after "Hilsen"), or it is one of the organisation's own numbers; a
//!   patient cue ("mobilnummer på deg") or a third-party cue ("legevakten") and national numbers
//!   (113, 116 117, which are not 8 digits) are not the sender's;
//! - a dotted ICD-10 code (`F32.1`) is a diagnosis; a bare code (`E11`, `F411`, `P76`) is one
//!   only with a diagnosis cue near it ("diagnose", "kode", "(ICPC-2)") and never right after a
//!   place word (`rom B12`, `plass P76`); an ATC code (`N06AB06`) is a medicine;
//! - with a [`Context`]: links to domains the organisation does not own (`foreign-link`), and
//!   one-way messages without the cannot-reply line (`missing-no-reply`).

use crate::context::Context;
use crate::fold::fold_into;
use crate::lists::ListKind;
use crate::matcher::{is_word_char_at, is_word_char_before, Hit, Matcher};
use crate::nid::is_national_id;
use crate::normalize::{needs_normalising, Normalized};
use crate::verdict::{Channel, Finding, Reason, Screening};
use std::cell::{Cell, Ref, RefCell};

/// How far back (bytes) a cue may stand before the number or code it qualifies.
const CUE_WINDOW: usize = 48;
/// How far back a closing ("Hilsen") may stand before a signature's phone number.
const CLOSING_WINDOW: usize = 160;
/// How far after an analyte a number counts as its value.
const ANALYTE_WINDOW: usize = 40;
/// The longest sentence (bytes) that counts as the result of a test named the sentence before.
const SHORT_RESULT: usize = 24;
/// The longest dose or lab unit looked for after a number, in bytes.
const UNIT_MAX: usize = 24;
/// How far after "vaksine mot" the list of diseases may reach.
const VACCINE_LIST_WINDOW: usize = 120;
/// How far after a unit head ("Seksjon for") the condition may stand.
const UNIT_HEAD_WINDOW: usize = 40;

/// National numbers that are never the sender's own: Helsenorge's help line, the Poison
/// Information Centre, Kirkens SOS.
const NATIONAL_NUMBERS: [&str; 3] = ["23327000", "22591300", "22400040"];

/// Top-level domains recognised in links and addresses.
const TLDS: [&str; 22] = [
    "no", "com", "net", "org", "eu", "io", "info", "dk", "se", "fi", "de", "uk", "co", "app", "me",
    "ly", "link", "health", "online", "site", "xyz", "ru",
];

/// Domains of national services that every organisation may link to.
const TRUSTED_DOMAINS: [&str; 8] = [
    "helsenorge.no",
    "nhn.no",
    "fhi.no",
    "helsedirektoratet.no",
    "nav.no",
    "norge.no",
    "digipost.no",
    "regjeringen.no",
];

struct Explain {
    nb: &'static str,
    en: &'static str,
}

const E_HEALTH_TERM: Explain = Explain {
    nb: "Helseopplysning: en diagnose, tilstand, et symptom eller et hjelpemiddel som viser pasientens helse.",
    en: "Health information: a diagnosis, condition, symptom or health aid that shows the patient's health.",
};
const E_RESULT: Explain = Explain {
    nb: "Helseopplysning: innholdet i et prøvesvar eller en målt verdi.",
    en: "Health information: the content of a test result or a measured value.",
};
const E_CODE: Explain = Explain {
    nb: "Helseopplysning: en diagnosekode (ICD-10 eller ICPC-2).",
    en: "Health information: a diagnosis code (ICD-10 or ICPC-2).",
};
const E_MEDICINE: Explain = Explain {
    nb: "Reseptinformasjon: et legemiddel, virkestoff eller en legemiddeltype er nevnt.",
    en: "Prescription information: a medicine, active substance or kind of medicine is named.",
};
const E_DOSE: Explain = Explain {
    nb: "Reseptinformasjon: en dose eller dosering.",
    en: "Prescription information: a dose or dosing.",
};
const E_ATC: Explain = Explain {
    nb: "Reseptinformasjon: en ATC-kode for et legemiddel.",
    en: "Prescription information: an ATC code of a medicine.",
};
const E_PRESCRIPTION_ON: Explain = Explain {
    nb: "Reseptinformasjon: meldingen sier hva resepten gjelder.",
    en: "Prescription information: the message says what the prescription is for.",
};
const E_UNIT: Explain = Explain {
    nb: "Avdelingsnavn som kan knyttes til en diagnose eller helsetilstand.",
    en: "A unit name that can be tied to a diagnosis or condition.",
};
const E_GREY: Explain = Explain {
    nb: "Enhet som kan antyde en helsetilstand; en person må vurdere meldingen.",
    en: "A unit that may hint at a condition; a person must judge the message.",
};
const E_NID: Explain = Explain {
    nb: "Fødselsnummer eller D-nummer (11 siffer med gyldige kontrollsifre). Skal ikke sendes i e-post og bør ikke sendes i SMS.",
    en: "National identity or D-number (11 digits with valid control digits). Must not go by e-mail and should not go by SMS.",
};
const E_PHONE: Explain = Explain {
    nb: "Avsenderens telefonnummer bør ikke stå i meldingen, så avdelingen ikke kan identifiseres.",
    en: "The sender's phone number should not be in the message, so that the unit cannot be identified.",
};
const E_LINK: Explain = Explain {
    nb: "Lenke eller adresse til et domene virksomheten ikke eier.",
    en: "A link or address at a domain the organisation does not own.",
};
const E_NO_REPLY: Explain = Explain {
    nb: "Pasienten kan ikke svare på denne kanalen, men meldingen sier det ikke (f.eks. «Du kan ikke svare på denne SMS-en»).",
    en: "The patient cannot reply on this channel, but the message does not say so (e.g. \"Du kan ikke svare på denne SMS-en\").",
};

#[derive(Default)]
struct Scratch {
    folded: String,
    hits: Vec<Hit>,
    /// Starts of the runs of ASCII digits.
    digits: Vec<usize>,
    /// Byte positions that end a sentence, ascending.
    ends: Vec<usize>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Screens one message with a compiled matcher. A message with characters that normalisation
/// may change (see [`crate::normalize`]) is screened as its normalised copy, and the findings'
/// spans are mapped back to the original text.
pub(crate) fn screen(m: &Matcher, channel: Channel, text: &str, ctx: &Context) -> Screening {
    let findings = if needs_normalising(text) {
        let mut n = Normalized::default();
        n.build(text);
        let mut out = with_scratch(|s| run(m, &n.text, ctx, s));
        for f in &mut out {
            (f.start, f.end) = n.span(f.start, f.end);
        }
        out
    } else {
        with_scratch(|s| run(m, text, ctx, s))
    };
    Screening::from_findings(channel, findings)
}

fn with_scratch<T>(f: impl FnOnce(&mut Scratch) -> T) -> T {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut s) => f(&mut s),
        Err(_) => f(&mut Scratch::default()),
    })
}

fn run(m: &Matcher, text: &str, ctx: &Context, s: &mut Scratch) -> Vec<Finding> {
    fold_into(text, &mut s.folded);
    s.hits.clear();
    s.digits.clear();
    m.find(text, &s.folded, &mut s.hits, &mut s.digits);
    s.hits.sort_unstable_by_key(|h| (h.start, h.end));
    let bytes = text.as_bytes();
    let present = s.hits.iter().fold(0u32, |acc, h| acc | bit(h.kind));
    let scan = Scan {
        text,
        bytes,
        folded: &s.folded,
        hits: &s.hits,
        digits: &s.digits,
        ends: RefCell::new(&mut s.ends),
        ends_ready: Cell::new(false),
        present,
        max_len: s.hits.iter().map(|h| h.end - h.start).max().unwrap_or(0),
        about_test: Cell::new(None),
        policy: Cell::new(None),
        name_spans: std::cell::OnceCell::new(),
        m,
        ctx,
    };
    let mut out = Vec::new();
    scan.terms(&mut out);
    scan.numbers(&mut out);
    if !ctx.own_domains.is_empty() {
        scan.links(&mut out);
    }
    if ctx.one_way && !scan.any(ListKind::NoReply) {
        push(
            &mut out,
            Reason::MissingNoReply,
            text.len(),
            text.len(),
            &E_NO_REPLY,
        );
    }
    dedupe(&mut out);
    out
}

fn push(out: &mut Vec<Finding>, reason: Reason, start: usize, end: usize, e: &Explain) {
    out.push(Finding {
        reason,
        start,
        end,
        text_nb: e.nb,
        text_en: e.en,
    });
}

/// Drops a finding whose span lies inside another finding with the same reason (in place: the
/// kept findings are moved to the front, in order).
fn dedupe(out: &mut Vec<Finding>) {
    if out.len() < 2 {
        return;
    }
    out.sort_by_key(|f| (f.reason, f.start, std::cmp::Reverse(f.end)));
    // In this order every kept finding of the same reason starts at or before `f`, so `f` lies
    // inside one of them exactly when it ends at or before the furthest end among them.
    let mut kept = 0;
    let mut furthest: Option<(Reason, usize)> = None;
    for i in 0..out.len() {
        let (reason, end) = (out[i].reason, out[i].end);
        let covered = matches!(furthest, Some((r, e)) if r == reason && end <= e);
        if !covered {
            out.swap(kept, i);
            kept += 1;
            furthest = match furthest {
                Some((r, e)) if r == reason => Some((r, e.max(end))),
                _ => Some((reason, end)),
            };
        }
    }
    out.truncate(kept);
}

fn bit(kind: ListKind) -> u32 {
    1u32 << (kind as u32)
}

struct Scan<'a> {
    text: &'a str,
    bytes: &'a [u8],
    folded: &'a str,
    hits: &'a [Hit],
    /// Starts of the runs of ASCII digits, ascending.
    digits: &'a [usize],
    /// Sentence ends, ascending, computed on first use.
    ends: RefCell<&'a mut Vec<usize>>,
    ends_ready: Cell<bool>,
    /// Which lists have hits (one bit per [`ListKind`]).
    present: u32,
    /// The longest hit, in bytes: a hit covering position `p` starts at most this far before.
    max_len: usize,
    /// For the last sentence asked about (by its start; the hits are judged in order, so the
    /// hits of a sentence come one after another), answers computed once for all its hits, so
    /// that a long message with many hits costs time in proportion to its hits, not their
    /// square: whether it is about a test, and where its earliest conditional ends and whether
    /// it has a policy action.
    about_test: Cell<Option<(usize, bool)>>,
    policy: Cell<Option<(usize, Option<usize>, bool)>>,
    /// Where the organisation's sender name occurs, found on first use.
    name_spans: std::cell::OnceCell<Vec<(usize, usize)>>,
    m: &'a Matcher,
    ctx: &'a Context,
}

impl Scan<'_> {
    fn any(&self, kind: ListKind) -> bool {
        self.present & bit(kind) != 0
    }

    /// The hits that start in `from..to` (the hits are sorted by start).
    fn starting_in(&self, from: usize, to: usize) -> &[Hit] {
        let a = self.hits.partition_point(|h| h.start < from);
        let b = self.hits.partition_point(|h| h.start < to);
        self.hits.get(a..b.max(a)).unwrap_or(&[])
    }

    /// Whether a hit of one of `kinds` (other than `h` itself) covers `h`.
    fn covered(&self, h: &Hit, kinds: &[ListKind]) -> bool {
        // Most messages have no hit of these kinds at all: one bit test instead of a scan.
        if !kinds.iter().any(|k| self.any(*k)) {
            return false;
        }
        let near = self.starting_in(h.start.saturating_sub(self.max_len), h.start + 1);
        near.iter().any(|k| {
            kinds.contains(&k.kind)
                && k.start <= h.start
                && h.end <= k.end
                && (k.start, k.end, k.kind) != (h.start, h.end, h.kind)
        })
    }

    /// Whether the organisation's neutral sender name covers the span.
    fn in_sender_name(&self, start: usize, end: usize) -> bool {
        let Some(name) = &self.ctx.sender_name else {
            return false;
        };
        let spans = self.name_spans.get_or_init(|| {
            let mut spans = Vec::new();
            let mut from = 0;
            while let Some(p) = self.folded.get(from..).and_then(|r| r.find(name.as_str())) {
                let s = from + p;
                spans.push((s, s + name.len()));
                from = s + name.len().max(1);
            }
            spans
        });
        // The last occurrence starting at or before `start` is the only one that can cover it
        // (occurrences do not overlap).
        let k = spans.partition_point(|&(s, _)| s <= start);
        k.checked_sub(1)
            .and_then(|k| spans.get(k))
            .is_some_and(|&(_, e)| end <= e)
    }

    /// The sentence ends of the message, found on first use.
    fn ends(&self) -> Ref<'_, &'_ mut Vec<usize>> {
        if !self.ends_ready.get() {
            if let Ok(mut ends) = self.ends.try_borrow_mut() {
                sentence_ends(self.bytes, &mut ends);
            }
            self.ends_ready.set(true);
        }
        self.ends.borrow()
    }

    /// The start of the sentence holding byte `pos`.
    fn sentence_start(&self, pos: usize) -> usize {
        let ends = self.ends();
        let k = ends.partition_point(|&e| e < pos);
        match k.checked_sub(1).and_then(|k| ends.get(k)) {
            Some(&e) => e + 1,
            None => 0,
        }
    }

    /// The end of the sentence holding byte `pos`.
    fn sentence_end(&self, pos: usize) -> usize {
        let ends = self.ends();
        let k = ends.partition_point(|&e| e < pos);
        ends.get(k).copied().unwrap_or(self.bytes.len())
    }

    /// The nearest hit of one of `kinds` ending before `pos`, within `window` bytes and, if
    /// `same_sentence`, in the same sentence. Ties go to the longer hit.
    fn nearest_before(
        &self,
        pos: usize,
        window: usize,
        kinds: &[ListKind],
        same_sentence: bool,
    ) -> Option<Hit> {
        if !kinds.iter().any(|k| self.any(*k)) {
            return None;
        }
        let floor = if same_sentence {
            self.sentence_start(pos)
        } else {
            0
        };
        self.starting_in(pos.saturating_sub(window + self.max_len), pos)
            .iter()
            .filter(|h| {
                kinds.contains(&h.kind) && h.end <= pos && pos - h.end <= window && h.start >= floor
            })
            .max_by_key(|h| (h.end, std::cmp::Reverse(h.start)))
            .copied()
    }

    fn terms(&self, out: &mut Vec<Finding>) {
        use ListKind as K;
        const UNITS: [ListKind; 2] = [K::RevealingUnit, K::GreyUnit];
        for h in self.hits {
            let relevant = h.kind.is_content()
                || matches!(
                    h.kind,
                    K::ResultWord | K::PrescriptionOn | K::Specialty | K::Organ
                );
            if !relevant || self.covered(h, &[K::Allow]) || self.in_sender_name(h.start, h.end) {
                continue;
            }
            match h.kind {
                K::RevealingUnit => push(out, Reason::RevealingUnit, h.start, h.end, &E_UNIT),
                K::GreyUnit if !self.covered(h, &[K::RevealingUnit]) => {
                    push(out, Reason::GreyUnit, h.start, h.end, &E_GREY);
                }
                K::Health | K::HealthSoft => {
                    if self.covered(h, &UNITS) {
                        continue;
                    }
                    if let Some((s, e)) = self.unit_around(h) {
                        push(out, Reason::RevealingUnit, s, e, &E_UNIT);
                    } else if (h.kind == K::HealthSoft && self.generic_policy(h))
                        || self.vaccine_against(h)
                    {
                        // A generic policy or a list of diseases a vaccine protects against.
                        continue;
                    } else {
                        push(out, Reason::HealthInfo, h.start, h.end, &E_HEALTH_TERM);
                    }
                }
                K::Medication if !self.covered(h, &UNITS) => {
                    push(out, Reason::Medication, h.start, h.end, &E_MEDICINE);
                }
                K::ResultWord if self.sentence_about_test(h) => {
                    push(out, Reason::HealthInfo, h.start, h.end, &E_RESULT);
                }
                K::Specialty | K::Organ => {
                    if self.covered(h, &[K::RevealingUnit]) {
                        continue;
                    }
                    if let Some((s, e)) = self.unit_around(h) {
                        push(out, Reason::RevealingUnit, s, e, &E_UNIT);
                    } else if h.kind == K::Specialty && !self.covered(h, &[K::GreyUnit]) {
                        push(out, Reason::GreyUnit, h.start, h.end, &E_GREY);
                    }
                }
                K::PrescriptionOn => {
                    if let Some((s, e)) = self.prescribed_word(h.end) {
                        push(out, Reason::Medication, s, e, &E_PRESCRIPTION_ON);
                    }
                }
                _ => {}
            }
        }
    }

    /// Whether the sentence holding `h` is about a test: it has a test cue or an analyte (that
    /// no [allow] term covers: "matteprøven" is no medical test). Answered once per sentence.
    fn sentence_about_test(&self, h: &Hit) -> bool {
        use ListKind as K;
        let s = self.sentence_start(h.start);
        if let Some((at, known)) = self.about_test.get() {
            if at == s {
                return known;
            }
        }
        let e = self.sentence_end(h.end);
        // A short sentence may be the result of a test named in the sentence before ("…
        // røntgenbildet av kneet. Ingen brudd.").
        let from = match s.checked_sub(1) {
            Some(prev_end) if e - s <= SHORT_RESULT => self.sentence_start(prev_end),
            _ => s,
        };
        let answer = self.starting_in(from, e + 1).iter().any(|c| {
            matches!(c.kind, K::TestCue | K::Analyte) && c.end <= e && !self.covered(c, &[K::Allow])
        });
        self.about_test.set(Some((s, answer)));
        answer
    }

    /// Whether `h` is one of the diseases listed right after "vaksine mot" (a vaccine, not the
    /// patient's condition): between the cue and `h` only other conditions, commas, "og",
    /// "eller" and spaces.
    fn vaccine_against(&self, h: &Hit) -> bool {
        use ListKind as K;
        let Some(cue) = self.nearest_before(h.start, VACCINE_LIST_WINDOW, &[K::VaccineCue], true)
        else {
            return false;
        };
        let mut at = cue.end;
        for c in self.starting_in(cue.end, h.start) {
            if !matches!(c.kind, K::Health | K::HealthSoft) || c.start < at {
                continue;
            }
            if !self.only_list_glue(at, c.start) {
                return false;
            }
            at = at.max(c.end);
        }
        self.only_list_glue(at, h.start)
    }

    /// Whether the folded text between `from` and `to` is only spaces, commas, hyphens and the
    /// words "og", "eller", "samt".
    fn only_list_glue(&self, from: usize, to: usize) -> bool {
        let Some(gap) = self.folded.get(from..to) else {
            return false;
        };
        gap.split([' ', ',', '-', '/'])
            .all(|w| matches!(w, "" | "og" | "eller" | "samt"))
    }

    /// A revealing unit made of a condition word, a specialty or an organ: joined to a unit word
    /// in one compound ("hjertepoliklinikken"), followed by a word holding one ("Nevrologisk
    /// poliklinikk"; for an organ only when it is the whole word, "hjerte" alone being an
    /// ordinary word), or after a unit head ("Avdeling for nevrologi").
    fn unit_around(&self, h: &Hit) -> Option<(usize, usize)> {
        if matches!(
            h.kind,
            ListKind::Health | ListKind::HealthSoft | ListKind::Specialty | ListKind::Organ
        ) {
            let word_end = self.compound_end(h.start);
            // The next word, after a space or an abbreviation's full stop and a space ("psyk.
            // pol."). An organ counts with the next word only when it is the whole word
            // ("hjerte poliklinikken", not "hjertelig velkommen til senteret").
            let gap = match self.bytes.get(word_end..word_end + 2) {
                Some([b'.', b' ']) => 2,
                Some([b' ', _]) => 1,
                _ => 0,
            };
            let next_start = word_end + gap;
            let next_word = gap > 0
                && (h.kind != ListKind::Organ || h.end == word_end)
                && is_word_char_at(self.folded, self.bytes, next_start);
            let next_end = if next_word {
                self.compound_end(next_start)
            } else {
                next_start
            };
            let near = self.starting_in(h.end, next_end.max(word_end));
            for u in near.iter().filter(|u| u.kind == ListKind::UnitWord) {
                let joined = u.start >= h.end && u.start < word_end;
                let next = next_word && u.start >= next_start && u.start < next_end;
                if joined || next {
                    return Some((h.start, self.compound_end(u.start).max(u.end)));
                }
            }
        }
        if !self.any(ListKind::UnitHead) {
            return None;
        }
        let floor = self.sentence_start(h.start);
        // A condition may stand a few words after the head ("Seksjon for barn med
        // spiseforstyrrelser"); a specialty or organ must follow it ("Avdeling for nevrologi",
        // not "Avdeling for kundeservice ønsker deg hjertelig velkommen").
        let adjacent = matches!(h.kind, ListKind::Specialty | ListKind::Organ);
        self.starting_in(
            h.start.saturating_sub(UNIT_HEAD_WINDOW + self.max_len),
            h.start,
        )
        .iter()
        .filter(|u| {
            u.kind == ListKind::UnitHead
                && u.end <= h.start
                && h.start - u.end <= UNIT_HEAD_WINDOW
                && u.start >= floor
                && (!adjacent
                    || self
                        .bytes
                        .get(u.end..h.start)
                        .is_some_and(|g| g.iter().all(|c| *c == b' ')))
        })
        .map(|u| (u.start, self.compound_end(h.end).max(h.end)))
        .next()
    }

    /// The end of the compound word (letters, digits and inner hyphens) holding `pos`.
    fn compound_end(&self, pos: usize) -> usize {
        let f = self.folded;
        let b = f.as_bytes();
        let mut i = pos;
        loop {
            if is_word_char_at(f, b, i) {
                i += f
                    .get(i..)
                    .and_then(|r| r.chars().next())
                    .map_or(1, char::len_utf8);
            } else if b.get(i) == Some(&b'-') && is_word_char_at(f, b, i + 1) {
                i += 1;
            } else {
                return i;
            }
        }
    }

    /// Whether a general symptom stands in a generic policy sentence ("Har du feber, må timen
    /// avbestilles"): a condition before it and a policy action in the same sentence.
    fn generic_policy(&self, h: &Hit) -> bool {
        // The definite form is someone's: "hvis feberen ikke har gått ned" is about the
        // patient's fever, "har du feber" a policy.
        let rest_end = self.compound_end(h.end);
        let ending = self.folded.get(h.end..rest_end).unwrap_or("");
        if matches!(ending, "en" | "n" | "a" | "et" | "t" | "ene" | "ane" | "i") {
            return false;
        }
        let s = self.sentence_start(h.start);
        let (first_cond, action) = match self.policy.get() {
            Some((at, first_cond, action)) if at == s => (first_cond, action),
            _ => {
                let e = self.sentence_end(h.end);
                let sentence = self.starting_in(s, e + 1);
                let first_cond = sentence
                    .iter()
                    .filter(|c| c.kind == ListKind::Conditional)
                    .map(|c| c.end)
                    .min();
                let action = sentence
                    .iter()
                    .any(|c| c.kind == ListKind::PolicyAction && c.end <= e);
                self.policy.set(Some((s, first_cond, action)));
                (first_cond, action)
            }
        };
        first_cond.is_some_and(|end| end <= h.start) && action
    }

    /// The word after "resepten på", if it may name a medicine.
    fn prescribed_word(&self, after: usize) -> Option<(usize, usize)> {
        let f = self.folded;
        let b = f.as_bytes();
        let mut s = after;
        while b.get(s) == Some(&b' ') {
            s += 1;
        }
        let first = f.get(s..)?.chars().next()?;
        if !first.is_alphabetic() {
            return None;
        }
        let e = self.compound_end(s);
        let word = f.get(s..e)?;
        // "resepten på Vitus apotek": a pharmacy's name, not a medicine.
        let pharmacy = f.get(e..).is_some_and(|r| r.starts_with(" apotek"));
        (!pharmacy && !self.m.not_a_medicine.contains(word)).then_some((s, e))
    }

    /// National IDs, phone numbers, doses and measured values.
    fn numbers(&self, out: &mut Vec<Finding>) {
        let b = self.bytes;
        let n = b.len();
        let mut next_free = 0;
        for &i in self.digits {
            if i < next_free {
                continue;
            }
            // A letter at a word start right before the digits: a code shape (`F32.1`, `N06AB06`).
            if i > 0 && b[i - 1].is_ascii_alphabetic() && !is_word_char_before(self.text, i - 1) {
                self.code_at(i - 1, out);
            }
            // A cluster: digit groups joined by single spaces (or one hyphen in 6-5 form).
            let mut groups: [(usize, usize); 8] = [(0, 0); 8];
            let mut g = 0;
            let mut j = i;
            loop {
                let s = j;
                while j < n && b[j].is_ascii_digit() {
                    j += 1;
                }
                if let Some(slot) = groups.get_mut(g) {
                    *slot = (s, j);
                }
                g += 1;
                let sep_ok = j + 1 < n
                    && b[j + 1].is_ascii_digit()
                    && (b[j] == b' ' || (b[j] == b'-' && j - s == 6));
                if sep_ok && g < groups.len() {
                    j += 1;
                } else {
                    break;
                }
            }
            let groups = groups.get(..g.min(8)).unwrap_or(&[]);
            self.cluster(groups, out);
            next_free = j.max(i + 1);
        }
    }

    /// Whether the digits at `s..e` continue a dotted, decimal or slashed number on either side
    /// ("1234.56.78903", "11,9", "2025/04417").
    fn dotted(&self, s: usize, e: usize) -> bool {
        let b = self.bytes;
        let before = s >= 2 && matches!(b[s - 1], b'.' | b',' | b'/') && b[s - 2].is_ascii_digit();
        let after =
            e + 1 < b.len() && matches!(b[e], b'.' | b',' | b'/') && b[e + 1].is_ascii_digit();
        before || after
    }

    fn cluster(&self, groups: &[(usize, usize)], out: &mut Vec<Finding>) {
        // National identity numbers: one 11-digit group, or 6 + 5.
        for (k, &(s, e)) in groups.iter().enumerate() {
            if e - s == 11 && !self.dotted(s, e) {
                self.national_id(&[(s, e)], out);
            } else if e - s == 6 {
                if let Some(&(s2, e2)) = groups.get(k + 1) {
                    if e2 - s2 == 5 && !self.dotted(s, e2) {
                        self.national_id(&[(s, e), (s2, e2)], out);
                    }
                }
            }
        }
        self.phones(groups, out);
        if let Some(&(s, _)) = groups.first() {
            if !self.dotted(s, s) {
                self.value_after(groups, out);
            }
        }
    }

    fn national_id(&self, parts: &[(usize, usize)], out: &mut Vec<Finding>) {
        let mut digits = [0u8; 11];
        let mut k = 0;
        for &(s, e) in parts {
            for &c in self.bytes.get(s..e).unwrap_or(&[]) {
                if let Some(d) = digits.get_mut(k) {
                    *d = c - b'0';
                }
                k += 1;
            }
        }
        if k == 11 && is_national_id(&digits) {
            let (s, e) = (
                parts.first().map_or(0, |p| p.0),
                parts.last().map_or(0, |p| p.1),
            );
            push(out, Reason::NationalId, s, e, &E_NID);
        }
    }

    fn phones(&self, groups: &[(usize, usize)], out: &mut Vec<Finding>) {
        let b = self.bytes;
        let Some(&(first_s, _)) = groups.first() else {
            return;
        };
        // Country code: "+47 …", "0047 …", "+4722113344".
        let plus = first_s > 0 && b[first_s - 1] == b'+';
        let mut groups = groups;
        let mut country = false;
        if let Some(&(s, e)) = groups.first() {
            let g = &b[s..e];
            if (plus && g == b"47") || g == b"0047" {
                groups = &groups[1..];
                country = true;
            } else if plus && e - s == 10 && g.starts_with(b"47") {
                self.phone_candidate(s, e, s + 2, out);
                return;
            }
        }
        let mut lens = [0usize; 8];
        for (l, (s, e)) in lens.iter_mut().zip(groups) {
            *l = e - s;
        }
        let lens = lens.get(..groups.len()).unwrap_or(&[]);
        let mut k = 0;
        while k < groups.len() {
            let mut total = 0;
            let mut found = None;
            for (w, len) in lens.iter().enumerate().skip(k) {
                total += len;
                if total == 8 {
                    found = Some(w);
                    break;
                }
                if total > 8 {
                    break;
                }
            }
            if let Some(w) = found {
                let shape = lens.get(k..=w).unwrap_or(&[]);
                let start = if country && k == 0 {
                    first_s - usize::from(plus)
                } else {
                    groups[k].0
                };
                let (s, e) = (groups[k].0, groups[w].1);
                if (country || phone_shape(shape)) && !self.dotted(s, e) {
                    self.phone_candidate(start, e, s, out);
                }
                k = w + 1;
            } else {
                k += 1;
            }
        }
    }

    /// Judges one phone-shaped number spanning `start..end`; its national digits start at `digits_from`.
    fn phone_candidate(
        &self,
        start: usize,
        end: usize,
        digits_from: usize,
        out: &mut Vec<Finding>,
    ) {
        let mut digits = [0u8; 8];
        let mut k = 0;
        for &c in self.bytes.get(digits_from..end).unwrap_or(&[]) {
            if c.is_ascii_digit() {
                if let Some(d) = digits.get_mut(k) {
                    *d = c;
                }
                k += 1;
            }
        }
        if k != 8 || !(b'2'..=b'9').contains(&digits[0]) {
            return;
        }
        let num = std::str::from_utf8(&digits).unwrap_or("");
        if self.ctx.own_phones.iter().any(|p| p == num) {
            push(out, Reason::SenderPhone, start, end, &E_PHONE);
            return;
        }
        if self.ctx.patient_phones.iter().any(|p| p == num) || NATIONAL_NUMBERS.contains(&num) {
            return;
        }
        use ListKind as K;
        let cue = self.nearest_before(
            start,
            CUE_WINDOW,
            &[K::PhoneCue, K::PatientPhoneCue, K::ThirdPartyPhoneCue],
            true,
        );
        let sender = match cue.map(|h| h.kind) {
            Some(K::PhoneCue) => true,
            Some(_) => false,
            None => self
                .nearest_before(start, CLOSING_WINDOW, &[K::Closing], false)
                .is_some(),
        };
        if sender {
            push(out, Reason::SenderPhone, start, end, &E_PHONE);
        }
    }

    /// A number followed by a dose or lab unit, or shortly after an analyte.
    fn value_after(&self, groups: &[(usize, usize)], out: &mut Vec<Finding>) {
        let b = self.bytes;
        let (Some(&(s, _)), Some(&(_, mut e))) = (groups.first(), groups.last()) else {
            return;
        };
        // Decimal part.
        if e + 1 < b.len() && matches!(b[e], b'.' | b',') && b[e + 1].is_ascii_digit() {
            e += 1;
            while e < b.len() && b[e].is_ascii_digit() {
                e += 1;
            }
        }
        // The next word, after at most one space.
        let mut w = e;
        if b.get(w) == Some(&b' ') {
            w += 1;
        }
        let mut we = w;
        // Units are short ("mmol/l", "tabletter"): a longer run is no unit, and stopping keeps a
        // message of "A1.A1.A1…" linear.
        let limit = (w + UNIT_MAX).min(b.len());
        while we < limit && (is_word_char_at(self.folded, b, we) || matches!(b[we], b'/' | b'.')) {
            we += self
                .folded
                .get(we..)
                .and_then(|r| r.chars().next())
                .map_or(1, char::len_utf8);
        }
        while we > w && b[we - 1] == b'.' {
            we -= 1;
        }
        if we > w {
            if let Some(word) = self.folded.get(w..we) {
                if self.m.dose_units.contains(word) {
                    push(out, Reason::Medication, s, we, &E_DOSE);
                    return;
                }
                if self.m.lab_units.contains(word) {
                    push(out, Reason::HealthInfo, s, we, &E_RESULT);
                    return;
                }
            }
        }
        if let Some(a) = self.nearest_before(s, ANALYTE_WINDOW, &[ListKind::Analyte], true) {
            push(out, Reason::HealthInfo, a.start, e, &E_RESULT);
        }
    }

    /// ICD-10, ICPC-2 and ATC codes: judges the code-shaped word starting with the letter at `i`.
    fn code_at(&self, i: usize, out: &mut Vec<Finding>) {
        let b = self.bytes;
        let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
        let upper = |i: usize| b.get(i).is_some_and(u8::is_ascii_uppercase);
        if !digit(i + 1) || !digit(i + 2) {
            return;
        }
        let mut j = i + 3;
        let shape;
        if digit(j) {
            j += 1;
            shape = CodeShape::Bare;
        } else if b.get(j) == Some(&b'.') && digit(j + 1) {
            j += 2;
            if digit(j) {
                j += 1;
            }
            shape = CodeShape::Dotted;
        } else if upper(j) && upper(j + 1) {
            j += 2;
            if digit(j) && digit(j + 1) {
                j += 2;
            }
            shape = CodeShape::Atc;
        } else {
            shape = CodeShape::Bare;
        }
        let ends_dotted = b.get(j) == Some(&b'.') && digit(j + 1);
        if is_word_char_at(self.text, b, j) || ends_dotted {
            return;
        }
        match shape {
            CodeShape::Atc => {
                if upper(i) && b"ABCDGHJLMNPRSV".contains(&b[i]) {
                    push(out, Reason::Medication, i, j, &E_ATC);
                }
            }
            CodeShape::Dotted | CodeShape::Bare => {
                use ListKind as K;
                let cue = self.nearest_before(i, CUE_WINDOW, &[K::LocationCue, K::CodeCue], true);
                let diagnosis = match cue.map(|h| h.kind) {
                    Some(K::LocationCue) => false,
                    Some(_) => true,
                    None => {
                        let after = self.any(K::CodeCue) && {
                            let s_end = self.sentence_end(j);
                            self.starting_in(j, j + 25)
                                .iter()
                                .any(|h| h.kind == K::CodeCue && h.end <= s_end)
                        };
                        after || (shape == CodeShape::Dotted && upper(i))
                    }
                };
                if diagnosis {
                    push(out, Reason::HealthInfo, i, j, &E_CODE);
                }
            }
        }
    }

    /// Links and addresses at domains the organisation neither owns nor trusts.
    fn links(&self, out: &mut Vec<Finding>) {
        let f = self.folded.as_bytes();
        let host_char = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-';
        let mut i = 1;
        while i + 1 < f.len() {
            if f[i] != b'.' || !host_char(f[i - 1]) || !f[i + 1].is_ascii_lowercase() {
                i += 1;
                continue;
            }
            let mut e = i + 1;
            while e < f.len() && f[e].is_ascii_lowercase() {
                e += 1;
            }
            if e < f.len() && (host_char(f[e]) || f[e] >= 0x80) {
                i = e;
                continue;
            }
            let tld = self.folded.get(i + 1..e).unwrap_or("");
            if !TLDS.contains(&tld) {
                i = e;
                continue;
            }
            let mut s = i;
            while s > 0 && (host_char(f[s - 1]) || f[s - 1] == b'.') {
                s -= 1;
            }
            let host = self.folded.get(s..e).unwrap_or("").trim_start_matches('.');
            let s = e - host.len();
            let has_letter = host
                .split('.')
                .next()
                .is_some_and(|l| l.bytes().any(|c| c.is_ascii_lowercase()));
            if has_letter && !self.domain_ok(host) {
                push(out, Reason::ForeignLink, s, e, &E_LINK);
            }
            i = e;
        }
    }

    fn domain_ok(&self, host: &str) -> bool {
        let host = host.trim_start_matches("www.");
        let under = |d: &str| host == d || host.strip_suffix(d).is_some_and(|p| p.ends_with('.'));
        self.ctx.own_domains.iter().any(|d| under(d)) || TRUSTED_DOMAINS.iter().any(|d| under(d))
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum CodeShape {
    Bare,
    Dotted,
    Atc,
}

/// Whether the group lengths of an 8-digit number look like a Norwegian phone number.
fn phone_shape(lens: &[usize]) -> bool {
    matches!(
        lens,
        [8] | [2, 2, 2, 2] | [3, 2, 3] | [4, 4] | [2, 3, 3] | [3, 3, 2] | [2, 2, 4] | [4, 2, 2]
    )
}

/// Collects the bytes that end a sentence ([`is_sentence_end`]) into `ends`, ascending. Only
/// `!`, `?`, `.` and line breaks can, so blocks of eight bytes without them are skipped with a
/// few word operations.
fn sentence_ends(b: &[u8], ends: &mut Vec<usize>) {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Whether some byte of `w` is zero (exact for the block as a whole).
    let has_zero = |w: u64| w.wrapping_sub(ONES) & !w & HIGH != 0;
    ends.clear();
    let mut k = 0;
    while k < b.len() {
        let end = (k + 8).min(b.len());
        if let Some(a) = b.get(k..end).and_then(|c| <[u8; 8]>::try_from(c).ok()) {
            let w = u64::from_le_bytes(a);
            let any = has_zero(w ^ (ONES * u64::from(b'.')))
                || has_zero(w ^ (ONES * u64::from(b'!')))
                || has_zero(w ^ (ONES * u64::from(b'?')))
                || has_zero(w ^ (ONES * u64::from(b'\n')));
            if !any {
                k = end;
                continue;
            }
        }
        ends.extend((k..end).filter(|&i| is_sentence_end(b, i)));
        k = end;
    }
}

/// Whether byte `i` ends a sentence: `!`, `?`, a line break, or `.` followed by a space and a
/// capital letter ("… kl. 14.30" and "Tlf. 22 …" do not end one).
fn is_sentence_end(b: &[u8], i: usize) -> bool {
    match b.get(i) {
        Some(b'!' | b'?' | b'\n') => true,
        Some(b'.') => {
            b.get(i + 1) == Some(&b' ')
                && match b.get(i + 2) {
                    Some(c) if c.is_ascii_uppercase() => true,
                    // Æ, Ø, Å and other Latin-1 capitals: 0xC3 0x80..=0x9E.
                    Some(0xC3) => b.get(i + 3).is_some_and(|c| (0x80..=0x9E).contains(c)),
                    _ => false,
                }
        }
        _ => false,
    }
}
