//! Unicode normalisation before screening, with a map back to the original bytes (PC-CONF-1).
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

/// Whether `text` has a character that normalisation may change: anything but printable ASCII,
/// tabs and line breaks, and the Norwegian letters æ, ø and å (and × and ÷); or a word broken
/// with a hyphen at the end of a line ("dia-\nbetes", as text pasted from a PDF).
///
/// One pass over blocks of 32 bytes finds the blocks with a byte that may start such a character
/// (a control, a line break, or a non-ASCII lead byte), vectorised; only those are looked at
/// closely. Most messages are printable ASCII with æ, ø and å and end here.
#[inline]
pub fn needs_normalising(text: &str) -> bool {
    next_rare(text.as_bytes(), 0).is_some()
}

/// Whether byte `i` starts something normalisation changes (see [`needs_normalising`]).
#[inline]
fn rare_at(b: &[u8], i: usize) -> bool {
    match b.get(i) {
        // Latin-1 letters other than æ, ø and å (and ×, ÷) lose their accents.
        Some(0xC3) => !b.get(i + 1).is_some_and(|&n| norwegian(n)),
        Some(0xC2 | 0xC4..=0xFF | 0x7F) => true,
        Some(b'\n') => hyphenated_break(b, i).is_some(),
        Some(&c) => c < 0x20 && c != b'\t' && c != b'\r',
        None => false,
    }
}

/// For a line break at `i` that ends a line with a hyphen inside a word ("dia-\nbetes"), the
/// position of the hyphen. The word goes on in lower case on the next line.
fn hyphenated_break(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i.checked_sub(1)?;
    if b.get(j) == Some(&b'\r') {
        j = j.checked_sub(1)?;
    }
    // A hyphen, or a soft hyphen (U+00AD, two bytes).
    let hyphen = match b.get(j) {
        Some(b'-') => j,
        Some(0xAD) if j > 0 && b.get(j - 1) == Some(&0xC2) => j - 1,
        _ => return None,
    };
    let letter_before = b
        .get(hyphen.checked_sub(1)?)
        .is_some_and(|c| c.is_ascii_alphabetic() || *c >= 0x80);
    let lower_after = b
        .get(i + 1)
        .is_some_and(|c| c.is_ascii_lowercase() || *c >= 0xC3);
    (letter_before && lower_after).then_some(hyphen)
}

/// A normalised copy of a text and the map back to the original's bytes.
///
/// The copy is the original with some segments (a character and its combining marks)
/// replaced; between them the bytes are the same, shifted. Only the replaced segments are
/// recorded, so building the copy of a text with a few unusual characters costs little more
/// than copying it.
#[derive(Debug, Default)]
pub struct Normalized {
    /// The normalised text.
    pub text: String,
    /// The replaced segments, in order: `(copy start, copy end, original start, original end)`.
    segments: Vec<[u32; 4]>,
    /// The original text's length.
    len: u32,
    /// Scratch space for one segment.
    segment: String,
}

/// Whether `c` joins the character before it (a combining mark).
fn is_mark(c: char) -> bool {
    c >= '\u{300}' && (canonical_combining_class(c) != 0 || is_combining_mark(c))
}

/// The position of the next byte at or after `from` that starts something normalisation
/// changes (see [`needs_normalising`]).
fn next_rare(b: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    while at < b.len() {
        let end = (at + 32).min(b.len());
        // Blocks of 32 bytes without a byte that may start one are skipped, vectorised.
        let block = b.get(at..end).unwrap_or(&[]);
        // Each byte with the byte after it (for a Latin-1 letter: which one), in a fixed-size
        // loop the compiler vectorises.
        let flagged = match b
            .get(at..at + 33)
            .and_then(|w| <&[u8; 33]>::try_from(w).ok())
        {
            Some(w) => {
                let mut f = false;
                for i in 0..32 {
                    let (c, n) = (w[i], w[i + 1]);
                    f |= maybe_rare(c) | ((c == 0xC3) & !norwegian(n));
                }
                f
            }
            None => block.iter().any(|&c| maybe_rare(c) || c == 0xC3),
        };
        if flagged {
            // Within the block, only the bytes that may start one are looked at closely (in
            // Norwegian text, mostly the lead bytes of æ, ø and å).
            let found = (at..end)
                .filter(|&i| b.get(i).is_some_and(|&c| maybe_rare(c) || c == 0xC3))
                .find(|&i| rare_at(b, i));
            if let Some(i) = found {
                return Some(i);
            }
        }
        at = end;
    }
    None
}

/// Whether byte `c` may start something normalisation changes: a control or line break, or a
/// non-ASCII lead byte other than that of the Latin-1 letters' block (0xC3, judged with the
/// byte after it by [`norwegian`]).
#[inline]
fn maybe_rare(c: u8) -> bool {
    (c == 0xC2) | (c >= 0xC4) | ((c < 0x20) & (c != b'\t') & (c != b'\r')) | (c == 0x7F)
}

