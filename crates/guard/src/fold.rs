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
pub fn fold_into(text: &str, out: &mut String) {
    out.clear();
    out.push_str(text);
    out.make_ascii_lowercase();
    // Rare cases, fixed in place with same-length replacements: line breaks and tabs, and
    // capitals outside ASCII (Æ, Ø, Å, É …).
    let rare = text
        .bytes()
        .any(|b| matches!(b, b'\n' | b'\r' | b'\t') || b >= 0x80);
    if !rare {
        return;
    }
    let mut buf = [0u8; 4];
    for (i, c) in text.char_indices() {
        let n = c.len_utf8();
        let repl: Option<&str> = match c {
            '\n' | '\r' | '\t' => Some(" "),
            c if !c.is_ascii() && c.is_uppercase() => {
                let mut lower = c.to_lowercase();
                match (lower.next(), lower.next()) {
                    (Some(l), None) if l.len_utf8() == n => Some(l.encode_utf8(&mut buf)),
                    _ => None,
                }
            }
            _ => None,
        };
        if let Some(r) = repl {
            out.replace_range(i..i + n, r);
        }
    }
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
            proptest::prop_assert_eq!(f.len(), s.len());
            for (i, _) in s.char_indices() {
                proptest::prop_assert!(f.is_char_boundary(i));
            }
        }
    }
}
