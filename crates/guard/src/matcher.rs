//! The term matcher: one pass over the folded message, with word-boundary checks.
//!
//! Almost every term starts at a word boundary, so the matcher visits each word start once and
//! looks up the candidate terms by the word's first two to four bytes in a small open-addressing
//! table, then compares the few candidates byte by byte (this keeps the hot data in the CPU cache;
//! a single Aho-Corasick DFA over all ~3,000 patterns is several megabytes and slower). The few
//! terms that may start inside a word (`*kreft`, `*psykiatri*`) go into one small Aho-Corasick
//! DFA searched over the whole text with overlapping matches. A match counts only when its
//! boundaries fit the term's wildcards. Nothing is allocated per term or per match beyond the
//! caller's reusable hit buffer.

use crate::lists::{ListKind, LoadError, Term};
use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};

/// A term found in the message: its list and byte span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    /// The list of the term.
    pub kind: ListKind,
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

#[derive(Debug, Clone)]
struct PatternInfo {
    kind: ListKind,
    free_start: bool,
    free_end: bool,
    /// For case-sensitive terms, the exact text to compare with the original message.
    exact: Option<Box<str>>,
}

/// A small set of words, exact or by prefix, looked up on folded text. Entries are bucketed by
/// their first byte, so most lookups end after one array read.
#[derive(Debug, Clone)]
pub struct WordSet {
    /// `(word, is_prefix)` per first byte.
    buckets: Vec<Vec<(String, bool)>>,
}

impl Default for WordSet {
    fn default() -> Self {
        WordSet {
            buckets: vec![Vec::new(); 256],
        }
    }
}

impl WordSet {
    fn insert(&mut self, word: &str, prefix: bool) {
        if let Some(b) = word
            .as_bytes()
            .first()
            .and_then(|f| self.buckets.get_mut(usize::from(*f)))
        {
            b.push((word.to_string(), prefix));
        }
    }

    /// Whether the folded word is in the set.
    #[inline]
    pub fn contains(&self, word: &str) -> bool {
        let Some(bucket) = word
            .as_bytes()
            .first()
            .and_then(|f| self.buckets.get(usize::from(*f)))
        else {
            return false;
        };
        bucket.iter().any(|(w, prefix)| {
            if *prefix {
                word.starts_with(w.as_str())
            } else {
                word == w
            }
        })
    }
}

/// A term that starts at a word boundary (while building).
#[derive(Debug, Clone)]
struct AnchoredTerm {
    bytes: Box<[u8]>,
    info: PatternInfo,
}

/// Open-addressing table from a 2- to 4-byte key to a range of [`AnchoredTerm`]s.
#[derive(Debug, Clone)]
struct KeyTable {
    /// `(key, start, len)`; `key == EMPTY` marks a free slot.
    slots: Vec<(u64, u32, u32)>,
    shift: u32,
}

const EMPTY: u64 = u64::MAX;

/// The longest key, in bytes.
const KEY_MAX: usize = 4;

/// The key of the first `n` (2 to 4) bytes: the bytes, and the length in the top bits of a
/// 64-bit value.
#[inline]
fn key(bytes: &[u8], n: usize) -> Option<u64> {
    let b = bytes.get(..n)?;
    let mut k = n as u64;
    for &x in b {
        k = k << 8 | u64::from(x);
    }
    Some(k)
}

impl KeyTable {
    fn build(keys: &[(u64, u32, u32)]) -> Self {
        let cap = (keys.len() * 2).next_power_of_two().max(16);
        let shift = 32 - cap.trailing_zeros();
        let mut slots = vec![(EMPTY, 0, 0); cap];
        for &(k, s, l) in keys {
            let mut i = Self::hash(k, shift);
            while slots.get(i).is_some_and(|slot| slot.0 != EMPTY) {
                i = (i + 1) & (cap - 1);
            }
            if let Some(slot) = slots.get_mut(i) {
                *slot = (k, s, l);
            }
        }
        KeyTable { slots, shift }
    }

