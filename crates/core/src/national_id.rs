//! Norwegian national identity numbers: fødselsnummer, D-number, H-number and synthetic
//! (Tenor-style) test numbers.
//!
//! A number is 11 digits: a date of birth `DDMMYY`, a three-digit individual number and two
//! control digits. The rules checked here are those of the Norwegian population register:
//! - D-numbers add 4 to the first digit of the day (day + 40);
//! - H-numbers (assigned by health services) add 4 to the first digit of the month (month + 40);
//! - synthetic test numbers (Tenor, NAV's "syntetiske") add 8 to the first digit of the month
//!   (month + 80), and D-number test numbers combine that with day + 40;
//! - control digit k1 uses the weights 3 7 6 1 8 9 4 5 2 over digits 1–9, k2 the weights
//!   5 4 3 2 7 6 5 4 3 2 over digits 1–10; `k = 11 − (sum mod 11)`, 11 becomes 0 and 10 makes the
//!   number invalid.
//!
//! The value is personal data: [`NationalId`] has no `Display`, and its `Debug`
//! never prints the number.

use std::fmt;

/// Weights for the first control digit, over digits 1–9.
const K1_WEIGHTS: [u32; 9] = [3, 7, 6, 1, 8, 9, 4, 5, 2];
/// Weights for the second control digit, over digits 1–10.
const K2_WEIGHTS: [u32; 10] = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2];

/// Which kind of number a valid national identity number is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NationalIdKind {
    /// An ordinary fødselsnummer.
    Fodselsnummer,
    /// A D-number (day + 40), for people not resident in Norway.
    DNumber,
    /// An H-number (month + 40), a help number assigned by a health service.
    HNumber,
    /// A synthetic test number (month + 80), never a real person's.
    Synthetic,
    /// A synthetic test D-number (month + 80 and day + 40).
    SyntheticDNumber,
}

/// Why a string is not a valid national identity number. The messages never repeat the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NationalIdError {
    /// Not eleven digits (spaces are allowed only as one separator after the sixth digit).
    #[error("a national identity number has 11 digits")]
    Length,
    /// A character other than a digit.
    #[error("a national identity number has only digits")]
    NotDigits,
    /// The date part is not a possible date, even with the D-, H- and synthetic offsets.
    #[error("the date part of the national identity number is not a valid date")]
    Date,
    /// One of the two control digits is wrong.
    #[error("a control digit of the national identity number is wrong")]
    ControlDigit,
}

/// A national identity number whose date part and both control digits are valid.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct NationalId {
    digits: [u8; 11],
    kind: NationalIdKind,
}

impl NationalId {
    /// Parses and checks a number. Accepts `DDMMYYNNNCC` and `DDMMYY NNNCC`.
    pub fn parse(input: &str) -> Result<Self, NationalIdError> {
        let trimmed = input.trim();
        let mut digits = [0u8; 11];
        let mut n = 0usize;
        for (i, c) in trimmed.chars().enumerate() {
            if c == ' ' && i == 6 && n == 6 {
                continue;
            }
            let d = c.to_digit(10).ok_or(if c.is_ascii_digit() || c == ' ' {
                NationalIdError::Length
            } else {
                NationalIdError::NotDigits
            })?;
            if n == 11 {
                return Err(NationalIdError::Length);
            }
            digits[n] = d as u8;
            n += 1;
        }
        if n != 11 {
            return Err(NationalIdError::Length);
        }
        Self::from_digits(digits)
    }

    /// Checks eleven digits.
    pub fn from_digits(digits: [u8; 11]) -> Result<Self, NationalIdError> {
        let kind = date_kind(&digits).ok_or(NationalIdError::Date)?;
        if !control_digits_valid(&digits) {
            return Err(NationalIdError::ControlDigit);
        }
        Ok(Self { digits, kind })
    }

    /// A synthetic test number (month + 80) for the given birth date, with the first individual
    /// number from `individual_from` upward that gives valid control digits. For demo data and
    /// tests: such numbers are never a real person's.
    pub fn synthetic(day: u8, month: u8, yy: u8, individual_from: u16) -> Option<Self> {
        if !(1..=12).contains(&month) || yy > 99 {
            return None;
        }
        (individual_from..1000).find_map(|ind| {
            let nine = [
                day / 10,
                day % 10,
                (month + 80) / 10,
                month % 10,
                yy / 10,
                yy % 10,
                (ind / 100) as u8,
                (ind / 10 % 10) as u8,
                (ind % 10) as u8,
            ];
            let k1 = control_digit(&nine, &K1_WEIGHTS)?;
            let mut ten = [0u8; 10];
            ten[..9].copy_from_slice(&nine);
            ten[9] = k1;
            let k2 = control_digit(&ten, &K2_WEIGHTS)?;
            let mut all = [0u8; 11];
            all[..10].copy_from_slice(&ten);
            all[10] = k2;
            Self::from_digits(all).ok()
        })
    }

    /// The kind of number.
    pub fn kind(&self) -> NationalIdKind {
        self.kind
    }

    /// The eleven digits as a string, for sealing or hashing. Handle it as personal data.
    pub fn expose(&self) -> String {
        self.digits.iter().map(|d| char::from(b'0' + d)).collect()
    }

    /// A redacted form for display to personnel: the birth date part and `*****`.
    pub fn redacted(&self) -> String {
        let s = self.expose();
        format!("{}*****", &s[..6])
    }
}

impl fmt::Debug for NationalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NationalId({:?}, ***********)", self.kind)
    }
}

/// Whether both control digits of an 11-digit number are right.
pub fn control_digits_valid(digits: &[u8; 11]) -> bool {
    let k1 = control_digit(&digits[..9], &K1_WEIGHTS);
    let k2 = control_digit(&digits[..10], &K2_WEIGHTS);
    k1 == Some(digits[9]) && k2 == Some(digits[10])
}

