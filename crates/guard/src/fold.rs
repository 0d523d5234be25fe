//! Case folding that keeps byte offsets.
//!
//! The guard searches a folded copy of the message so that "DIABETES", "Diabetes" and
//! "diabetes", or "ØYE" and "øye", match the same term, and then reports spans in the original
//! text. To make that a plain copy of offsets, folding never changes a character's UTF-8
//! length: ASCII letters and the Norwegian letters Æ, Ø and Å (and other letters whose lower
//! case has the same length) are lowered; anything else is kept. Tabs and line breaks become
//! spaces, so a term written over a line break still matches.

/// Folds `text` into `out` (cleared first). `out` has the same length as `text` and every
/// character boundary of `text` is one of `out`.
///
/// Screening folds every message, so this is built for speed: one scan, eight bytes at a time,
/// finds the rare bytes that may need more than ASCII lowering (tabs and line breaks, capitals
/// outside ASCII); the text is copied in slices between the characters that change, and the
/// copy is lowered with the (vectorised) ASCII routine. Lower-case Norwegian letters ("på")
/// need nothing, so most messages are one copy.
pub fn fold_into(text: &str, out: &mut String) {
    out.clear();
    let mut copied = 0;
    for_rare_bytes(text.as_bytes(), |i| {
        if let Some((c, n)) = change_at(text, i) {
            out.push_str(text.get(copied..i).unwrap_or(""));
            out.push(c);
            copied = i + n;
        }
    });
    out.push_str(text.get(copied..).unwrap_or(""));
    out.make_ascii_lowercase();
}

/// Calls `f` with the position of every byte below 0x20 (tab, line break, other controls) or
/// above 0x7F (non-ASCII), in order, eight bytes at a time; it may also call it for a few
/// other positions (after such a byte in the same block), which `f` must ignore.
#[inline]
fn for_rare_bytes(b: &[u8], mut f: impl FnMut(usize)) {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let rare_in = |w: u64| (w | (w.wrapping_sub(0x20 * ONES) & !w)) & HIGH;
    let mut chunks = b.chunks_exact(8);
    let mut k = 0;
    for chunk in chunks.by_ref() {
        let Ok(a) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        // A byte >= 0x80 has its top bit set; a byte < 0x20 borrows when 0x20 is subtracted
        // (the classic "has a byte less than n" test: the borrow may also mark later bytes).
        let mut rare = rare_in(u64::from_le_bytes(a));
        while rare != 0 {
            f(k + (rare.trailing_zeros() / 8) as usize);
            rare &= rare - 1;
        }
        k += 8;
    }
    // The last few bytes, padded with spaces (which are not rare).
    let mut a = [b' '; 8];
    for (d, s) in a.iter_mut().zip(chunks.remainder()) {
        *d = *s;
    }
    let mut rare = rare_in(u64::from_le_bytes(a));
    while rare != 0 {
        f(k + (rare.trailing_zeros() / 8) as usize);
        rare &= rare - 1;
    }
}

/// What folding writes for the character at byte `i` beyond ASCII lowering, and that
/// character's length: a space for a tab or line break, the lower case of a non-ASCII capital
/// whose lower case has the same length. `None` for anything else.
#[inline]
fn change_at(text: &str, i: usize) -> Option<(char, usize)> {
    let b = text.as_bytes();
    match *b.get(i)? {
        b'\n' | b'\r' | b'\t' => Some((' ', 1)),
        // Other ASCII, and bytes inside a character.
        0..=0xBF => None,
        // Latin-1 capitals À..Þ (Æ, Ø, Å, É …) except ×: the lower case is 0x20 further on.
        0xC3 => match *b.get(i + 1)? {
            c @ 0x80..=0x9E if c != 0x97 => {
                char::from_u32(0xC0 + u32::from(c & 0x3F) + 0x20).map(|l| (l, 2))
            }
            _ => None,
        },
        // Other characters: the general rule.
        _ => {
            let c = text.get(i..)?.chars().next()?;
            same_length_lower(c).map(|l| (l, c.len_utf8()))
        }
    }
}

/// The lower case of a non-ASCII capital when it is one character of the same UTF-8 length.
fn same_length_lower(c: char) -> Option<char> {
    if c.is_ascii() || !c.is_uppercase() {
        return None;
    }
    let mut lower = c.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(l), None) if l.len_utf8() == c.len_utf8() => Some(l),
        _ => None,
    }
}

/// The character-by-character fold (the reference for [`fold_into`] in the tests).
#[cfg(test)]
fn fold_slow(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\n' | '\r' | '\t' => ' ',
            c if c.is_ascii() => c.to_ascii_lowercase(),
            c => same_length_lower(c).unwrap_or(c),
        })
        .collect()
}

/// Folds a string, allocating.
pub fn fold_str(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    fold_into(text, &mut s);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_norwegian_letters_and_keeps_length() {
        let s = "BLODSUKKERMÅLER Ærlig ØYE\nİ";
        let f = fold_str(s);
        assert_eq!(f.len(), s.len());
        assert!(f.starts_with("blodsukkermåler ærlig øye "));
        // The dotted capital I lowers to two characters: it is kept as it is.
        assert!(f.ends_with('İ'));
        assert_eq!(fold_str("ÆØÅ\tÉ"), "æøå é");
    }

    proptest::proptest! {
        #[test]
        fn folding_keeps_offsets(s in "\\PC{0,40}") {
            let f = fold_str(&s);
            proptest::prop_assert_eq!(&f, &fold_slow(&s));
            proptest::prop_assert_eq!(f.len(), s.len());
            for (i, _) in s.char_indices() {
                proptest::prop_assert!(f.is_char_boundary(i));
            }
        }

        /// Line breaks, tabs and capitals (in and beyond Latin-1, with and without a
        /// same-length lower case), spread over several eight-byte blocks.
        #[test]
        fn fast_fold_matches_the_character_fold(s in "[a-zA-Z0-9 .æøåÆØÅÉ×÷ÞßİẞΣДЯ\n\r\t\u{1}]{0,60}") {
            proptest::prop_assert_eq!(fold_str(&s), fold_slow(&s));
        }
    }
}
