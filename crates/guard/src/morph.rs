//! Norwegian word forms: inflection, compounds and misspellings of the listed terms (PC-CONF-1).
//!
//! A term list can never enumerate what people write: "astmaen din", "migrenen", "angsten hans"
//! (inflected and definite forms, bokmål and nynorsk), "angstmestringskurs", "smertedagboka",
//! "barneastmaen" (compounds, in which the listed word is the first part or the head), and
//! "diabetis", "epilepsy", "psykiartisk" (misspellings). This module adds those forms to the
//! listed terms by rule, so the lists stay short:
//!
//! - **Inflection.** A whole-word term of [`MIN_FORMS`] letters or more of the health, medicine
//!   and revealing-unit lists (health, medicine and general symptoms: [`MIN_INFLECT`]) also
//!   matches the word with an inflection ending ([`INFLECTIONS`]: "-en", "-a", "-et", "-er",
//!   "-ene", "-ane", "-ar", "-s" …); a term of several words or parts inflects its last one.
//! - **First part of a compound.** A whole-word health or medicine term of [`MIN_FORMS`]
//!   letters or more also matches as the first part of a compound, with or without the linking
//!   `-s-` or `-e-` ("astmakontroll", "angstmestringskurs", "Proliasprøyten").
//! - **Head of a compound.** A health term (or a grey unit that names no unit word) of
//!   [`MIN_HEAD`] letters or more also matches at the end of a compound with at least
//!   [`MIN_MODIFIER`] letters before it, inflected or not ("barneastmaen", "nattangsten",
//!   "Kommunepsykologen"). The heads are in a trie of their reversed bytes.
//! - **Body part and treatment.** A body part or short condition (`[body-part]`: "rygg", "kne",
//!   "hiv") joined to a treatment head (`[treatment-head]`: "behandling", "smerter", "prøven"),
//!   with or without a linking letter, is health information ("ryggbehandlinga", "hivprøven"),
//!   while the head alone ("saksbehandling") and the body part alone ("ryggsekk") are not.
//! - **Misspellings.** A single-word health, medicine, revealing-unit or grey-unit term of
//!   [`MIN_FUZZY`] letters or more also matches a word within edit distance 1 (2 from
//!   [`MIN_FUZZY_2`] letters; insertions, deletions, substitutions and swaps of neighbouring
//!   letters), inflected or not, when the word's first four bytes, or its next four, are the
//!   term's (so an edit among the first four is found too, unless a swap joins the fourth and
//!   fifth). A condition or medicine of [`MIN_FORMS`] letters or more also matches with a letter
//!   doubled that it has once ("migrenne", "Ritallin").
//!
//! Every rule was checked against the bokmål and nynorsk word lists of Debian's `wnorwegian`
//! (`examples/wordcheck.rs`); the ordinary words they would otherwise match ("krefter", "migrere")
//! are in the `[ordinary]` list of `data/ordinary.txt`, which no generated form may match. Forms
//! given explicitly in a list (`term*`, `*term`) are not affected by that list.
//!
//! The search is built for the hot path: [`Morph::word`] runs at the end of each word of seven
//! bytes or more that no listed term matched, and rejects almost all of them with bit tests on
//! the last six (or four) bytes of the word and its stems (head compounds) and on its first and
//! next four bytes (misspellings).

use crate::lists::ListKind;
use std::collections::{HashMap, HashSet};

/// Inflection endings of nouns and adjectives in bokmål and nynorsk, longest first.
pub const INFLECTIONS: [&str; 25] = [
    "enes", "anes", "ers", "ens", "ets", "ene", "ane", "ars", "nes", "ende", "en", "et", "er",
    "ar", "es", "ne", "na", "ns", "ts", "as", "e", "a", "n", "r", "s",
];

/// The most stems a word has (itself, and without each inflection ending it ends with).
const STEMS: usize = 8;

/// The shortest term (in letters) that gets inflected and compound forms.
pub const MIN_FORMS: usize = 5;
/// The shortest health term that gets inflected forms ("kols", "kolsen"; "gikt", "gikta").
pub const MIN_INFLECT: usize = 4;
/// The shortest term that matches as the head of a compound.
pub const MIN_HEAD: usize = 5;
/// The fewest letters before a compound's head.
pub const MIN_MODIFIER: usize = 3;
/// The shortest term matched with one edit.
pub const MIN_FUZZY: usize = 8;
/// The shortest term matched with two edits.
pub const MIN_FUZZY_2: usize = 15;

