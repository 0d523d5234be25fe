//! Facts from the population register (Folkeregisteret) that log control compares (issue #16,
//! PC-ACL-1): a patient's address, protection (a confidential or strictly confidential address,
//! or a public figure) and registered next of kin; a staff member's national identity number
//! and address. They arrive at the console (`trygg patient facts`, `trygg personnel facts`) —
//! in production from the organisation's register lookup — and are sealed under the
//! organisation's key ([`trygg_store::register`]); the snooping detector gets them as keyed
//! hashes made in memory and asks "same address?", "the patient's next of kin?", "one of the
//! staff?" or "their own record?", while the database alone shows no shared address and no
//! kinship. Setting them is an audit entry (in the patient's log for a patient's facts).

use time::OffsetDateTime;
use trygg_audit::{Action, Basis, Category};
use trygg_core::national_id::NationalId;
use trygg_core::Operation;
use uuid::Uuid;

use crate::access::audit_commit;
use crate::audit::Did;
use crate::error::AppError;
use crate::operator::Console;
use crate::orgs::Administrator as _;
use crate::App;

/// The protection codes a patient's record can carry.
pub const PROTECTIONS: [&str; 4] = [
    "none",
    "confidential",
    "strictly-confidential",
    "public-figure",
];

/// An address as compared: Unicode NFKC, invisible format characters (zero-width spaces, soft
/// hyphens) dropped, letters and digits in lower case, each run of anything else one space, and
/// a single letter after a house number joined to it ("Storgata 1 B, 0155 Oslo" and
/// "storgata 1b 0155  OSLO" are the same address); refused when it holds control or direction
/// characters, or is empty or over 200 characters.
pub fn normalise_address(a: &str) -> Result<String, AppError> {
    use unicode_normalization::UnicodeNormalization as _;
    let bad = || {
        AppError::invalid(
            "TR-Y010",
            "an address has 1 to 200 letters, digits and ordinary punctuation",
        )
    };
    if a.chars().count() > 200
        || a.chars().any(|c| {
            c.is_control()
                || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        })
    {
        return Err(bad());
    }
    let invisible = |c: char| {
        matches!(
            c,
            '\u{ad}' | '\u{200b}'..='\u{200d}' | '\u{2060}' | '\u{feff}'
        )
    };
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    for c in a
        .nfkc()
        .filter(|c| !invisible(*c))
        .flat_map(char::to_lowercase)
    {
        if c.is_alphanumeric() {
            word.push(c);
        } else if !word.is_empty() {
            words.push(std::mem::take(&mut word));
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    // "1 b" → "1b": a lone letter after a number is the house's letter.
    let mut out: Vec<String> = Vec::new();
    for w in words {
        let lone_letter = w.chars().count() == 1 && w.chars().all(char::is_alphabetic);
        match out.last_mut() {
            Some(prev)
                if lone_letter && prev.chars().last().is_some_and(|c| c.is_ascii_digit()) =>
            {
                prev.push_str(&w);
            }
            _ => out.push(w),
        }
    }
    if out.is_empty() {
        return Err(bad());
    }
    Ok(out.join(" "))
}

fn nid(s: &str) -> Result<String, AppError> {
    NationalId::parse(s.trim())
        .map(|n| n.expose())
        .map_err(|_| {
            AppError::invalid(
                "TR-Y011",
                "a national identity number is 11 digits with valid control digits",
            )
        })
}

/// A patient's register facts.
#[derive(Debug, Clone, Default)]
pub struct PatientFactsIn {
    /// The address (`None` clears it).
    pub address: Option<String>,
    /// One of [`PROTECTIONS`].
    pub protection: String,
    /// The registered next of kin's national identity numbers (the list replaces the old).
    pub next_of_kin: Vec<String>,
}

/// Sets a patient's register facts at the console; logged in the patient's log.
pub async fn set_patient_facts(
    state: &App,
    console: &Console,
    org: &str,
    patient: Uuid,
    input: PatientFactsIn,
    now: OffsetDateTime,
) -> Result<(), AppError> {
    if !PROTECTIONS.contains(&input.protection.as_str()) {
        return Err(AppError::invalid(
            "TR-Y012",
            "the protection is none, confidential, strictly-confidential or public-figure",
        ));
    }
    if input.next_of_kin.len() > 20 {
        return Err(AppError::invalid("TR-Y013", "at most 20 next of kin"));
    }
    let address = input
        .address
        .as_deref()
        .map(normalise_address)
        .transpose()?;
    let kin = input
        .next_of_kin
        .iter()
        .map(|k| nid(k))
        .collect::<Result<Vec<_>, _>>()?;
    let h = crate::operator::org(state, org).await?;
    let mut tx = h.begin().await?;
    tx.set_patient_register_facts(patient, address.as_deref(), &input.protection, &kin)
        .await
        .map_err(|e| match e {
            trygg_store::StoreError::NotFound(_) => {
                AppError::not_found("TR-P404", "no such patient")
            }
            e => e.into(),
        })?;
    audit_commit(
        tx,
        &h,
        &console.actor(),
        Did::new(
            Category::Administration,
            Operation::RegisterFacts,
            Action::Update,
            ("Patient", Some(patient.to_string())),
        )
        .patient(Some(patient))
        .basis(Basis::Administration),
        now,
    )
    .await
}

/// Sets a staff member's register facts at the console (their national identity number and
/// address; `None` clears either).
pub async fn set_personnel_facts(
    state: &App,
    console: &Console,
    org: &str,
    person: Uuid,
    national_id: Option<String>,
    address: Option<String>,
    now: OffsetDateTime,
) -> Result<(), AppError> {
    let national_id = national_id.as_deref().map(nid).transpose()?;
    let address = address.as_deref().map(normalise_address).transpose()?;
    let h = crate::operator::org(state, org).await?;
    let mut tx = h.begin().await?;
    tx.set_personnel_register_facts(person, national_id.as_deref(), address.as_deref())
        .await
        .map_err(|e| match e {
            trygg_store::StoreError::NotFound(_) => {
                AppError::not_found("TR-Q404", "no such person")
            }
            e => e.into(),
        })?;
    audit_commit(
        tx,
        &h,
        &console.actor(),
        Did::new(
            Category::Administration,
            Operation::RegisterFacts,
            Action::Update,
            ("Practitioner", Some(person.to_string())),
        )
        .basis(Basis::Administration),
        now,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_compare_without_case_punctuation_or_spacing() {
        assert_eq!(
            normalise_address("Storgata 1, 0155 OSLO").unwrap(),
            "storgata 1 0155 oslo"
        );
        assert_eq!(
            normalise_address("  storgata   1 0155 Oslo. ").unwrap(),
            "storgata 1 0155 oslo"
        );
        assert_eq!(normalise_address("Øvre Å-vei 2").unwrap(), "øvre å vei 2");
        assert_eq!(
            normalise_address("Storgata 1 B, 0155 Oslo").unwrap(),
            normalise_address("storgata 1b 0155  OSLO").unwrap()
        );
        // A decomposed Ø-less "å" and a zero-width space compare as the plain text.
        assert_eq!(
            normalise_address("A\u{30a}sen\u{200b}vei 3").unwrap(),
            "åsenvei 3"
        );
        for bad in ["", " ,. ", "Storgata\u{202e}1", "a\nb"] {
            assert!(normalise_address(bad).is_err(), "{bad:?}");
        }
        assert!(normalise_address(&"a".repeat(201)).is_err());
    }
}
