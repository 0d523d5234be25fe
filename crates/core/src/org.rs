//! Organisations (virksomheter): the tenants of Trygg. Each has a short name, its slug, used in
//! paths, file names and the CLI; the slug is the only organisation identifier that reaches a file
//! name, so its rules keep it safe there.

use std::fmt;

/// Why a string is not a valid organisation slug.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrgSlugError {
    /// Empty or longer than 63 characters.
    #[error("an organisation's short name has 1 to 63 characters")]
    Length,
    /// A character other than a–z, 0–9 and `-`, or a `-` at either end.
    #[error("an organisation's short name has only a-z, 0-9 and '-', and does not start or end with '-'")]
    Characters,
}

/// An organisation's short name: 1–63 characters of `a-z`, `0-9` and `-`, not starting or ending
/// with `-`. Safe as a path segment and a file name.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct OrgSlug(String);

impl OrgSlug {
    /// Checks a slug.
    pub fn parse(s: &str) -> Result<Self, OrgSlugError> {
        if s.is_empty() || s.len() > 63 {
            return Err(OrgSlugError::Length);
        }
        let ok = s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-')
            && !s.ends_with('-');
        if !ok {
            return Err(OrgSlugError::Characters);
        }
        Ok(Self(s.to_owned()))
    }

    /// Derives a slug from a display name: "Normbakken kommune, hjemmetjenesten" →
    /// `normbakken-kommune-hjemmetjenesten`. Æ, ø and å become ae, o and a.
    pub fn from_name(name: &str) -> Result<Self, OrgSlugError> {
        let mut out = String::new();
        for c in name.to_lowercase().chars() {
            let piece = match c {
                'æ' => "ae",
                'ø' => "o",
                'å' => "a",
                c if c.is_ascii_alphanumeric() => {
                    out.push(c);
                    continue;
                }
                _ => "-",
            };
            if piece == "-" && (out.is_empty() || out.ends_with('-')) {
                continue;
            }
            out.push_str(piece);
        }
        let trimmed = out.trim_end_matches('-');
        let cut: String = trimmed.chars().take(63).collect();
        Self::parse(cut.trim_end_matches('-'))
    }

    /// The slug as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OrgSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for OrgSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OrgSlug({})", self.0)
    }
}

impl<'de> serde::Deserialize<'de> for OrgSlug {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_from_demo_names() {
        assert_eq!(
            OrgSlug::from_name("Normland legesenter").unwrap().as_str(),
            "normland-legesenter"
        );
        assert_eq!(
            OrgSlug::from_name("Normbakken kommune, hjemmetjenesten")
                .unwrap()
                .as_str(),
            "normbakken-kommune-hjemmetjenesten"
        );
        assert_eq!(OrgSlug::from_name("Sørøya").unwrap().as_str(), "soroya");
    }

    #[test]
    fn path_tricks_are_rejected() {
        for bad in ["", "../etc", "a/b", "-a", "a-", "A", "a b", &"a".repeat(64)] {
            assert!(OrgSlug::parse(bad).is_err(), "{bad}");
        }
        assert!(OrgSlug::from_name("!!!").is_err());
    }
}