/// Whether `rest` (the letters after a term in the same word) is an inflection ending.
#[inline]
pub fn is_inflection(rest: &[u8]) -> bool {
    rest.is_empty() || INFLECTIONS.iter().any(|s| s.as_bytes() == rest)
}

/// How a whole-word term may continue into the rest of its word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tail {
    /// The whole word only.
    None,
    /// An inflection ending.
    Inflect,
    /// An inflection ending or the rest of a compound.
    Compound,
}

impl Tail {
    /// The tail a term gets by rule: `kind`, its folded text, and whether it is a whole-word,
    /// case-insensitive term.
    pub fn for_term(kind: ListKind, folded: &str, whole_word: bool) -> Tail {
        let letters = folded.chars().all(char::is_alphabetic);
        // A term of several words or parts ("psa-prøve", "grønn stær") inflects its last word.
        let parts = !letters
            && folded
                .chars()
                .all(|c| c.is_alphabetic() || c == '-' || c == ' ')
            && folded.chars().last().is_some_and(char::is_alphabetic);
        let n = folded.chars().count();
        if !whole_word || !(letters || parts) || n < MIN_INFLECT {
            return Tail::None;
        }
        match kind {
            ListKind::Health | ListKind::Medication if n >= MIN_FORMS && letters => Tail::Compound,
            ListKind::Health | ListKind::Medication | ListKind::HealthSoft => Tail::Inflect,
            ListKind::RevealingUnit if n >= MIN_FORMS => Tail::Inflect,
            _ => Tail::None,
        }
    }
}

/// A term as a compound head or misspelling target.
#[derive(Debug, Clone)]
struct Target {
    kind: ListKind,
    bytes: Box<[u8]>,
    /// A treatment head: it counts only after a body part.
    after_body_part: bool,
    /// The set of its bytes (bit `b & 63` for each byte `b`), for a quick test of how far a word
    /// can be from it: every edit changes at most two bits.
    mask: u64,
}

/// The set of the bytes of `b`, as in [`Target::mask`].
#[inline]
fn byte_mask(b: &[u8]) -> u64 {
    b.iter().fold(0, |m, &c| m | 1 << (c & 63))
}

/// The compound heads, their bytes in reverse in a trie: walking a word from its end finds every
/// head it ends with in one pass, however many heads share an ending ("-sjon", "-else").
#[derive(Debug, Clone, Default)]
struct SuffixTrie {
    /// While building: each node's children by byte.
    building: Vec<std::collections::BTreeMap<u8, u32>>,
    /// Per node: where its children start in `edges`, how many, and its head (index + 1 in
    /// `heads`, 0 for none).
    nodes: Vec<(u32, u32, u32)>,
    /// Children, sorted by byte within each node: `(byte, node)`.
    edges: Vec<(u8, u32)>,
    heads: Vec<Target>,
    /// Per node while building: its head (index + 1, 0 for none).
    ends: Vec<u32>,
    /// The root's children by byte (0 for none): the first step of every walk, taken for
    /// every word that passes the key test, is one array read.
    root: Vec<u32>,
}

impl SuffixTrie {
    fn insert(&mut self, head: Target) {
        if self.building.is_empty() {
            self.building.push(Default::default());
            self.ends.push(0);
        }
        let mut node = 0usize;
        for &b in head.bytes.iter().rev() {
            let next = self.building.len() as u32;
            let child = *self
                .building
                .get_mut(node)
                .map(|n| n.entry(b).or_insert(next))
                .unwrap_or(&mut 0);
            if child == next {
                self.building.push(Default::default());
                self.ends.push(0);
            }
            node = child as usize;
        }
        self.heads.push(head);
        if let Some(e) = self.ends.get_mut(node) {
            *e = self.heads.len() as u32;
        }
    }

    fn finish(&mut self) {
        self.nodes.clear();
        self.edges.clear();
        self.root = vec![0; 256];
        if let Some(children) = self.building.first() {
            for (b, c) in children {
                if let Some(slot) = self.root.get_mut(usize::from(*b)) {
                    *slot = *c;
                }
            }
        }
        for (n, children) in self.building.iter().enumerate() {
            let start = self.edges.len() as u32;
            self.edges.extend(children.iter().map(|(b, c)| (*b, *c)));
            let end = self.ends.get(n).copied().unwrap_or(0);
            self.nodes.push((start, children.len() as u32, end));
        }
        self.building.clear();
    }

