//! The term matcher: one pass over the folded message, with word-boundary checks.
//!
//! Almost every term starts at a word boundary, so the matcher visits each word start once and
//! looks up the candidate terms by the word's first two to four bytes in a small open-addressing
//! table, then compares the few candidates (this keeps the hot data in the CPU cache; a single
//! Aho-Corasick DFA over all ~3,000 patterns is several megabytes and slower). Screening runs
//! on every outbound message (target: over a million SMS per second per core), so the word
//! scan works on packed machine words: the first eight bytes at a word start are loaded once
//! as a `u64`; 8-KiB bit sets of the terms' 2-, 3- and 4-byte prefixes reject most words with
//! one bit test each; a candidate compares its first eight bytes with one masked comparison;
//! and the rest of a word is skipped eight lower-case letters at a time. The few terms that may
//! start inside a word (`*kreft`, `*psykiatri*`) are searched over the whole text,
//! leftmost-longest and not overlapping, with the packed (SIMD) searcher of `aho-corasick`, or
//! its DFA when that cannot be built. A match counts only when its boundaries fit the term's
//! wildcards. Nothing is allocated per term or per match beyond the caller's reusable hit
//! buffer.

use crate::lists::{ListKind, LoadError, Term};
use crate::morph::{is_inflection, Morph, Tail};
use aho_corasick::{packed, AhoCorasick, AhoCorasickKind, MatchKind};

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
    /// How a whole-word term may continue into the rest of its word (see [`crate::morph`]).
    tail: Tail,
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

/// The search for the terms that may start inside a word, leftmost-longest and not
/// overlapping. Both kinds find the same matches; the packed (Teddy, SIMD) searcher is the
/// fast path for a few dozen terms and skips the automaton's per-call overhead, the automaton
/// is the fallback when the packed searcher cannot be built (many or empty terms, or a CPU
/// without the vector instructions).
#[derive(Debug, Clone)]
enum FreeSearch {
    Packed(packed::Searcher),
    Automaton(AhoCorasick),
}

/// An anchored term as the search sees it.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    /// The term's first (up to) [`HEAD`] bytes, packed by [`load_head`].
    head: u64,
    /// The bits of `head` that hold the term's bytes.
    mask: u64,
    /// Where the term's bytes start in the arena.
    off: u32,
    /// The term's length in bytes.
    len: u32,
}

/// How many leading bytes a [`Candidate`] compares at once.
const HEAD: usize = 8;

