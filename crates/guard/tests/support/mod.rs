//! What the guard's integration tests share: where the labelled corpora are.
#![allow(dead_code)]

use std::path::PathBuf;

/// The dev corpus: `TRYGG_GUARD_CORPUS`, or the crate's copy, `corpus/guard-dev.jsonl`.
pub fn dev_corpus_path() -> PathBuf {
    match std::env::var_os("TRYGG_GUARD_CORPUS") {
        Some(p) => PathBuf::from(p),
        None => corpus("guard-dev.jsonl"),
    }
}

/// A corpus file of the crate's `corpus/` directory.
pub fn corpus(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(name)
}