    #[inline]
    fn hash(k: u64, shift: u32) -> usize {
        (k.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (32 + shift)) as usize
    }

    #[inline]
    fn get(&self, k: u64) -> Option<(usize, usize)> {
        let mask = self.slots.len() - 1;
        let mut i = Self::hash(k, self.shift);
        loop {
            let &(sk, s, l) = self.slots.get(i)?;
            if sk == k {
                return Some((s as usize, l as usize));
            }
            if sk == EMPTY {
                return None;
            }
            i = (i + 1) & mask;
        }
    }
}

/// A 65,536-bit set (8 KiB, so it stays in the L1 cache).
#[derive(Debug, Clone)]
struct BitSet(Vec<u64>);

impl BitSet {
    fn new() -> Self {
        BitSet(vec![0; 1024])
    }
    #[inline]
    fn index(b: &[u8]) -> usize {
        let mut k: u32 = 0;
        for &x in b {
            k = k << 8 | u32::from(x);
        }
        (k.wrapping_mul(0x9E37_79B1) >> 16) as usize
    }
    fn insert(&mut self, b: &[u8]) {
        let i = Self::index(b);
        if let Some(w) = self.0.get_mut(i >> 6) {
            *w |= 1 << (i & 63);
        }
    }
    #[inline]
    fn contains(&self, b: &[u8]) -> bool {
        let i = Self::index(b);
        self.0.get(i >> 6).is_some_and(|w| w & (1 << (i & 63)) != 0)
    }
}

/// The compiled matcher.
#[derive(Debug, Clone)]
pub struct Matcher {
    /// The bytes of every anchored term, one after another, in key order (so a bucket's
    /// candidates are next to each other in memory).
    arena: Vec<u8>,
    /// `(offset, length)` of each anchored term in `arena`.
    spans: Vec<(u32, u32)>,
    /// The term's list and wildcards, by the same index.
    infos: Vec<PatternInfo>,
    table: KeyTable,
    /// Every two-byte term, every three-byte term, and the first four bytes of every longer
    /// term: most words start with none of them, so most lookups end in these 8 KiB sets.
    first2: BitSet,
    first3: BitSet,
    first4: BitSet,
    free: AhoCorasick,
    free_info: Vec<PatternInfo>,
    /// Words after "resepten på" that name no medicine.
    pub not_a_medicine: WordSet,
    /// Words after a number that make it a dose.
    pub dose_units: WordSet,
    /// Words after a number that make it a measured value.
    pub lab_units: WordSet,
}