/// The first (up to) eight bytes, packed little-endian and padded with zero bytes.
#[inline]
fn load_head(bytes: &[u8]) -> u64 {
    match bytes
        .get(..HEAD)
        .and_then(|b| <[u8; HEAD]>::try_from(b).ok())
    {
        Some(a) => u64::from_le_bytes(a),
        None => {
            let mut a = [0u8; HEAD];
            for (d, s) in a.iter_mut().zip(bytes) {
                *d = *s;
            }
            u64::from_le_bytes(a)
        }
    }
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

/// Up to four bytes packed little-endian (the first byte lowest).
#[inline]
fn pack(bytes: &[u8]) -> u32 {
    bytes.iter().rev().fold(0, |k, &x| k << 8 | u32::from(x))
}

/// The low `n` bytes of a packed value, for `n` in 0..=4.
const MASKS: [u32; 5] = [0, 0xFF, 0xFFFF, 0x00FF_FFFF, 0xFFFF_FFFF];

/// The key of `n` (2 to 4) bytes packed by [`pack`]: the bytes, and `n` above them.
#[inline]
fn key_of(packed: u32, n: usize) -> u64 {
    u64::from(packed) | (n as u64) << 32
}

/// The key of the first `n` (2 to 4) bytes, if there are that many.
fn key(bytes: &[u8], n: usize) -> Option<u64> {
    Some(key_of(pack(bytes.get(..n)?), n))
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

/// A 65,536-bit set of packed 2- to 4-byte prefixes (8 KiB, so it stays in the L1 cache).
/// Two-byte prefixes index it directly (exactly), longer ones by a multiplicative hash.
#[derive(Debug, Clone)]
struct BitSet(Box<[u64; 1024]>);

impl BitSet {
    fn new() -> Self {
        BitSet(Box::new([0; 1024]))
    }
    /// The bit of a packed prefix of `n` bytes (always below 65,536).
    #[inline]
    fn index(packed: u32, n: usize) -> usize {
        if n == 2 {
            (packed & 0xFFFF) as usize
        } else {
            (packed.wrapping_mul(0x9E37_79B1) >> 16) as usize
        }
    }
    fn insert(&mut self, b: &[u8]) {
        let i = Self::index(pack(b), b.len());
        if let Some(w) = self.0.get_mut(i >> 6) {
            *w |= 1 << (i & 63);
        }
    }
    #[inline]
    fn contains(&self, packed: u32, n: usize) -> bool {
        let i = Self::index(packed, n);
        self.0.get(i >> 6).is_some_and(|w| w & (1 << (i & 63)) != 0)
    }
}

/// The compiled matcher.
#[derive(Debug, Clone)]
pub struct Matcher {
    /// The bytes of every anchored term, one after another, in key order (so a bucket's
    /// candidates are next to each other in memory).
    arena: Vec<u8>,
    /// Each anchored term: its first bytes packed, and where the rest is in `arena`.
    cands: Vec<Candidate>,
    /// The term's list and wildcards, by the same index.
    infos: Vec<PatternInfo>,
    table: KeyTable,
    /// Every two-byte term, every three-byte term, and the first four bytes of every longer
    /// term: the keys in `table`, so most other lookups end in these 8 KiB sets.
    first2: BitSet,
    first3: BitSet,
    first4: BitSet,
    free: FreeSearch,
    free_info: Vec<PatternInfo>,
    /// Words after "resepten på" that name no medicine.
    pub not_a_medicine: WordSet,
    /// Words after a number that make it a dose.
    pub dose_units: WordSet,
    /// Words after a number that make it a measured value.
    pub lab_units: WordSet,
    /// Compound heads, misspellings and the ordinary words generated forms never match.
    morph: Morph,
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
        let mut morph = Morph::default();
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
            match t.kind {
                ListKind::Ordinary => {
                    morph.add_ordinary(&t.folded, t.free_start, t.free_end);
                    continue;
                }
                ListKind::BodyPart => {
                    morph.add_body_part(&t.folded);
                    continue;
                }
                ListKind::TreatmentHead => {
                    morph.add_treatment_head(&t.folded);
                    continue;
                }
                _ => {}
            }
            if !t.case_sensitive && !t.only_word {
                morph.add_term(t.kind, &t.folded, t.free_start);
            }
            let whole_word = !t.free_start && !t.free_end && !t.case_sensitive && !t.only_word;
            let info = PatternInfo {
                kind: t.kind,
                free_start: t.free_start,
                free_end: t.free_end,
                exact: t
                    .case_sensitive
                    .then(|| t.original.clone().into_boxed_str()),
                tail: Tail::for_term(t.kind, &t.folded, whole_word),
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
        let mut cands = Vec::with_capacity(anchored.len());
        for (_, t) in &anchored {
            let off = u32::try_from(arena.len()).map_err(|e| LoadError::Build(e.to_string()))?;
            let len = u32::try_from(t.bytes.len()).map_err(|e| LoadError::Build(e.to_string()))?;
            arena.extend_from_slice(&t.bytes);
            let head_len = t.bytes.len().min(HEAD);
            cands.push(Candidate {
                head: load_head(&t.bytes),
                mask: u64::MAX >> (8 * (HEAD - head_len)),
                off,
                len,
            });
        }
        let mut keys: Vec<(u64, u32, u32)> = Vec::new();
        for (i, (k, _)) in anchored.iter().enumerate() {
            let i = u32::try_from(i).map_err(|e| LoadError::Build(e.to_string()))?;
            match keys.last_mut() {
                Some(last) if last.0 == *k => last.2 += 1,
                _ => keys.push((*k, i, 1)),
            }
        }
        // Leftmost-longest, not overlapping: it lets the search use the packed (SIMD) searcher,
        // and the lists avoid free-start terms that hide one another.
        let free = match packed::Config::new()
            .match_kind(packed::MatchKind::LeftmostLongest)
            .builder()
            .extend(&free_patterns)
            .build()
        {
            Some(searcher) => FreeSearch::Packed(searcher),
            None => FreeSearch::Automaton(
                AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostLongest)
                    .kind(Some(AhoCorasickKind::DFA))
                    .build(&free_patterns)
                    .map_err(|e| LoadError::Build(e.to_string()))?,
            ),
        };
        Ok(Matcher {
            arena,
            cands,
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
            morph: {
                morph
                    .finish()
                    .map_err(|e| LoadError::Build(e.to_string()))?;
                morph
            },
        })
    }

    /// The number of searchable patterns.
    pub fn pattern_count(&self) -> usize {
        self.cands.len() + self.free_info.len()
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
            match CLASS[usize::from(b)] {
                OTHER => {
                    i += 1;
                    continue;
                }
                HIGH => {
                    let (letter, len) = non_ascii(folded, bytes, i);
                    if !letter {
                        i += len;
                        continue;
                    }
                }
                _ => {}
            }
            // The word's first eight bytes, packed once for the lookups and the skip.
            let (word_start, hits_before) = (i, out.len());
            let rest = bytes.get(i..).unwrap_or(&[]);
            let head = load_head(rest);
            // Terms by the word's first two, three and four bytes: a bit test each, and the
            // candidates only when it passes (for about one word in three).
            for (k, set) in [&self.first2, &self.first3, &self.first4]
                .into_iter()
                .enumerate()
            {
                let len = k + 2;
                let prefix = (head as u32) & MASKS[len];
                if len <= rest.len() && set.contains(prefix, len) {
                    self.candidates(original, folded, i, head, len, out);
                }
            }
            // Skip the word, noting where runs of digits start (a digit after a non-digit).
            let mut w = head;
            loop {
                // Lower-case ASCII letters eight at a time (the folded text has no capitals).
                let run = ascii_lower_run(w);
                i += run;
                if run < HEAD {
                    match bytes.get(i).map(|b| CLASS[usize::from(*b)]) {
                        Some(LETTER) => i += 1,
                        Some(DIGIT) => {
                            if i == 0 || !bytes[i - 1].is_ascii_digit() {
                                digits.push(i);
                            }
                            i += 1;
                        }
                        Some(HIGH) => {
                            let (letter, len) = non_ascii(folded, bytes, i);
                            if !letter {
                                break;
                            }
                            i += len;
                        }
                        _ => break,
                    }
                }
                w = load_head(bytes.get(i..).unwrap_or(&[]));
            }
            // A long word no finding term matched (a cue or an organ may have): a compound
            // with a listed head, or a misspelling.
            let judged = |h: &Hit| h.kind.is_content() || h.kind == ListKind::Allow;
            if i - word_start >= 7 && !out.get(hits_before..).unwrap_or(&[]).iter().any(judged) {
                if let Some(kind) = bytes.get(word_start..i).and_then(|w| self.morph.word(w)) {
                    out.push(Hit {
                        kind,
                        start: word_start,
                        end: i,
                    });
                }
            }
        }
        if self.free_info.is_empty() {
            return;
        }
        match &self.free {
            FreeSearch::Packed(searcher) => {
                for m in searcher.find_iter(folded) {
                    if let Some(info) = self.free_info.get(m.pattern().as_usize()) {
                        self.accept(original, folded, m.start(), m.end(), info, out);
                    }
                }
            }
            FreeSearch::Automaton(automaton) => {
                for m in automaton.find_iter(folded) {
                    if let Some(info) = self.free_info.get(m.pattern().as_usize()) {
                        self.accept(original, folded, m.start(), m.end(), info, out);
                    }
                }
            }
        }
    }

    /// Compares the terms whose key is the first `n` bytes at the word start `i` (`head`
    /// holds the first eight bytes there, packed) and accepts those that match.
    #[inline(never)]
    fn candidates(
        &self,
        original: &str,
        folded: &str,
        i: usize,
        head: u64,
        n: usize,
        out: &mut Vec<Hit>,
    ) {
        let rest = folded.as_bytes().get(i..).unwrap_or(&[]);
        let Some((s, l)) = self.table.get(key_of((head as u32) & MASKS[n], n)) else {
            return;
        };
        for (k, c) in self.cands.iter().enumerate().skip(s).take(l) {
            // The first eight bytes in one comparison; the rest, if any, byte by byte (a
            // `memcmp` call costs more than these few bytes).
            let len = c.len as usize;
            if head & c.mask != c.head || len > rest.len() {
                continue;
            }
            if len > HEAD {
                let off = c.off as usize;
                let tail = self.arena.get(off + HEAD..off + len).unwrap_or(&[]);
                let text = rest.get(HEAD..len).unwrap_or(&[]);
                if !text.iter().zip(tail.iter()).all(|(a, b)| a == b) {
                    continue;
                }
            }
            if let Some(info) = self.infos.get(k) {
                self.accept(original, folded, i, i + len, info, out);
            }
        }
    }

    #[inline(always)]
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
        let mut end = end;
        if !info.free_end && is_word_char_at(folded, folded.as_bytes(), end) {
            // An inflected form or a compound, when the term's rule allows it.
            if info.tail == Tail::None {
                return;
            }
            let word_end = word_end(folded, end);
            let rest = folded.as_bytes().get(end..word_end).unwrap_or(&[]);
            let inflected = is_inflection(rest);
            if !inflected && info.tail != Tail::Compound {
                return;
            }
            if self
                .morph
                .is_ordinary(folded.as_bytes().get(start..word_end).unwrap_or(&[]))
            {
                return;
            }
            // The hit covers the inflected word; a general symptom keeps its own end, so that
            // the rules can tell "feberen" (someone's) from "feber" (a policy's).
            if inflected && info.kind != ListKind::HealthSoft {
                end = word_end;
            }
        }
        // An [allow] term with a free end covers the whole word ("matteprøve*" covers the
        // test cue "prøven" in "matteprøven").
        if info.kind == ListKind::Allow && info.free_end {
            end = word_end(folded, end);
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
            Some(c) => (is_alphanumeric(c), c.len_utf8()),
            None => (false, 1),
        },
        // A continuation byte (never reached from a character boundary).
        _ => (false, 1),
    }
}

