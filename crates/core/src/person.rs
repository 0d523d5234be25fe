//! People in an organisation: patients and personnel, as the rest of the system sees them before
//! anything is stored. Names and contact data are personal data; their `Debug` output is redacted.

use std::fmt;

/// The personnel roles Trygg knows out of the box (PC-ACL-2: different personnel types have
/// different roles). Organisations may add their own roles later; these are the built-in ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BuiltinRole {
    /// A physician (lege).
    Doctor,
    /// A nurse (sykepleier).
    Nurse,
    /// A psychologist.
    Psychologist,
    /// A physiotherapist.
    Physiotherapist,
    /// A secretary or receptionist: booking, no health data.
    Secretary,
    /// An interpreter (VC-INT-1): joins consultations, sees no records.
    Interpreter,
    /// An organisation administrator: manages users, sees no health data.
    OrgAdmin,
    /// A system or integration user.
    System,
}

impl BuiltinRole {
    /// Every built-in role.
    pub const ALL: [BuiltinRole; 8] = [
        Self::Doctor,
        Self::Nurse,
        Self::Psychologist,
        Self::Physiotherapist,
        Self::Secretary,
        Self::Interpreter,
        Self::OrgAdmin,
        Self::System,
    ];

    /// The stable name used in the API, the database and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Doctor => "doctor",
            Self::Nurse => "nurse",
            Self::Psychologist => "psychologist",
            Self::Physiotherapist => "physiotherapist",
            Self::Secretary => "secretary",
            Self::Interpreter => "interpreter",
            Self::OrgAdmin => "org-admin",
            Self::System => "system",
        }
    }

    /// Parses the stable name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// A person's name, held as personal data: `Debug` prints only its length.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct PersonName(String);

/// Why a name is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PersonNameError {
    /// Empty after trimming, or over 200 characters.
    #[error("a name has 1 to 200 characters")]
    Length,
    /// Holds a control character.
    #[error("a name cannot hold control characters")]
    Control,
}

impl PersonName {
    /// Checks a name: trimmed, 1–200 characters, no control characters.
    pub fn parse(s: &str) -> Result<Self, PersonNameError> {
        let t = s.trim();
        let n = t.chars().count();
        if n == 0 || n > 200 {
            return Err(PersonNameError::Length);
        }
        if t.chars().any(char::is_control) {
            return Err(PersonNameError::Control);
        }
        Ok(Self(t.to_owned()))
    }

    /// The name. Handle it as personal data.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PersonName(<{} chars>)", self.0.chars().count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip() {
        for r in BuiltinRole::ALL {
            assert_eq!(BuiltinRole::parse(r.as_str()), Some(r));
        }
        assert_eq!(BuiltinRole::parse("god"), None);
    }

    #[test]
    fn names_are_checked_and_redacted() {
        let n = PersonName::parse("  Kari Nordmann ").unwrap();
        assert_eq!(n.expose(), "Kari Nordmann");
        assert!(!format!("{n:?}").contains("Kari"));
        assert!(PersonName::parse(" ").is_err());
        assert!(PersonName::parse("a\u{0}b").is_err());
    }
}

/// A phone number for notices: Norwegian numbers are stored as `+47` and eight digits; other
/// countries as E.164 (`+` and 8–15 digits). Personal data: `Debug` prints only the country part.
#[derive(Clone, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct PhoneNumber(String);

/// Why a phone number is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneNumberError {
    /// Not eight Norwegian digits, nor `+` and 8–15 digits.
    #[error("a phone number is eight digits, or + and 8 to 15 digits with the country code")]
    Shape,
}