    /// Calls `f` with each head `word` ends with and the part before it, longest head last,
    /// until `f` returns a value.
    #[inline]
    fn ends_of<T>(&self, word: &[u8], mut f: impl FnMut(&Target, &[u8]) -> Option<T>) -> Option<T> {
        let mut node = 0usize;
        for (depth, &b) in word.iter().rev().enumerate() {
            if depth == 0 {
                node = *self.root.get(usize::from(b))? as usize;
                if node == 0 {
                    return None;
                }
            } else {
                let &(start, len, _) = self.nodes.get(node)?;
                let children = self.edges.get(start as usize..(start + len) as usize)?;
                let k = children.binary_search_by_key(&b, |e| e.0).ok()?;
                node = children.get(k)?.1 as usize;
            }
            let &(_, _, head) = self.nodes.get(node)?;
            if head > 0 {
                let modifier = word.get(..word.len() - depth - 1).unwrap_or(&[]);
                if let Some(t) = self.heads.get(head as usize - 1) {
                    if let Some(v) = f(t, modifier) {
                        return Some(v);
                    }
                }
            }
        }
        None
    }
}

/// A map from a key of up to four bytes (packed by [`pack`]) with a cheap multiplicative hash
/// (the keys are not chosen by senders: they come from the built-in and deploy-time lists).
type KeyMap<V> = HashMap<u32, V, std::hash::BuildHasherDefault<KeyHasher>>;

/// The hasher of [`KeyMap`].
#[derive(Debug, Default, Clone, Copy)]
pub struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0 << 8 | u64::from(*b);
        }
    }
}

/// The compound-head and misspelling search, and the ordinary words no generated form matches.
#[derive(Debug, Clone, Default)]
pub struct Morph {
    /// The heads, in a trie of their reversed bytes.
    heads: SuffixTrie,
    /// Bit set of the heads' keys ([`head_key`]).
    head_bits: Bits,
    /// Misspelling targets by their first four bytes.
    fuzzy: KeyMap<Vec<Target>>,
    fuzzy_bits: Bits,
    /// Misspelling targets by their bytes 4 to 7, and 3 to 6 and 5 to 8 (a word misspelt in its
    /// first four bytes, by a substitution, an insertion or a deletion).
    fuzzy_mid: KeyMap<Vec<Target>>,
    fuzzy_mid_bits: Bits,
    /// Body parts (folded), the first part of a compound with a treatment head.
    body_parts: HashSet<Box<[u8]>, std::hash::BuildHasherDefault<KeyHasher>>,
    /// Conditions and medicines of [`MIN_FORMS`] letters or more with every doubled letter
    /// written once, and their list: a word with a letter doubled that the term has once
    /// ("migrenne", "Ritallin", "insullinen") is the term.
    collapsed: HashMap<u64, ListKind, std::hash::BuildHasherDefault<KeyHasher>>,
    /// The inflection endings by their last byte (256 lists, filled by [`Morph::finish`]).
    endings_by_last: Vec<Vec<&'static [u8]>>,
    /// Folded ordinary words that generated forms never match.
    ordinary: HashSet<Box<str>>,
    /// Ordinary word parts: `(part, free_start, free_end)`; a word that starts with (`part*`),
    /// ends with (`*part`) or contains (`*part*`) one is ordinary.
    ordinary_parts: Vec<(Box<[u8]>, bool, bool)>,
    /// All the parts in one automaton (built by [`Morph::finish`]), so that a word is checked
    /// against hundreds of parts in one pass.
    ordinary_search: Option<aho_corasick::AhoCorasick>,
}

/// A 262,144-bit set (32 KiB) of keys (hashed): large enough that a few thousand keys leave
/// almost every word's key out.
#[derive(Debug, Clone)]
struct Bits(Box<[u64; 4096]>);

impl Default for Bits {
    fn default() -> Self {
        Bits(Box::new([0; 4096]))
    }
}

impl Bits {
    fn index(k: u32) -> usize {
        (k.wrapping_mul(0x9E37_79B1) >> 14) as usize
    }
    fn insert(&mut self, k: u32) {
        let i = Self::index(k);
        if let Some(w) = self.0.get_mut(i >> 6) {
            *w |= 1 << (i & 63);
        }
    }
    #[inline]
    fn contains(&self, k: u32) -> bool {
        let i = Self::index(k);
        self.0.get(i >> 6).is_some_and(|w| w & (1 << (i & 63)) != 0)
    }
}