/// How many of the packed bytes `w` (see [`load_head`]), from the first, are lower-case ASCII
/// letters: 0 to 8.
#[inline]
fn ascii_lower_run(w: u64) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
    // For a byte below 0x80, adding 0x1F sets its top bit when it is at least b'a', adding 0x05
    // when it is above b'z'. A byte of 0x80 or more is not a letter by its own top bit; the
    // carry it may pass on only disturbs later bytes, and only the first non-letter counts.
    let from_a = w.wrapping_add(0x1F * ONES);
    let past_z = w.wrapping_add(0x05 * ONES);
    let not_letter = (!from_a | past_z | w) & HIGH_BITS;
    (not_letter.trailing_zeros() / 8) as usize
}

/// Byte classes for the word scanner: ASCII letters, ASCII digits, other ASCII, and bytes of
/// non-ASCII characters (judged by [`non_ascii`]).
const LETTER: u8 = 0;
const DIGIT: u8 = 1;
const OTHER: u8 = 2;
const HIGH: u8 = 3;

/// The class of every byte.
const CLASS: [u8; 256] = {
    let mut t = [HIGH; 256];
    let mut i = 0;
    while i < 128 {
        let b = i as u8;
        t[i] = if b.is_ascii_alphabetic() {
            LETTER
        } else if b.is_ascii_digit() {
            DIGIT
        } else {
            OTHER
        };
        i += 1;
    }
    t
};

