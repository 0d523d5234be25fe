//! Unicode normalisation before screening, with a map back to the original bytes.
//!
//! Text arrives from Word, an EPJ or a phone with characters that look like ordinary ones but are
//! not: no-break and narrow no-break spaces, en dashes and non-breaking hyphens inside national
//! IDs, full-width digits, soft hyphens and zero-width characters inside words ("dia\u{AD}betes",
//! "H\u{200B}IV"), letters and combining marks composed or not ("a\u{30A}" for "å"), and Cyrillic
//! or Greek letters that look like Latin ones. The guard screens a normalised copy in which
//!
//! - default-ignorable code points (soft hyphen, zero-width characters, bidi controls, variation
//!   selectors, tags) are removed;
//! - every Unicode space becomes `' '` and the line and paragraph separators `'\n'`;
//! - every Unicode dash and hyphen (en, em, figure, non-breaking, minus) becomes `'-'`;
//! - each character with its combining marks is put in NFKC (full-width and mathematical letters
//!   and digits become ASCII, ligatures are split, "a\u{30A}" becomes "å"), and marks that compose
//!   with nothing are dropped;
//! - Cyrillic and Greek letters that look like Latin ones become the Latin letter (the UTS #39
//!   confusables that matter for Norwegian words).
//!
//! [`Normalized::span`] maps a byte span of the copy back to the original text, so findings
//! point at what the sender wrote. Most messages are ASCII with æ, ø and å (and other Latin-1
//! letters): [`needs_normalising`] says so in one vectorisable pass and the copy is skipped.

use unicode_normalization::char::{canonical_combining_class, is_combining_mark};
use unicode_normalization::UnicodeNormalization;

/// Whether `text` has a character that normalisation may change. ASCII and the Latin-1 letters
/// (lead byte `0xC3`: æ, ø, å, é …) never change; everything else (lead byte `0xC2`, which holds
/// the no-break space and the soft hyphen, or `0xC4` and above) may.
#[inline]
pub fn needs_normalising(text: &str) -> bool {
    let b = text.as_bytes();
    let mut chunks = b.chunks_exact(32);
    for chunk in chunks.by_ref() {
        // No early exit inside the block, so the compiler can use vector compares.
        let hit = chunk
            .iter()
            .fold(false, |acc, &c| acc | (c == 0xC2) | (c >= 0xC4));
        if hit {
            return true;
        }
    }
    chunks.remainder().iter().any(|&c| c == 0xC2 || c >= 0xC4)
}

/// A normalised copy of a text and, for each of its bytes, the original bytes it came from.
#[derive(Debug, Default)]
pub struct Normalized {
    /// The normalised text.
    pub text: String,
    /// For each byte of `text`: the start of the original character (with its marks).
    from: Vec<u32>,
    /// For each byte of `text`: the end of the original character (with its marks).
    to: Vec<u32>,
    /// The original text's length.
    len: u32,
}

impl Normalized {
    /// Normalises `original` into `self` (reusing the buffers).
    pub fn build(&mut self, original: &str) {
        self.text.clear();
        self.from.clear();
        self.to.clear();
        self.len = clamp(original.len());
        let mut chars = original.char_indices().peekable();
        let mut segment = String::new();
        while let Some((start, c)) = chars.next() {
            // ASCII and the Latin-1 letters are stable under NFKC; unless a combining mark
            // follows (every mark is at U+0300 or above), they are copied.
            let plain = c.is_ascii() || ('\u{C0}'..='\u{FF}').contains(&c);
            if plain && chars.peek().is_none_or(|&(_, n)| n < '\u{300}') {
                self.push(c, clamp(start), clamp(start + c.len_utf8()));
                continue;
            }
            // The character and the combining marks that follow it.
            let mut end = start + c.len_utf8();
            segment.clear();
            segment.push(c);
            while let Some(&(i, m)) = chars.peek() {
                if canonical_combining_class(m) == 0 && !is_combining_mark(m) {
                    break;
                }
                if !is_ignorable(m) {
                    segment.push(m);
                }
                end = i + m.len_utf8();
                chars.next();
            }
            let (s, e) = (clamp(start), clamp(end));
            if is_ignorable(c) {
                // A stray mark after an ignorable character goes with it.
                continue;
            }
            if let Some(r) = simple(c) {
                self.push(r, s, e);
                continue;
            }
            for n in segment.nfkc() {
                if is_combining_mark(n) || is_ignorable(n) {
                    continue;
                }
                // NFKC may produce characters that need the simple mapping too (a compatibility
                // space or dash).
                let n = simple(n).unwrap_or(n);
                self.push(confusable(n).unwrap_or(n), s, e);
            }
        }
    }

    fn push(&mut self, c: char, s: u32, e: u32) {
        self.text.push(c);
        for _ in 0..c.len_utf8() {
            self.from.push(s);
            self.to.push(e);
        }
    }

    /// The span of the original text that the copy's bytes `start..end` came from.
    pub fn span(&self, start: usize, end: usize) -> (usize, usize) {
        let at = |v: &[u32], i: usize| v.get(i).map_or(self.len, |x| *x) as usize;
        if start >= end {
            let p = at(&self.from, start);
            return (p, p);
        }
        (at(&self.from, start), at(&self.to, end - 1))
    }
}

/// The normalised form of a short text (a term, a sender name), allocating only when it
/// changes.
pub fn normalise_str(text: &str) -> std::borrow::Cow<'_, str> {
    if !needs_normalising(text) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut n = Normalized::default();
    n.build(text);
    std::borrow::Cow::Owned(n.text)
}