/// Whether `n`, after the lead byte 0xC3, makes æ, ø, å, Æ, Ø, Å, × or ÷ (kept as they are).
#[inline]
fn norwegian(n: u8) -> bool {
    (n == 0x85)
        | (n == 0x86)
        | (n == 0x98)
        | (n == 0xA5)
        | (n == 0xA6)
        | (n == 0xB8)
        | (n == 0x97)
        | (n == 0xB7)
}

impl Normalized {
    /// Normalises `original` into `self` (reusing the buffers).
    pub fn build(&mut self, original: &str) {
        self.build_with(original, true);
    }

    /// [`Normalized::build`]; `overrides` says whether right-to-left overrides are read in the
    /// order they display (not inside one: they do not nest here).
    fn build_with(&mut self, original: &str, overrides: bool) {
        self.text.clear();
        self.segments.clear();
        self.len = clamp(original.len());
        let b = original.as_bytes();
        // The start of the stretch not yet copied.
        let mut copied = 0;
        while let Some(p) = next_rare(b, copied) {
            // A word broken over two lines: the hyphen and the line break go.
            if let Some(h) = (b.get(p) == Some(&b'\n'))
                .then(|| hyphenated_break(b, p))
                .flatten()
            {
                let h = h.max(copied);
                self.text.push_str(original.get(copied..h).unwrap_or(""));
                let at = clamp(self.text.len());
                self.segments.push([at, at, clamp(h), clamp(p + 1)]);
                copied = p + 1;
                continue;
            }
            let Some(c) = original.get(p..).and_then(|r| r.chars().next()) else {
                break;
            };
            // A right-to-left override (U+202E) shows what follows, up to the pop (U+202C) or
            // the end of the line, in reverse: "\u{202E}setebaid\u{202C}" reads "diabetes".
            // The copy holds it as it reads and then as it is written; the whole override maps
            // to both.
            if c == '\u{202E}' && overrides {
                let inner_start = p + c.len_utf8();
                let rest = original.get(inner_start..).unwrap_or("");
                let inner_len = rest.find(['\u{202C}', '\n']).unwrap_or(rest.len());
                let pop = rest
                    .get(inner_len..)
                    .is_some_and(|r| r.starts_with('\u{202C}'));
                let end = inner_start + inner_len + if pop { '\u{202C}'.len_utf8() } else { 0 };
                let mut inner = Normalized::default();
                inner.build_with(rest.get(..inner_len).unwrap_or(""), false);
                self.text.push_str(original.get(copied..p).unwrap_or(""));
                let out_start = self.text.len();
                // Both as it displays and as it is written (a program that ignores the
                // override shows it as written).
                self.text.extend(inner.text.chars().rev());
                self.text.push(' ');
                self.text.push_str(&inner.text);
                self.segments.push([
                    clamp(out_start),
                    clamp(self.text.len()),
                    clamp(p),
                    clamp(end),
                ]);
                copied = end;
                continue;
            }
            // A mark composes with the character before it ("a" + ring above is "å").
            let mut start = p;
            if is_mark(c) {
                if let Some(prev) = original.get(copied..p).and_then(|r| r.chars().next_back()) {
                    start = p - prev.len_utf8();
                }
            }
            // The segment: the first character and the marks that follow it.
            let mut chars = original.get(start..).unwrap_or("").char_indices();
            let Some((_, first)) = chars.next() else {
                break;
            };
            let mut end = start + first.len_utf8();
            self.segment.clear();
            self.segment.push(first);
            for (i, m) in chars {
                if !is_mark(m) {
                    break;
                }
                if !is_ignorable(m) {
                    self.segment.push(m);
                }
                end = start + i + m.len_utf8();
            }
            self.text
                .push_str(original.get(copied..start).unwrap_or(""));
            let out_start = self.text.len();
            self.replace(first);
            self.segments.push([
                clamp(out_start),
                clamp(self.text.len()),
                clamp(start),
                clamp(end),
            ]);
            copied = end;
        }
        self.text.push_str(original.get(copied..).unwrap_or(""));
    }