/// Whether the character before byte `pos` is a letter or digit.
#[inline]
pub fn is_word_char_before(s: &str, pos: usize) -> bool {
    s.get(..pos)
        .and_then(|p| p.chars().next_back())
        .is_some_and(is_alphanumeric)
}

/// [`char::is_alphanumeric`], with the ASCII and Latin-1 letters (æ, ø, å, é …) answered
/// without the Unicode tables: every character from U+00C0 to U+00FF is a letter except `×`
/// and `÷`.
#[inline]
fn is_alphanumeric(c: char) -> bool {
    match c {
        '\0'..='\u{7F}' => c.is_ascii_alphanumeric(),
        '×' | '÷' => false,
        '\u{C0}'..='\u{FF}' => true,
        _ => c.is_alphanumeric(),
    }
}

/// Whether the character at byte `pos` is a letter or digit. The ASCII case is inlined into
/// the callers' loops; other characters take a call.
#[inline(always)]
pub fn is_word_char_at(s: &str, bytes: &[u8], pos: usize) -> bool {
    match bytes.get(pos) {
        None => false,
        Some(b) if b.is_ascii() => b.is_ascii_alphanumeric(),
        Some(_) => is_word_char_non_ascii(s, pos),
    }
}

/// The end of the word (letters and digits) that continues at byte `pos`.
fn word_end(s: &str, mut pos: usize) -> usize {
    while let Some(c) = s.get(pos..).and_then(|r| r.chars().next()) {
        if !is_alphanumeric(c) {
            break;
        }
        pos += c.len_utf8();
    }
    pos
}