fn control_digit(digits: &[u8], weights: &[u32]) -> Option<u8> {
    let sum: u32 = digits
        .iter()
        .zip(weights)
        .map(|(d, w)| u32::from(*d) * w)
        .sum();
    match 11 - (sum % 11) {
        11 => Some(0),
        10 => None,
        k => Some(k as u8),
    }
}

/// The kind implied by the date part, or `None` when no offset makes it a date.
///
/// The century is not known from six digits, so 29 February is accepted for every `YY` that is a
/// leap year in one of the centuries the individual number allows; checking it exactly would reject
/// no realistic number and complicate the rule.
pub fn date_kind(digits: &[u8; 11]) -> Option<NationalIdKind> {
    let mut day = u32::from(digits[0]) * 10 + u32::from(digits[1]);
    let mut month = u32::from(digits[2]) * 10 + u32::from(digits[3]);
    let year = u32::from(digits[4]) * 10 + u32::from(digits[5]);
    let d_number = day > 40;
    if d_number {
        day -= 40;
    }
    let kind = match month {
        1..=12 => {
            if d_number {
                NationalIdKind::DNumber
            } else {
                NationalIdKind::Fodselsnummer
            }
        }
        41..=52 if !d_number => {
            month -= 40;
            NationalIdKind::HNumber
        }
        81..=92 => {
            month -= 80;
            if d_number {
                NationalIdKind::SyntheticDNumber
            } else {
                NationalIdKind::Synthetic
            }
        }
        _ => return None,
    };
    let max_day = match month {
        2 => {
            if year % 4 == 0 {
                29
            } else {
                28
            }
        }
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    (1..=max_day).contains(&day).then_some(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Completes nine digits with both control digits, if the number can have them.
    fn complete(nine: &str) -> Option<String> {
        let mut d: Vec<u8> = nine.bytes().map(|b| b - b'0').collect();
        let k1 = control_digit(&d, &K1_WEIGHTS)?;
        d.push(k1);
        let k2 = control_digit(&d, &K2_WEIGHTS)?;
        d.push(k2);
        Some(d.iter().map(|x| char::from(b'0' + x)).collect())
    }

    #[test]
    fn known_synthetic_number_is_valid() {
        // Build numbers rather than copy published ones, and check each kind.
        for (nine, kind) in [
            ("158505", NationalIdKind::Synthetic),
            ("558505", NationalIdKind::SyntheticDNumber),
            ("150505", NationalIdKind::Fodselsnummer),
            ("550505", NationalIdKind::DNumber),
            ("154505", NationalIdKind::HNumber),
        ] {
            let mut found = false;
            for ind in 100..200 {
                if let Some(full) = complete(&format!("{nine}{ind}")) {
                    let id = NationalId::parse(&full).unwrap();
                    assert_eq!(id.kind(), kind, "{nine}");
                    found = true;
                    break;
                }
            }
            assert!(found);
        }
    }

    #[test]
    fn synthetic_builder_gives_valid_synthetic_numbers() {
        let id = NationalId::synthetic(24, 12, 79, 300).unwrap();
        assert_eq!(id.kind(), NationalIdKind::Synthetic);
        assert!(id.expose().starts_with("249279"));
        assert!(NationalId::synthetic(31, 2, 79, 0).is_none());
        assert!(NationalId::synthetic(1, 13, 79, 0).is_none());
    }

    #[test]
    fn wrong_control_digit_is_rejected() {
        let full = (100..200)
            .find_map(|i| complete(&format!("158505{i}")))
            .unwrap();
        let mut bytes = full.into_bytes();
        bytes[10] = if bytes[10] == b'9' {
            b'0'
        } else {
            bytes[10] + 1
        };
        let bad = String::from_utf8(bytes).unwrap();
        assert_eq!(NationalId::parse(&bad), Err(NationalIdError::ControlDigit));
    }

    #[test]
    fn space_after_six_digits_is_accepted_elsewhere_not() {
        let full = (100..200)
            .find_map(|i| complete(&format!("158505{i}")))
            .unwrap();
        let spaced = format!("{} {}", &full[..6], &full[6..]);
        assert!(NationalId::parse(&spaced).is_ok());
        let wrong = format!("{} {}", &full[..5], &full[5..]);
        assert!(NationalId::parse(&wrong).is_err());
    }

    #[test]
    fn bad_shapes_give_clear_errors() {
        assert_eq!(NationalId::parse("123"), Err(NationalIdError::Length));
        assert_eq!(
            NationalId::parse("1234567890a"),
            Err(NationalIdError::NotDigits)
        );
        assert_eq!(
            NationalId::parse("123456789012"),
            Err(NationalIdError::Length)
        );
        assert_eq!(NationalId::parse("32138012345"), Err(NationalIdError::Date));
        assert_eq!(NationalId::parse("31048012345"), Err(NationalIdError::Date));
    }

    #[test]
    fn debug_does_not_leak() {
        let full = (100..200)
            .find_map(|i| complete(&format!("158505{i}")))
            .unwrap();
        let id = NationalId::parse(&full).unwrap();
        assert!(!format!("{id:?}").contains(&full[6..]));
        assert_eq!(id.redacted(), format!("{}*****", &full[..6]));
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,20}") {
            let _ = NationalId::parse(&s);
        }

        #[test]
        fn completed_numbers_always_parse(day in 1u32..=28, month in 1u32..=12, yy in 0u32..100, ind in 0u32..1000) {
            let nine = format!("{day:02}{:02}{yy:02}{ind:03}", month + 80);
            if let Some(full) = complete(&nine) {
                proptest::prop_assert!(NationalId::parse(&full).is_ok());
            }
        }
    }
}