/// A 64-bit hash of `b` with every run of one byte written once ("migrenne" → "migrene"),
/// computed without allocating. Two different words with the same hash would at worst flag a
/// harmless word; with a few thousand terms that is vanishingly unlikely.
#[inline]
fn collapsed_hash(b: &[u8]) -> u64 {
    let mut h: u64 = FNV_START;
    let mut last = None;
    for &c in b {
        if last != Some(c) {
            h = fnv_step(h, c);
        }
        last = Some(c);
    }
    h
}

/// The FNV-1a start value and step of [`collapsed_hash`].
const FNV_START: u64 = 0xCBF2_9CE4_8422_2325;

#[inline]
fn fnv_step(h: u64, c: u8) -> u64 {
    (h ^ u64::from(c)).wrapping_mul(0x0100_0000_01B3)
}

/// `word` without `suffix` at its end, compared byte by byte (these are a few bytes: a call to
/// `memcmp` costs more).
#[inline]
fn strip_suffix<'w>(word: &'w [u8], suffix: &[u8]) -> Option<&'w [u8]> {
    let cut = word.len().checked_sub(suffix.len())?;
    let (stem, end) = word.split_at(cut);
    end.iter().zip(suffix).all(|(a, b)| a == b).then_some(stem)
}

/// Packs up to four bytes into a key.
#[inline]
fn pack(b: &[u8]) -> u32 {
    b.iter().fold(0, |k, &x| k << 8 | u32::from(x))
}

/// The key of the four bytes at `at`.
#[inline]
fn key4(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4).map(pack)
}