impl Matcher {
    /// Builds the matcher from parsed terms.
    pub fn build(terms: &[Term]) -> Result<Self, LoadError> {
        let mut anchored: Vec<(u64, AnchoredTerm)> = Vec::new();
        let mut free_patterns: Vec<&str> = Vec::new();
        let mut free_info = Vec::new();
        let mut not_a_medicine = WordSet::default();
        let mut dose_units = WordSet::default();
        let mut lab_units = WordSet::default();
        for t in terms {
            if t.kind.is_word_set() {
                let set = match t.kind {
                    ListKind::NotAMedicine => &mut not_a_medicine,
                    ListKind::DoseUnit => &mut dose_units,
                    _ => &mut lab_units,
                };
                set.insert(&t.folded, t.free_end);
                continue;
            }
            let info = PatternInfo {
                kind: t.kind,
                free_start: t.free_start,
                free_end: t.free_end,
                exact: t
                    .case_sensitive
                    .then(|| t.original.clone().into_boxed_str()),
            };
            let bytes = t.folded.as_bytes();
            let starts_word = t.folded.chars().next().is_some_and(char::is_alphanumeric);
            let k = key(bytes, bytes.len().min(KEY_MAX));
            match k {
                Some(k) if !t.free_start && starts_word => anchored.push((
                    k,
                    AnchoredTerm {
                        bytes: bytes.into(),
                        info,
                    },
                )),
                _ => {
                    free_patterns.push(&t.folded);
                    free_info.push(info);
                }
            }
        }
        anchored.sort_by_key(|(k, _)| *k);
        let mut first2 = BitSet::new();
        let mut first3 = BitSet::new();
        let mut first4 = BitSet::new();
        for (_, t) in &anchored {
            match t.bytes.len() {
                2 => first2.insert(&t.bytes),
                3 => first3.insert(&t.bytes),
                _ => first4.insert(t.bytes.get(..4).unwrap_or(&[])),
            }
        }
        let mut arena = Vec::new();
        let mut spans = Vec::with_capacity(anchored.len());
        for (_, t) in &anchored {
            let off = u32::try_from(arena.len()).map_err(|e| LoadError::Build(e.to_string()))?;
            let len = u32::try_from(t.bytes.len()).map_err(|e| LoadError::Build(e.to_string()))?;
            arena.extend_from_slice(&t.bytes);
            spans.push((off, len));
        }
        let mut keys: Vec<(u64, u32, u32)> = Vec::new();
        for (i, (k, _)) in anchored.iter().enumerate() {
            let i = u32::try_from(i).map_err(|e| LoadError::Build(e.to_string()))?;
            match keys.last_mut() {
                Some(last) if last.0 == *k => last.2 += 1,
                _ => keys.push((*k, i, 1)),
            }
        }
        // Leftmost-longest, not overlapping: it lets the automaton use its fast prefilter, and
        // the lists avoid free-start terms that hide one another.
        let free = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&free_patterns)
            .map_err(|e| LoadError::Build(e.to_string()))?;
        Ok(Matcher {
            arena,
            spans,
            infos: anchored.into_iter().map(|(_, t)| t.info).collect(),
            table: KeyTable::build(&keys),
            first2,
            first3,
            first4,
            free,
            free_info,
            not_a_medicine,
            dose_units,
            lab_units,
        })
    }

    /// The number of searchable patterns.
    pub fn pattern_count(&self) -> usize {
        self.spans.len() + self.free_info.len()
    }

    /// Finds every term in `folded` (the folded copy of `original`) whose boundaries fit, and
    /// appends the hits to `out`.
    ///
    /// It also appends the start of every run of ASCII digits to `digits`, so that the number
    /// rules need no pass of their own.
    pub fn find(&self, original: &str, folded: &str, out: &mut Vec<Hit>, digits: &mut Vec<usize>) {
        let bytes = folded.as_bytes();
        let n = bytes.len();
        let mut i = 0;
        // Tight loops: skip to a word start, look the word up, skip to the word's end.
        while i < n {
            let b = bytes[i];
            if b < 0x80 {
                if !ASCII_WORD[usize::from(b)] {
                    i += 1;
                    continue;
                }
            } else {
                let (letter, len) = non_ascii(folded, bytes, i);
                if !letter {
                    i += len;
                    continue;
                }
            }
            self.at_word_start(original, folded, i, out);
            // Skip the word, noting where runs of digits start.
            let mut prev_digit = false;
            while i < n {
                let b = bytes[i];
                if b < 0x80 {
                    if !ASCII_WORD[usize::from(b)] {
                        break;
                    }
                    let digit = b.is_ascii_digit();
                    if digit && !prev_digit {
                        digits.push(i);
                    }
                    prev_digit = digit;
                    i += 1;
                } else {
                    let (letter, len) = non_ascii(folded, bytes, i);
                    if !letter {
                        break;
                    }
                    prev_digit = false;
                    i += len;
                }
            }
        }
        if self.free_info.is_empty() {
            return;
        }
        for m in self.free.find_iter(folded) {
            if let Some(info) = self.free_info.get(m.pattern().as_usize()) {
                self.accept(original, folded, m.start(), m.end(), info, out);
            }
        }
    }

    #[inline(never)]
    fn at_word_start(&self, original: &str, folded: &str, i: usize, out: &mut Vec<Hit>) {
        let rest = folded.as_bytes().get(i..).unwrap_or(&[]);
        let two = rest.get(..2).is_some_and(|p| self.first2.contains(p));
        let three = rest.get(..3).is_some_and(|p| self.first3.contains(p));
        let four = rest.get(..4).is_some_and(|p| self.first4.contains(p));
        for (n, wanted) in [(2, two), (3, three), (4, four)] {
            if !wanted {
                continue;
            }
            let Some((s, l)) = key(rest, n).and_then(|k| self.table.get(k)) else {
                continue;
            };
            // Every candidate shares the key's first `n` bytes; compare the rest inline (a
            // `memcmp` call costs more than these few bytes).
            let spans = self.spans.get(s..s + l).unwrap_or(&[]);
            for (k, &(off, len)) in spans.iter().enumerate() {
                let (off, len) = (off as usize, len as usize);
                if len > rest.len() {
                    continue;
                }
                let tail = self.arena.get(off + n..off + len).unwrap_or(&[]);
                let text = rest.get(n..len).unwrap_or(&[]);
                if text.iter().zip(tail.iter()).all(|(a, b)| a == b) {
                    if let Some(info) = self.infos.get(s + k) {
                        self.accept(original, folded, i, i + len, info, out);
                    }
                }
            }
        }
    }

    #[inline]
    fn accept(
        &self,
        original: &str,
        folded: &str,
        start: usize,
        end: usize,
        info: &PatternInfo,
        out: &mut Vec<Hit>,
    ) {
        if !info.free_start && is_word_char_before(folded, start) {
            return;
        }
        if !info.free_end && is_word_char_at(folded, folded.as_bytes(), end) {
            return;
        }
        if let Some(exact) = &info.exact {
            if original.get(start..end) != Some(&**exact) {
                return;
            }
        }
        out.push(Hit {
            kind: info.kind,
            start,
            end,
        });
    }
}

