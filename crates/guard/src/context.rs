//! What the organisation tells the guard about itself and the message, per screening.
//!
//! The guard is built once per organisation (its term lists, including the organisation's extra
//! terms to block or allow, see [`GuardBuilder`](crate::GuardBuilder)); a [`Context`] carries
//! the rest: the organisation's own phone numbers and domains, its neutral sender name, the
//! patient's own numbers and whether the channel is one-way. An empty context (the default)
//! turns off the checks that need it (`foreign-link`, `missing-no-reply`).

/// Per-message facts from the organisation. Build it with the `with_*` methods, which normalise
/// what they are given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    pub(crate) own_phones: Vec<String>,
    pub(crate) patient_phones: Vec<String>,
    pub(crate) own_domains: Vec<String>,
    pub(crate) sender_name: Option<String>,
    pub(crate) one_way: bool,
}

impl Context {
    /// An empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// One of the organisation's own phone numbers, in any format (`22 11 33 44`,
    /// `+47 22113344`). Such a number in a message is always `sender-phone`.
    pub fn with_own_phone(mut self, number: &str) -> Self {
        if let Some(n) = normalise_phone(number) {
            self.own_phones.push(n);
        }
        self
    }

    /// A phone number of the patient (the recipient): never flagged.
    pub fn with_patient_phone(mut self, number: &str) -> Self {
        if let Some(n) = normalise_phone(number) {
            self.patient_phones.push(n);
        }
        self
    }

    /// A domain the organisation owns (`normland.no`); its subdomains count too. Setting one
    /// turns on `foreign-link` for links and addresses at other domains (national health
    /// services such as helsenorge.no are always trusted).
    pub fn with_own_domain(mut self, domain: &str) -> Self {
        let d = domain
            .trim()
            .trim_start_matches("www.")
            .trim_end_matches('.')
            .to_ascii_lowercase();
        if !d.is_empty() {
            self.own_domains.push(d);
        }
        self
    }

    /// The organisation's neutral sender name ("Normland Legesenter"). The organisation has
    /// declared it neutral, so words inside it are not flagged.
    pub fn with_sender_name(mut self, name: &str) -> Self {
        let n = crate::fold::fold_str(&crate::normalize::normalise_str(name.trim()));
        self.sender_name = (!n.is_empty()).then_some(n);
        self
    }

    /// Whether the channel is one-way (the patient cannot reply). Then a message without a
    /// line such as "Du kan ikke svare på denne SMS-en" gets `missing-no-reply`.
    pub fn with_one_way(mut self, one_way: bool) -> Self {
        self.one_way = one_way;
        self
    }
}

/// The 8-digit national part of a Norwegian phone number, or `None` if it is not one.
pub(crate) fn normalise_phone(number: &str) -> Option<String> {
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    let national = if let Some(rest) = digits.strip_prefix("0047") {
        rest
    } else if number.trim_start().starts_with('+') {
        digits.strip_prefix("47")?
    } else {
        &digits
    };
    (national.len() == 8).then(|| national.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_are_normalised() {
        assert_eq!(normalise_phone("22 11 33 44").as_deref(), Some("22113344"));
        assert_eq!(
            normalise_phone("+47 22 11 33 44").as_deref(),
            Some("22113344")
        );
        assert_eq!(
            normalise_phone("0047 22113344").as_deref(),
            Some("22113344")
        );
        assert_eq!(normalise_phone("113"), None);
    }
}
