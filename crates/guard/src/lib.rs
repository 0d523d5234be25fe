//! The confidentiality guard: screens every outbound SMS and ordinary e-mail before it is sent.
//!
//! PC-CONF-1: health data must not be sent by unencrypted e-mail or SMS. The guard applies the
//! content rules of Normen's *Veileder i digital pasientkommunikasjon* (appendix "Eksempler på
//! innhold i elektronisk pasientkommunikasjon", restated in the requirements catalogue section
//! 3) and so mitigates the guide's risk scenarios 1–3 (a wrong or extra recipient, or too much
//! information, sees less), 9 (unencrypted e-mail with health data) and 31 (an SMS that reveals
//! by itself). [`Guard::screen`] gives a [`Screening`]: `allow`, `review` (a person must confirm,
//! with a logged reason) or `block`, with findings (reason, byte span, explanation in bokmål and
//! English). The whole message counts: cue rules join harmless parts that reveal together.
//!
//! The crate is pure: no IO other than reading extra term lists when asked
//! ([`GuardBuilder::extra_terms_file`]), no clock, no logging.
//!
//! ```
//! use trygg_guard::{Channel, Context, Guard, Verdict};
//! let guard = Guard::builtin()?;
//! let ok = guard.screen(Channel::Sms, "Du har time tirsdag 5. mars kl. 14.30.", &Context::default());
//! assert_eq!(ok.verdict, Verdict::Allow);
//! let bad = guard.screen(Channel::Sms, "Husk å ta med blodsukkermåleren.", &Context::default());
//! assert_eq!(bad.verdict, Verdict::Block);
//! # Ok::<(), trygg_guard::LoadError>(())
//! ```
#![deny(missing_docs)]

mod clearance;
mod context;
pub mod eval;
mod fold;
pub mod lists;
mod matcher;
mod morph;
pub mod nid;
pub mod normalize;
mod screen;
mod verdict;

pub use clearance::{Cleared, Held, PendingReview};
pub use context::Context;
pub use lists::{LineProblem, ListKind, LoadError};
pub use verdict::{Channel, Finding, Reason, Screening, Verdict};

use matcher::Matcher;
use std::path::{Path, PathBuf};

/// The built-in term lists, compiled in: `(name, text)`.
pub const BUILTIN_LISTS: [(&str, &str); 6] = [
    ("data/health.txt", include_str!("../data/health.txt")),
    (
        "data/medication.txt",
        include_str!("../data/medication.txt"),
    ),
    ("data/units.txt", include_str!("../data/units.txt")),
    ("data/cues.txt", include_str!("../data/cues.txt")),
    (
        "data/vocabulary.txt",
        include_str!("../data/vocabulary.txt"),
    ),
    ("data/ordinary.txt", include_str!("../data/ordinary.txt")),
];

/// A compiled guard. Build it once (per organisation, if organisations add terms) and share it;
/// screening takes `&self` and is safe from many threads.
#[derive(Debug, Clone)]
pub struct Guard {
    matcher: Matcher,
}

impl Guard {
    /// The guard with the built-in lists only. Fails only if the built-in lists are broken,
    /// which the crate's tests rule out.
    pub fn builtin() -> Result<Guard, LoadError> {
        Guard::builder().build()
    }

    /// A builder, to add or replace term lists.
    pub fn builder() -> GuardBuilder {
        GuardBuilder::default()
    }

    /// Screens one message. `text` is the whole body; for e-mail include the subject line
    /// (`Emne: …`), which counts as part of the message.
    pub fn screen(&self, channel: Channel, text: &str, context: &Context) -> Screening {
        screen::screen(&self.matcher, channel, text, context)
    }

    /// The number of searchable patterns (terms and their generated spelling variants).
    pub fn pattern_count(&self) -> usize {
        self.matcher.pattern_count()
    }
}

/// Builds a [`Guard`] from the built-in lists and any extra lists. Extra lists use the same
/// format (see [`lists`]); a `[allow]` section lets an organisation unblock a harmless word, and
/// the other sections add terms to block or review.
#[derive(Debug, Clone)]
pub struct GuardBuilder {
    builtin: bool,
    texts: Vec<(String, String)>,
    files: Vec<PathBuf>,
}

impl Default for GuardBuilder {
    fn default() -> Self {
        GuardBuilder {
            builtin: true,
            texts: Vec::new(),
            files: Vec::new(),
        }
    }
}

impl GuardBuilder {
    /// Leaves out the built-in lists (for tests and for organisations that supply all lists).
    pub fn without_builtin(mut self) -> Self {
        self.builtin = false;
        self
    }

    /// Adds a list given as text; `name` names it in errors.
    pub fn extra_terms(mut self, name: &str, text: &str) -> Self {
        self.texts.push((name.to_string(), text.to_string()));
        self
    }

    /// Adds a list file, read when [`build`](Self::build) runs.
    pub fn extra_terms_file(mut self, path: impl AsRef<Path>) -> Self {
        self.files.push(path.as_ref().to_path_buf());
        self
    }

    /// Reads and checks every list and compiles the guard.
    pub fn build(self) -> Result<Guard, LoadError> {
        let mut terms = Vec::new();
        if self.builtin {
            for (name, text) in BUILTIN_LISTS {
                terms.extend(lists::parse(name, text)?);
            }
        }
        for (name, text) in &self.texts {
            terms.extend(lists::parse(name, text)?);
        }
        for path in &self.files {
            let file = path.display().to_string();
            let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
                file: file.clone(),
                source,
            })?;
            terms.extend(lists::parse(&file, &text)?);
        }
        lists::add_variants(&mut terms);
        Ok(Guard {
            matcher: Matcher::build(&terms)?,
        })
    }
}

/// The built-in lists as parsed terms with their spelling variants, for tools that compare
/// with other screeners (the Presidio benchmark uses them as deny lists).
pub fn builtin_terms() -> Result<Vec<lists::Term>, LoadError> {
    let mut terms = Vec::new();
    for (name, text) in BUILTIN_LISTS {
        terms.extend(lists::parse(name, text)?);
    }
    lists::add_variants(&mut terms);
    Ok(terms)
}