/// The key of the last `n` bytes (`n` up to 8), hashed into 32 bits.
#[inline]
fn last_n(b: &[u8], n: usize) -> Option<u32> {
    let tail = b.len().checked_sub(n).and_then(|s| b.get(s..))?;
    let packed = tail.iter().fold(n as u64, |k, &x| k << 8 | u64::from(x));
    Some((packed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as u32)
}

/// The key a head is found by: its last six bytes, or its last four when it is shorter (a
/// word is looked up by both).
fn head_key(b: &[u8]) -> Option<u32> {
    if b.len() >= 6 {
        last_n(b, 6)
    } else {
        last_n(b, 4)
    }
}

impl Morph {
    /// Adds a term (folded, case-insensitive): as a compound head and a misspelling target when
    /// its kind and length allow. A term that may start inside a word (`*term`) is neither.
    pub fn add_term(&mut self, kind: ListKind, folded: &str, free_start: bool) {
        let letters = folded.chars().all(char::is_alphabetic);
        if !letters || free_start {
            return;
        }
        let n = folded.chars().count();
        let bytes: Box<[u8]> = folded.as_bytes().into();
        // A grey unit is a head when it names a person or service ("Kommunepsykologen"), not
        // when it ends in a unit word that ordinary words end in too ("legesenter").
        let unit_ending = [
            "senter", "sentral", "team", "tjeneste", "teneste", "klinikk", "avdeling",
        ]
        .iter()
        .any(|u| folded.ends_with(u));
        let head_kind = kind == ListKind::Health || (kind == ListKind::GreyUnit && !unit_ending);
        if head_kind && n >= MIN_HEAD {
            self.add_head(kind, bytes.clone(), false);
        }
        if matches!(kind, ListKind::Health | ListKind::Medication) && n >= MIN_FORMS {
            self.collapsed.entry(collapsed_hash(&bytes)).or_insert(kind);
        }
        let fuzzy_kind = matches!(
            kind,
            ListKind::Health | ListKind::RevealingUnit | ListKind::Medication | ListKind::GreyUnit
        );
        if fuzzy_kind && n >= MIN_FUZZY {
            let target = Target {
                kind,
                mask: byte_mask(&bytes),
                bytes: bytes.clone(),
                after_body_part: false,
            };
            if let Some(k) = key4(&bytes, 0) {
                let list = self.fuzzy.entry(k).or_default();
                if !list.iter().any(|t| t.bytes == bytes) {
                    self.fuzzy_bits.insert(k);
                    list.push(target.clone());
                }
            }
            for at in [3, 4, 5] {
                if let Some(k) = key4(&bytes, at) {
                    let list = self.fuzzy_mid.entry(k).or_default();
                    if !list.iter().any(|t| t.bytes == bytes) {
                        self.fuzzy_mid_bits.insert(k);
                        list.push(target.clone());
                    }
                }
            }
        }
    }

    fn add_head(&mut self, kind: ListKind, bytes: Box<[u8]>, after_body_part: bool) {
        if let Some(k) = head_key(&bytes) {
            self.head_bits.insert(k);
            self.heads.insert(Target {
                kind,
                mask: byte_mask(&bytes),
                bytes,
                after_body_part,
            });
        }
    }

    /// Adds a body part (folded).
    pub fn add_body_part(&mut self, folded: &str) {
        self.body_parts.insert(folded.as_bytes().into());
    }

    /// Adds a treatment head (folded): a health term at the end of a compound that starts
    /// with a body part.
    pub fn add_treatment_head(&mut self, folded: &str) {
        self.add_head(ListKind::Health, folded.as_bytes().into(), true);
    }

    /// Whether `modifier` is a body part, with or without a linking `-s-` or `-e-`.
    fn is_body_part(&self, modifier: &[u8]) -> bool {
        self.body_parts.contains(modifier)
            || [b's', b'e'].iter().any(|l| {
                modifier
                    .strip_suffix(&[*l])
                    .is_some_and(|m| self.body_parts.contains(m))
            })
    }

    /// Adds an ordinary word (folded) that generated forms must not match, or with wildcards
    /// a part of such words.
    pub fn add_ordinary(&mut self, folded: &str, free_start: bool, free_end: bool) {
        if free_start || free_end {
            self.ordinary_parts
                .push((folded.as_bytes().into(), free_start, free_end));
        } else {
            self.ordinary.insert(folded.into());
        }
    }

    /// Finishes building.
    /// Finishes building; fails only if the ordinary word parts cannot be compiled.
    pub fn finish(&mut self) -> Result<(), aho_corasick::BuildError> {
        self.heads.finish();
        self.ordinary_search = Some(
            aho_corasick::AhoCorasick::builder()
                .kind(Some(aho_corasick::AhoCorasickKind::DFA))
                .build(self.ordinary_parts.iter().map(|(p, _, _)| &**p))?,
        );
        // Targets by length, so that a word is compared only with those of about its length.
        for list in self.fuzzy.values_mut().chain(self.fuzzy_mid.values_mut()) {
            list.sort_by_key(|t| t.bytes.len());
        }
        self.endings_by_last = vec![Vec::new(); 256];
        for s in INFLECTIONS {
            let s = s.as_bytes();
            if let Some(list) = s
                .last()
                .and_then(|b| self.endings_by_last.get_mut(usize::from(*b)))
            {
                list.push(s);
            }
        }
        Ok(())
    }

    /// Whether the folded word is an ordinary word that no generated form may match.
    #[inline]
    pub fn is_ordinary(&self, word: &[u8]) -> bool {
        let exact = std::str::from_utf8(word).is_ok_and(|w| self.ordinary.contains(w));
        exact
            || self.ordinary_search.as_ref().is_some_and(|search| {
                search.find_overlapping_iter(word).any(|m| {
                    self.ordinary_parts.get(m.pattern().as_usize()).is_some_and(
                        |(_, free_start, free_end)| {
                            (*free_start || m.start() == 0) && (*free_end || m.end() == word.len())
                        },
                    )
                })
            })
    }

    /// Judges the word `word` (folded letters, no listed term matched it): a compound whose
    /// head is a term, or a misspelling of a term. Returns the term's list.
    #[inline]
    pub fn word(&self, word: &[u8]) -> Option<ListKind> {
        if word.len() < 7 {
            return None;
        }
        let mut buf: [&[u8]; STEMS] = [&[]; STEMS];
        let n = self.stems(word, &mut buf);
        let stems = buf.get(..n).unwrap_or(&[]);
        let kind = self
            .head(stems)
            .or_else(|| self.misspelling(word, stems))
            .or_else(|| self.doubled(stems))?;
        (!self.is_ordinary(word)).then_some(kind)
    }

    /// A stem with a doubled letter that, written once, gives a condition or medicine.
    fn doubled(&self, stems: &[&[u8]]) -> Option<ListKind> {
        // The stems are prefixes of the word (the first stem): one pass hashes the collapsed
        // word and keeps the hash after each byte, and a stem's hash is the one at its length.
        let word = stems.first()?;
        let first_double = word.windows(2).position(|w| w[0] == w[1])?;
        let mut at = [0u64; 64];
        let mut h: u64 = FNV_START;
        let mut last = None;
        for (i, &c) in word.iter().enumerate().take(at.len()) {
            if last != Some(c) {
                h = fnv_step(h, c);
            }
            last = Some(c);
            if let Some(slot) = at.get_mut(i) {
                *slot = h;
            }
        }
        stems
            .iter()
            .filter(|s| s.len() > first_double + 1)
            .filter_map(|s| s.len().checked_sub(1).and_then(|i| at.get(i)))
            .find_map(|h| self.collapsed.get(h).copied())
    }

    /// The word and the stems left when one of its inflection endings is taken off (at most
    /// [`STEMS`]); returns how many were written to `out`.
    #[inline]
    fn stems<'w>(&self, word: &'w [u8], out: &mut [&'w [u8]; STEMS]) -> usize {
        out[0] = word;
        let mut n = 1;
        let endings = word
            .last()
            .and_then(|b| self.endings_by_last.get(usize::from(*b)));
        for e in endings.into_iter().flatten() {
            if let Some(stem) = strip_suffix(word, e) {
                if let Some(slot) = out.get_mut(n) {
                    *slot = stem;
                    n += 1;
                }
            }
        }
        n
    }

    fn head(&self, stems: &[&[u8]]) -> Option<ListKind> {
        for stem in stems {
            // A word ending like some head (in its last six bytes, or four for short heads).
            let long =
                stem.len() >= 6 && last_n(stem, 6).is_some_and(|k| self.head_bits.contains(k));
            let short = last_n(stem, 4).is_some_and(|k| self.head_bits.contains(k));
            if !long && !short {
                continue;
            }
            let found = self.heads.ends_of(stem, |t, modifier| {
                let fits = if t.after_body_part {
                    self.is_body_part(modifier)
                } else {
                    modifier.len() >= MIN_MODIFIER
                };
                fits.then_some(t.kind)
            });
            if found.is_some() {
                return found;
            }
        }
        None
    }

    fn misspelling(&self, word: &[u8], stems: &[&[u8]]) -> Option<ListKind> {
        let by_start = key4(word, 0)
            .filter(|k| self.fuzzy_bits.contains(*k))
            .and_then(|k| self.fuzzy.get(&k));
        let by_middle = key4(word, 4)
            .filter(|k| self.fuzzy_mid_bits.contains(*k))
            .and_then(|k| self.fuzzy_mid.get(&k));
        if by_start.is_none() && by_middle.is_none() {
            return None;
        }
        let masks: [u64; STEMS] = std::array::from_fn(|i| stems.get(i).map_or(0, |s| byte_mask(s)));
        for list in by_start.into_iter().chain(by_middle) {
            for (stem, mask) in stems.iter().zip(masks) {
                // The targets of about the stem's length (at most two edits apart).
                let from = list.partition_point(|t| t.bytes.len() + 2 < stem.len());
                let near = list.get(from..).unwrap_or(&[]);
                for t in near.iter().take_while(|t| t.bytes.len() <= stem.len() + 2) {
                    let n = t.bytes.len();
                    let edits = if n >= MIN_FUZZY_2 { 2 } else { 1 };
                    let close = (t.mask ^ mask).count_ones() as usize <= 2 * edits;
                    if close && stem.len().abs_diff(n) <= edits && within(stem, &t.bytes, edits) {
                        return Some(t.kind);
                    }
                }
            }
        }
        None
    }
}

/// Whether the optimal-string-alignment distance (insertions, deletions, substitutions and
/// swaps of neighbouring bytes) between `a` and `b` is at most `k` (0 to 2). Exact equality
/// counts as a match too. Words longer than 63 bytes never match.
pub fn within(a: &[u8], b: &[u8], k: usize) -> bool {
    const MAX: usize = 64;
    if a.len() >= MAX || b.len() >= MAX || a.len().abs_diff(b.len()) > k {
        return false;
    }
    // Most candidates differ from the word early on: the common prefix and suffix cost no
    // edits and are skipped before the dynamic programme.
    let pre = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let (a, b) = (a.get(pre..).unwrap_or(&[]), b.get(pre..).unwrap_or(&[]));
    let suf = a
        .iter()
        .rev()
        .zip(b.iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (a, b) = (
        a.get(..a.len() - suf).unwrap_or(&[]),
        b.get(..b.len() - suf).unwrap_or(&[]),
    );
    if a.len().max(b.len()) <= k {
        return true;
    }
    // Three rows of the dynamic programme, on the stack (small numbers: `u8`).
    let big = MAX as u8;
    let mut rows = [[big; MAX]; 3];
    for (j, p) in rows[1].iter_mut().enumerate().take(b.len() + 1) {
        *p = j as u8;
    }
    // Which of `rows` is the row before the previous, the previous and the current one: they
    // rotate instead of being copied.
    let (mut r2, mut r1, mut r0) = (2usize, 1usize, 0usize);
    let k8 = k as u8;
    for i in 1..=a.len() {
        let [x, y, z] = &mut rows;
        // The rotation goes (2, 1, 0) → (1, 0, 2) → (0, 2, 1) → (2, 1, 0).
        let (prev2, prev, cur) = match (r2, r1, r0) {
            (1, 0, _) => (&*y, &*x, z),
            (0, 2, _) => (&*x, &*z, y),
            _ => (&*z, &*y, x),
        };
        cur[0] = i as u8;
        let mut row_min = cur[0];
        let lo = i.saturating_sub(k).max(1);
        let hi = (i + k).min(b.len());
        if lo > 1 {
            cur[lo - 1] = big;
        }
        for j in lo..=hi {
            let cost = u8::from(a[i - 1] != b[j - 1]);
            let mut d = (prev[j - 1] + cost).min(prev[j] + 1).min(cur[j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(prev2[j - 2] + 1);
            }
            cur[j] = d;
            row_min = row_min.min(d);
        }
        if hi < b.len() {
            cur[hi + 1] = big;
        }
        if row_min > k8 {
            return false;
        }
        (r2, r1, r0) = (r1, r0, r2);
    }
    rows.get(r1)
        .and_then(|r| r.get(b.len()))
        .is_some_and(|d| *d <= k8)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference: the full optimal-string-alignment distance.
    fn osa(a: &[u8], b: &[u8]) -> usize {
        let (n, m) = (a.len(), b.len());
        let mut d = vec![vec![0usize; m + 1]; n + 1];
        for (i, row) in d.iter_mut().enumerate() {
            row[0] = i;
        }
        for (j, cell) in d[0].iter_mut().enumerate() {
            *cell = j;
        }
        for i in 1..=n {
            for j in 1..=m {
                let cost = usize::from(a[i - 1] != b[j - 1]);
                let mut v = (d[i - 1][j - 1] + cost)
                    .min(d[i - 1][j] + 1)
                    .min(d[i][j - 1] + 1);
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                    v = v.min(d[i - 2][j - 2] + 1);
                }
                d[i][j] = v;
            }
        }
        d[n][m]
    }

    #[test]
    fn distances() {
        assert!(within(b"diabetis", b"diabetes", 1));
        assert!(within(b"psykiartisk", b"psykiatrisk", 1));
        assert!(within(b"schizofrei", b"schizofreni", 1));
        assert!(!within(b"diabetes", b"diabolsk", 2));
        assert!(within(b"diabetes", b"diabetes", 0));
    }

    #[test]
    fn heads_and_misspellings() {
        let mut m = Morph::default();
        m.add_term(ListKind::Health, "astma", false);
        m.add_term(ListKind::Health, "diabetes", false);
        m.add_ordinary("gastma", false, false);
        m.finish().unwrap();
        assert_eq!(m.word(b"barneastmaen"), Some(ListKind::Health));
        assert_eq!(m.word(b"diabetisen"), Some(ListKind::Health));
        assert_eq!(m.word(b"astmaen"), None, "a head needs letters before it");
        assert_eq!(m.word(b"diabolsk"), None);
        m.add_ordinary("barneastma", false, false);
        assert_eq!(
            m.word(b"barneastma"),
            None,
            "ordinary words are never matched"
        );
    }

    proptest::proptest! {
        #[test]
        fn banded_check_agrees_with_the_full_distance(a in "[abc]{0,9}", b in "[abc]{0,9}", k in 0usize..3) {
            proptest::prop_assert_eq!(within(a.as_bytes(), b.as_bytes(), k), osa(a.as_bytes(), b.as_bytes()) <= k);
        }
    }
}
