//! National identity numbers in message text, including the control-digit rule from 2032.
//!
//! An 11-digit run (or six digits, one space or hyphen, five digits) is a national identity
//! number when its date part is valid, with the D-number (day + 40), H-number (month + 40) and
//! synthetic (month + 80) offsets of [`trygg_core::national_id::date_kind`], and its control
//! digits pass either rule:
//!
//! - **today's rule** ([`trygg_core::national_id::control_digits_valid`]): with the weights
//!   3 7 6 1 8 9 4 5 2 (and 1 for k1 itself) the weighted sum of digits 1–10 is 0 mod 11, and with
//!   5 4 3 2 7 6 5 4 3 2 (and 1 for k2) the weighted sum of all eleven digits is 0 mod 11;
//! - **the 2032 rule** (Skatteetaten, "Nytt fødselsnummer fra 2032", numbers issued from
//!   1 January 2032): k1 may be any digit for which the first weighted sum is 0, 1, 2 or 3 mod 11
//!   (`k1 = {11,12,13,14} − (sum mod 11)`, still rejected when it would be 10); k2 is computed as
//!   today over digits 1–10.
//!
//! **Decision.** The guard treats a number that passes the 2032 rule exactly like one that
//! passes today's rule (`national-id`: block in e-mail, review in SMS): from 2032 such numbers
//! are real identity numbers, and a message written today may be sent then. A run that passes
//! neither rule is *not* flagged, even when its date part is valid: the corpus labels order,
//! KID, customer and account numbers that fail the check `allow`, and flagging every date-shaped
//! run would flag over a fifth of ordinary reference numbers. The cost of the wider rule is
//! small: about one random 11-digit number in 140 passes it (one in 570 passes today's rule), so
//! a reference number is rarely mistaken for an identity number. Requirements: PC-CONF-1, guide risk scenario 9.

use trygg_core::national_id::{control_digits_valid, date_kind};

const K1_WEIGHTS: [u32; 10] = [3, 7, 6, 1, 8, 9, 4, 5, 2, 1];
const K2_WEIGHTS: [u32; 11] = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2, 1];

/// Whether both control digits pass the rule that applies from 2032: the first weighted sum
/// (including k1) is 0–3 mod 11 and the second (including k2) is 0 mod 11.
pub fn control_digits_valid_2032(digits: &[u8; 11]) -> bool {
    let s1: u32 = digits
        .iter()
        .zip(K1_WEIGHTS)
        .map(|(d, w)| u32::from(*d) * w)
        .sum();
    let s2: u32 = digits
        .iter()
        .zip(K2_WEIGHTS)
        .map(|(d, w)| u32::from(*d) * w)
        .sum();
    matches!((s1 % 11, s2 % 11), (0..=3, 0))
}

/// Whether eleven digits are a national identity number under today's rule or the 2032 rule
/// (see the module documentation).
pub fn is_national_id(digits: &[u8; 11]) -> bool {
    date_kind(digits).is_some()
        && (control_digits_valid(digits) || control_digits_valid_2032(digits))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> [u8; 11] {
        let mut a = [0u8; 11];
        for (i, b) in s.bytes().enumerate() {
            a[i] = b - b'0';
        }
        a
    }

    #[test]
    fn skatteetaten_2032_examples() {
        // The published examples: person 1 and 2 born 30.10.1982 get numbers in 2032.
        assert!(control_digits_valid_2032(&d("30108299920")));
        assert!(control_digits_valid_2032(&d("30108299939")));
        // The second one fails today's rule but is a national id under the 2032 rule.
        assert!(!control_digits_valid(&d("30108299939")));
        assert!(is_national_id(&d("30108299939")));
        assert!(is_national_id(&d("02013299997")));
    }

    #[test]
    fn todays_valid_numbers_pass_the_2032_rule_too() {
        for s in ["12838912395", "05919240107", "63877522077", "17868107499"] {
            assert!(control_digits_valid(&d(s)), "{s}");
            assert!(control_digits_valid_2032(&d(s)), "{s}");
            assert!(is_national_id(&d(s)), "{s}");
        }
    }

    #[test]
    fn corpus_reference_numbers_are_not_ids() {
        for s in [
            "48210937561",
            "20250212047",
            "90817263541",
            "04182025113",
            "10293847566",
            "50617283940",
        ] {
            assert!(!is_national_id(&d(s)), "{s}");
        }
    }

    #[test]
    fn wrong_k2_fails_both_rules() {
        let mut n = d("12838912395");
        n[10] = (n[10] + 1) % 10;
        assert!(!control_digits_valid(&n));
        assert!(!control_digits_valid_2032(&n));
    }
}