    /// Writes the normalised form of the segment in `self.segment`, whose first character is
    /// `first`.
    fn replace(&mut self, first: char) {
        if is_ignorable(first) {
            // A stray mark after an ignorable character goes with it.
            return;
        }
        if let Some(r) = simple(first) {
            self.text.push(r);
            return;
        }
        // The compatibility decomposition: letters apart from their accents, which are
        // dropped ("é" and "e" + acute are "e"), except the ring that makes "a" "å".
        let segment = std::mem::take(&mut self.segment);
        let mut last = None;
        for n in segment.nfkd() {
            if n == '\u{30A}' && matches!(last, Some('a' | 'A')) {
                self.text.pop();
                let ring = if last == Some('a') { 'å' } else { 'Å' };
                self.text.push(ring);
                last = Some(ring);
                continue;
            }
            if is_combining_mark(n) || is_ignorable(n) {
                continue;
            }
            // The decomposition may produce characters that need the simple mapping too (a
            // compatibility space or dash).
            let n = simple(n).or_else(|| ascii_digit(n)).unwrap_or(n);
            let n = confusable(n).unwrap_or(n);
            self.text.push(n);
            last = Some(n);
        }
        self.segment = segment;
    }

    /// Where byte `i` of the copy came from: the original segment holding it, or (between
    /// segments) the shifted position.
    fn locate(&self, i: usize) -> Result<(usize, usize), usize> {
        let i32 = clamp(i);
        let k = self.segments.partition_point(|s| s[0] <= i32);
        match k.checked_sub(1).and_then(|k| self.segments.get(k)) {
            Some(&[s, e, os, oe]) if i32 < e && s < e => Ok((os as usize, oe as usize)),
            Some(&[_, e, _, oe]) => Err(i - e as usize + oe as usize),
            None => Err(i),
        }
    }

    /// The span of the original text that the copy's bytes `start..end` came from; `start`
    /// and `end` are on character boundaries of the copy (as every finding is).
    pub fn span(&self, start: usize, end: usize) -> (usize, usize) {
        let len = self.len as usize;
        let from = match self.locate(start) {
            Ok((s, _)) => s,
            Err(p) => p,
        };
        if start >= end {
            return (from.min(len), from.min(len));
        }
        let to = match self.locate(end - 1) {
            Ok((_, e)) => e,
            Err(p) => p + 1,
        };
        (from.min(len), to.min(len).max(from.min(len)))
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
        // Controls other than tab, line feed, carriage return and next line.
        '\u{0}'..='\u{8}' | '\u{B}' | '\u{C}' | '\u{E}'..='\u{1F}' | '\u{7F}'..='\u{84}'
        | '\u{86}'..='\u{9F}'
        // Other format characters: Arabic and Syriac number signs, interlinear annotation,
        // Egyptian hieroglyph format controls.
        | '\u{600}'..='\u{605}' | '\u{6DD}' | '\u{70F}' | '\u{8E2}' | '\u{FFF9}'..='\u{FFFB}'
        | '\u{110BD}' | '\u{110CD}' | '\u{13430}'..='\u{1343F}' |
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
        | '\u{FF0D}'
        | '\u{58A}'
        | '\u{1806}'
        | '\u{2E17}'
        | '\u{2E1A}'
        | '\u{2E40}'
        | '\u{301C}'
        | '\u{30A0}'
        | '\u{30FB}'
        | '\u{FE31}'
        | '\u{FE32}' => Some('-'),
        _ => None,
    }
}

/// The zeros of the decimal digit sets (Unicode `Nd`) of the Basic Multilingual Plane other than
/// ASCII and the full-width digits (which NFKC maps): Arabic-Indic, Devanagari, Bengali, Thai,
/// Myanmar and the rest. Each set is ten consecutive code points.
const DIGIT_ZEROS: [u32; 34] = [
    0x0660, 0x06F0, 0x07C0, 0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0B66, 0x0BE6, 0x0C66, 0x0CE6, 0x0D66,
    0x0DE6, 0x0E50, 0x0ED0, 0x0F20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90,
    0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50,
];