fn clamp(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

/// Default-ignorable code points (Unicode `Default_Ignorable_Code_Point`): invisible, so a
/// sender or a program may put them anywhere in a word.
fn is_ignorable(c: char) -> bool {
    matches!(c,
        '\u{AD}' | '\u{34F}' | '\u{61C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
        | '\u{FFA0}' | '\u{FFF0}'..='\u{FFF8}' | '\u{1BCA0}'..='\u{1BCA3}'
        | '\u{1D173}'..='\u{1D17A}' | '\u{E0000}'..='\u{E0FFF}')
}

/// Spaces, line separators and dashes: the separator classes the rules know.
fn simple(c: char) -> Option<char> {
    match c {
        '\u{A0}' | '\u{1680}' | '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}' => {
            Some(' ')
        }
        '\u{85}' | '\u{2028}' | '\u{2029}' => Some('\n'),
        '\u{2010}'..='\u{2015}'
        | '\u{2043}'
        | '\u{2212}'
        | '\u{2E3A}'
        | '\u{2E3B}'
        | '\u{FE58}'
        | '\u{FE63}'
        | '\u{FF0D}' => Some('-'),
        _ => None,
    }
}

/// The Latin letter a Cyrillic or Greek letter is confusable with (UTS #39 `confusables.txt`,
/// the single-letter entries between these scripts and Latin).
fn confusable(c: char) -> Option<char> {
    let l = match c {
        // Cyrillic capitals.
        'А' => 'A',
        'В' => 'B',
        'Е' | 'Ё' => 'E',
        'К' => 'K',
        'М' => 'M',
        'Н' => 'H',
        'О' => 'O',
        'Р' => 'P',
        'С' => 'C',
        'Т' => 'T',
        'Х' => 'X',
        'У' => 'Y',
        'І' => 'I',
        'Ј' => 'J',
        'Ѕ' => 'S',
        'Ԁ' => 'D',
        'Ԛ' => 'Q',
        'Ԝ' => 'W',
        // Cyrillic small letters.
        'а' => 'a',
        'е' | 'ё' => 'e',
        'о' => 'o',
        'р' => 'p',
        'с' => 'c',
        'у' => 'y',
        'х' => 'x',
        'і' => 'i',
        'ј' => 'j',
        'ѕ' => 's',
        'ԁ' => 'd',
        'һ' => 'h',
        'ԛ' => 'q',
        'ԝ' => 'w',
        'ӏ' => 'l',
        'ѵ' => 'v',
        // Greek capitals.
        'Α' => 'A',
        'Β' => 'B',
        'Ε' => 'E',
        'Ζ' => 'Z',
        'Η' => 'H',
        'Ι' => 'I',
        'Κ' => 'K',
        'Μ' => 'M',
        'Ν' => 'N',
        'Ο' => 'O',
        'Ρ' => 'P',
        'Τ' => 'T',
        'Υ' => 'Y',
        'Χ' => 'X',
        // Greek small letters (μ stays: it is the micro sign after NFKC, as in "μg").
        'α' => 'a',
        'ε' => 'e',
        'ι' => 'i',
        'κ' => 'k',
        'ν' => 'v',
        'ο' => 'o',
        'ρ' => 'p',
        'τ' => 't',
        'υ' => 'u',
        'χ' => 'x',
        'ϲ' => 'c',
        'ϳ' => 'j',
        _ => return None,
    };
    Some(l)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> Normalized {
        let mut n = Normalized::default();
        n.build(s);
        n
    }

    #[test]
    fn the_fast_path_sees_every_changing_character() {
        assert!(!needs_normalising("Hei på deg, Ærlig Øystein! Kafé 12:30."));
        for s in [
            "dia\u{AD}betes",
            "H\u{200B}IV",
            "010180\u{A0}12345",
            "０１０",
            "a\u{30A}",
            "Н",
        ] {
            assert!(needs_normalising(s), "{s:?}");
            // Also far into a long text (the vectorised blocks).
            assert!(needs_normalising(&format!("{}{s}", "x".repeat(70))));
        }
    }

    #[test]
    fn normalises_and_maps_back() {
        let s = "Om dia\u{AD}betes: H\u{200B}IV, ０１0180\u{2011}12345 pa\u{30A} Нei";
        let n = norm(s);
        assert_eq!(n.text, "Om diabetes: HIV, 010180-12345 på Hei");
        let at = |needle: &str| {
            let p = n.text.find(needle).unwrap_or(usize::MAX);
            let (a, b) = n.span(p, p + needle.len());
            &s[a..b]
        };
        assert_eq!(at("diabetes"), "dia\u{AD}betes");
        assert_eq!(at("HIV"), "H\u{200B}IV");
        assert_eq!(at("010180-12345"), "０１0180\u{2011}12345");
        assert_eq!(at("på"), "pa\u{30A}");
        assert_eq!(at("Hei"), "Нei");
        assert_eq!(n.span(n.text.len(), n.text.len()), (s.len(), s.len()));
    }

    proptest::proptest! {
        /// Every span of the copy maps to a span of the original on character boundaries.
        #[test]
        fn spans_map_to_boundaries(s in "\\PC{0,30}", a in 0usize..80, b in 0usize..80) {
            let n = norm(&s);
            let (a, b) = (a.min(n.text.len()), b.min(n.text.len()));
            let (x, y) = n.span(a.min(b), a.max(b));
            proptest::prop_assert!(x <= y && y <= s.len());
            proptest::prop_assert!(s.is_char_boundary(x) && s.is_char_boundary(y));
        }

        /// Text that needs no normalising is left as it is.
        #[test]
        fn plain_text_is_unchanged(s in "[a-zA-Z0-9 .,:æøåÆØÅé\n-]{0,40}") {
            proptest::prop_assert!(!needs_normalising(&s));
            proptest::prop_assert_eq!(norm(&s).text, s);
        }
    }
}