/// Whether the non-ASCII character at byte `pos` is a letter or digit.
#[inline(never)]
fn is_word_char_non_ascii(s: &str, pos: usize) -> bool {
    s.get(pos..)
        .and_then(|r| r.chars().next())
        .is_some_and(is_alphanumeric)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_words_and_letter_runs() {
        assert_eq!(load_head(b"ab"), u64::from(b'a') | u64::from(b'b') << 8);
        assert_eq!(load_head(b"abcdefghij"), u64::from_le_bytes(*b"abcdefgh"));
        assert_eq!(u64::from(pack(b"abc")), load_head(b"abc"));
        for (text, run) in [
            ("abcdefgh", 8),
            ("abc defg", 3),
            ("", 0),
            ("xyz", 3),
            ("a1", 1),
            ("på", 1),
            ("{`@[", 0),
            ("zzzzzzz\u{7f}", 7),
        ] {
            assert_eq!(ascii_lower_run(load_head(text.as_bytes())), run, "{text:?}");
        }
    }

    #[test]
    fn latin1_letters_are_alphanumeric_as_in_unicode() {
        for c in ('\0'..='\u{3FF}').chain(['ẞ', 'İ', '٣', '€']) {
            assert_eq!(is_alphanumeric(c), c.is_alphanumeric(), "{c:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn letter_runs_match_a_byte_loop(s in proptest::collection::vec(proptest::num::u8::ANY, 0..12)) {
            let naive = s.iter().take(HEAD).take_while(|b| b.is_ascii_lowercase()).count();
            proptest::prop_assert_eq!(ascii_lower_run(load_head(&s)), naive);
        }

        #[test]
        fn packed_and_automaton_free_search_agree(s in "[a-zæøå ]{0,60}") {
            let patterns = ["prøve", "prøven", "prøvene", "enhet", "enheten", "rom", "team",
                "teamet", "senter", "senteret", "klinikk", "psykiatri"];
            let packed = packed::Config::new()
                .match_kind(packed::MatchKind::LeftmostLongest)
                .builder()
                .extend(patterns)
                .build();
            let automaton = AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .kind(Some(AhoCorasickKind::DFA))
                .build(patterns);
            if let (Some(p), Ok(a)) = (packed, automaton) {
                let text = format!("{s} prøvenheten romteamet senterets {s}");
                let by_packed: Vec<_> = p.find_iter(&text).map(|m| (m.start(), m.end(), m.pattern().as_usize())).collect();
                let by_automaton: Vec<_> = a.find_iter(&text).map(|m| (m.start(), m.end(), m.pattern().as_usize())).collect();
                proptest::prop_assert_eq!(by_packed, by_automaton);
            }
        }
    }
}