/// The ASCII digit a decimal digit of another script stands for, so that a national ID written
/// in Arabic-Indic digits is still one.
fn ascii_digit(c: char) -> Option<char> {
    let v = u32::from(c);
    if v < 0x0660 {
        return None;
    }
    DIGIT_ZEROS
        .iter()
        .chain(&[0xABF0])
        .find(|&&z| (z..z + 10).contains(&v))
        .and_then(|z| char::from_digit(v - z, 10))
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
        'η' => 'n',
        'ω' => 'w',
        'γ' => 'y',
        // More Cyrillic small letters that pass for Latin ones in print.
        'к' => 'k',
        'г' => 'r',
        'т' => 't',
        'м' => 'm',
        'п' => 'n',
        'и' => 'u',
        'н' => 'h',
        'в' => 'b',
        'ь' | 'Ь' => 'b',
        'ү' => 'y',
        // Latin letters from other alphabets (IPA, small capitals, dotless i).
        'ı' | 'ɪ' | 'ɩ' => 'i',
        'ȷ' => 'j',
        'ɑ' | 'ᴀ' => 'a',
        'ɡ' => 'g',
        'ʙ' => 'b',
        'ᴄ' => 'c',
        'ᴅ' => 'd',
        'ᴇ' => 'e',
        'ʜ' => 'h',
        'ᴋ' => 'k',
        'ʟ' => 'l',
        'ᴍ' => 'm',
        'ɴ' | 'ŋ' => 'n',
        'ᴏ' => 'o',
        'ᴘ' => 'p',
        'ʀ' | 'ɾ' => 'r',
        'ꜱ' => 's',
        'ᴛ' => 't',
        'ᴜ' => 'u',
        'ᴠ' => 'v',
        'ᴡ' => 'w',
        'ᴢ' => 'z',
        // Armenian letters that look like Latin ones.
        'ո' => 'n',
        'ս' => 'u',
        'օ' => 'o',
        'հ' => 'h',
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
        assert!(!needs_normalising(
            "Hei på deg, Ærlig Øystein! Kafe 12:30.\nHilsen oss - alle"
        ));
        // Accented letters, controls and words broken over lines are normalised.
        for s in ["Kafé", "a\u{1}b", "dia-\nbetes", "dia-\r\nbetes"] {
            assert!(needs_normalising(s), "{s:?}");
        }
        assert_eq!(
            norm("Kafé dïäbëtës pa\u{30A} ÅSE").text,
            "Kafe diabetes på ÅSE"
        );
        assert_eq!(
            norm("Om dia-\nbetes og\nHIV-\nPoliklinikken").text,
            "Om diabetes og\nHIV-\nPoliklinikken"
        );
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
        // A right-to-left override reads as it displays.
        let s = "Du har \u{202E}setebaid\u{202C}.";
        let n = norm(s);
        assert_eq!(n.text, "Du har diabetes setebaid.");
        let p = n.text.find("diabetes").unwrap_or(0);
        assert_eq!(n.span(p, p + 8), (7, s.len() - 1));
        // Digits of other scripts are read as ASCII digits.
        assert_eq!(
            norm("\u{661}\u{662} \u{967}\u{968} \u{E51}").text,
            "12 12 1"
        );
    }

    /// The copy's span between the character boundaries at or before `a` and `b` maps to a span
    /// of `s` on its character boundaries.
    fn spans_on_boundaries(
        s: &str,
        a: usize,
        b: usize,
    ) -> Result<(), proptest::test_runner::TestCaseError> {
        let n = norm(s);
        let snap = |mut i: usize| {
            i = i.min(n.text.len());
            while !n.text.is_char_boundary(i) {
                i -= 1;
            }
            i
        };
        let (a, b) = (snap(a), snap(b));
        let (x, y) = n.span(a.min(b), a.max(b));
        proptest::prop_assert!(x <= y && y <= s.len());
        proptest::prop_assert!(s.is_char_boundary(x) && s.is_char_boundary(y));
        Ok(())
    }

    proptest::proptest! {
        /// Every span of the copy on its character boundaries maps to a span of the original
        /// on character boundaries.
        #[test]
        fn spans_map_to_boundaries(s in "\\PC{0,30}", a in 0usize..80, b in 0usize..80) {
            spans_on_boundaries(&s, a, b)?;
        }

        /// Format characters, overrides, marks and broken lines in any order: spans still map
        /// to character boundaries of the original.
        #[test]
        fn format_characters_keep_spans_on_boundaries(s in "[a\u{E9}\u{301}\u{30A}\u{AD}\u{202E}\u{202C}\u{202B}\u{200B}\u{661}\n -]{0,40}", a in 0usize..120, b in 0usize..120) {
            spans_on_boundaries(&s, a, b)?;
        }

        /// Letters between replaced characters map back to the same letters.
        #[test]
        fn unchanged_letters_map_to_themselves(parts in proptest::collection::vec(("[a-zæøå]{0,6}", 0usize..6), 0..8)) {
            let rare = ["\u{A0}", "\u{AD}", "\u{200B}", "\u{2013}", "\u{202F}", ""];
            let s: String = parts.iter().map(|(w, r)| format!("{w}{}", rare[*r])).collect();
            let n = norm(&s);
            for (i, c) in n.text.char_indices() {
                if c.is_alphabetic() {
                    let (x, y) = n.span(i, i + c.len_utf8());
                    let want = c.to_string();
                    proptest::prop_assert_eq!(&s[x..y], want.as_str());
                }
            }
        }

        /// Text that needs no normalising is left as it is.
        #[test]
        fn plain_text_is_unchanged(s in "[a-zA-Z0-9 .,:æøåÆØÅ\n-]{0,40}") {
            proptest::prop_assume!(!s.contains("-\n"));
            proptest::prop_assert!(!needs_normalising(&s));
            proptest::prop_assert_eq!(norm(&s).text, s);
        }
    }
}