impl PhoneNumber {
    /// Parses `91234567`, `912 34 567`, `+47 912 34 567`, `0047...` or another country's E.164.
    pub fn parse(s: &str) -> Result<Self, PhoneNumberError> {
        let compact: String = s.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        let (plus, digits) = if let Some(rest) = compact.strip_prefix('+') {
            (true, rest.to_owned())
        } else if let Some(rest) = compact.strip_prefix("00") {
            (true, rest.to_owned())
        } else {
            (false, compact)
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PhoneNumberError::Shape);
        }
        if !plus {
            return if digits.len() == 8 {
                Ok(Self(format!("+47{digits}")))
            } else {
                Err(PhoneNumberError::Shape)
            };
        }
        if digits.starts_with("47") && digits.len() != 10 {
            return Err(PhoneNumberError::Shape);
        }
        if !(8..=15).contains(&digits.len()) {
            return Err(PhoneNumberError::Shape);
        }
        Ok(Self(format!("+{digits}")))
    }

    /// The number in E.164 form. Handle it as personal data.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PhoneNumber(+{}…)",
            self.0.chars().skip(1).take(2).collect::<String>()
        )
    }
}

/// An e-mail address, checked for shape only (one `@`, a dot in the domain, no spaces or control
/// characters, at most 254 characters). Personal data: `Debug` prints only the domain.
#[derive(Clone, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct EmailAddress(String);

/// Why an e-mail address is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailAddressError {
    /// Not of the shape `local@domain.tld`.
    #[error("an e-mail address looks like name@example.no")]
    Shape,
}

impl EmailAddress {
    /// Checks the shape and lower-cases the domain.
    pub fn parse(s: &str) -> Result<Self, EmailAddressError> {
        let t = s.trim();
        if t.len() > 254 || t.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(EmailAddressError::Shape);
        }
        let (local, domain) = t.split_once('@').ok_or(EmailAddressError::Shape)?;
        if local.is_empty()
            || domain.contains('@')
            || !domain.contains('.')
            || domain.starts_with('.')
            || domain.ends_with('.')
        {
            return Err(EmailAddressError::Shape);
        }
        Ok(Self(format!("{local}@{}", domain.to_lowercase())))
    }

    /// The address. Handle it as personal data.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let domain = self.0.split_once('@').map(|(_, d)| d).unwrap_or("");
        write!(f, "EmailAddress(…@{domain})")
    }
}

/// How a person is employed by the organisation (routine: "different employment relations
/// identified").
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Employment {
    /// A permanent or temporary employee.
    Employee,
    /// A locum (vikar).
    Locum,
    /// A student in placement.
    Student,
    /// A contractor or a vendor's person.
    Contractor,
}

impl Employment {
    /// Every employment type.
    pub const ALL: [Employment; 4] = [Self::Employee, Self::Locum, Self::Student, Self::Contractor];

    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Employee => "employee",
            Self::Locum => "locum",
            Self::Student => "student",
            Self::Contractor => "contractor",
        }
    }

    /// Parses the stable name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Employee, Self::Locum, Self::Student, Self::Contractor]
            .into_iter()
            .find(|e| e.as_str() == s)
    }
}

#[cfg(test)]
mod contact_tests {
    use super::*;

    #[test]
    fn phone_numbers() {
        assert_eq!(
            PhoneNumber::parse("912 34 567").unwrap().expose(),
            "+4791234567"
        );
        assert_eq!(
            PhoneNumber::parse("+47 91234567").unwrap().expose(),
            "+4791234567"
        );
        assert_eq!(
            PhoneNumber::parse("0046701234567").unwrap().expose(),
            "+46701234567"
        );
        assert!(PhoneNumber::parse("1234").is_err());
        assert!(PhoneNumber::parse("+47 1234").is_err());
        assert!(PhoneNumber::parse("abcdefgh").is_err());
        assert!(!format!("{:?}", PhoneNumber::parse("91234567").unwrap()).contains("9123"));
    }

    #[test]
    fn email_addresses() {
        assert_eq!(
            EmailAddress::parse("Kari@Example.NO").unwrap().expose(),
            "Kari@example.no"
        );
        for bad in [
            "kari", "kari@", "@x.no", "a b@x.no", "a@x", "a@@x.no", "a@.no",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad}");
        }
    }
}