/// Whether the non-ASCII character at byte `i` is a letter or digit, and its length.
#[inline]
fn non_ascii(s: &str, bytes: &[u8], i: usize) -> (bool, usize) {
    match (bytes.get(i), bytes.get(i + 1)) {
        // Latin-1 letters (æ, ø, å, é …), except × and ÷.
        (Some(0xC3), Some(c)) if (0x80..=0xBF).contains(c) => (!matches!(c, 0x97 | 0xB7), 2),
        (Some(b), _) if *b >= 0xC0 => match s.get(i..).and_then(|r| r.chars().next()) {
            Some(c) => (c.is_alphanumeric(), c.len_utf8()),
            None => (false, 1),
        },
        // A continuation byte (never reached from a character boundary).
        _ => (false, 1),
    }
}

/// ASCII letters and digits.
const ASCII_WORD: [bool; 128] = {
    let mut t = [false; 128];
    let mut i = 0;
    while i < 128 {
        t[i] = (i as u8).is_ascii_alphanumeric();
        i += 1;
    }
    t
};

/// Whether the character before byte `pos` is a letter or digit.
#[inline]
pub fn is_word_char_before(s: &str, pos: usize) -> bool {
    s.get(..pos)
        .and_then(|p| p.chars().next_back())
        .is_some_and(char::is_alphanumeric)
}

/// Whether the character at byte `pos` is a letter or digit.
#[inline]
pub fn is_word_char_at(s: &str, bytes: &[u8], pos: usize) -> bool {
    match bytes.get(pos) {
        None => false,
        Some(b) if b.is_ascii() => b.is_ascii_alphanumeric(),
        Some(_) => s
            .get(pos..)
            .and_then(|r| r.chars().next())
            .is_some_and(char::is_alphanumeric),
    }
}
