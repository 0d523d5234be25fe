//! Trygg's tamper-evident audit log: the data model and the cryptography, with no IO.
//!
//! Every read and write of personal data and every security event becomes an [`AuditEvent`]
//! (shaped like FHIR AuditEvent) appended to the log of the organisation whose data it concerns.
//! Each organisation's log is an RFC 6962 Merkle tree with Ed25519-signed checkpoints. This meets
//! Normen 5.4.4 as catalogued in the requirements: PC-VENDOR-3 (tamper-evident logging),
//! PC-RIGHTS-1 (the patient sees who accessed their data: [`fhir`] export filtered by patient),
//! PC-ACL-1 and guide risk scenario 15 (grants and revocations are [`Category::Authorisation`]
//! events, kept like all entries; the store's retention for them must be at least five years),
//! guide risk scenario 17 and PC-VENDOR-6 (denied access, failed logins and cross-organisation
//! attempts are [`Category::Security`] events in the same log), VC-LOG-2 (consultation steps are
//! [`Category::Consultation`] events).
//!
//! No file, socket, database or clock is touched here: time is a parameter, randomness comes in as
//! `&dyn SecureRandom`, and the store persists what the functions return.
//!
//! # Modules
//! - [`event`]: the event model and its canonical bytes (compact JSON, fixed field order; decoding
//!   rejects non-canonical bytes). No free-text fields: codes and opaque ids only.
//! - [`merkle`]: RFC 6962/9162 hashing, the append-only [`Frontier`], inclusion and consistency
//!   proofs built from stored complete subtrees in `O(log n)` node reads, and their verification.
//! - [`entry`]: salted commitments, the stored row, and [`LogWriter`], which turns events into
//!   rows, tree nodes and checkpoints.
//! - [`checkpoint`]: C2SP `tlog-checkpoint` in a C2SP `signed-note`, Ed25519 via aws-lc-rs.
//! - [`verify`]: the streaming verifier behind `trygg audit verify`.
//! - [`fhir`]: FHIR R4 `AuditEvent` and `Bundle` export.
//!
//! # Formats
//! - *Commitment*: `SHA-256(salt || canonical event bytes)`, salt 32 random bytes. *Leaf data*:
//!   `commitment || recorded || retain_until` (big-endian `i64` Unix milliseconds; the commitment
//!   alone for entries written before `retain_until` existed). Leaf hash `SHA-256(0x00 || leaf
//!   data)`, node `SHA-256(0x01 || left || right)`.
//! - *Checkpoint*: `<origin>\n<size>\n<base64 root>\n\n— <key name> <base64(key id || sig)>\n`,
//!   origin `<host>/audit/<org-slug>` ([`checkpoint::origin_for`]); key id = first 4 bytes of
//!   `SHA-256(name || 0x0A || 0x01 || public key)`.
//!
//! # Storage contract (for `trygg-store`)
//! Per organisation database:
//! - `audit_entry(seq INTEGER PRIMARY KEY, commitment BLOB(32) NOT NULL, salt BLOB(32) NULL,
//!   event BLOB NULL, root_after BLOB(32) NOT NULL, patient TEXT NULL, recorded INTEGER NOT NULL,
//!   retain_until INTEGER NULL)`: one [`EntryRow`], every column as the writer returned it; `salt`
//!   and `event` are the [`entry::Payload`], set to NULL together with `patient` at retention end
//!   ([`retention_end`], committed in the leaf). Store `event` byte for byte.
//! - `audit_node(level INTEGER, idx INTEGER, hash BLOB(32), PRIMARY KEY(level, idx))`: every
//!   [`merkle::Node`] that [`LogWriter::append`] returns (it serves proofs and
//!   [`LogWriter::resume`]; the verifier recomputes each and the count, see
//!   [`LogVerifier::check_nodes`]).
//! - `audit_checkpoint(tree_size INTEGER PRIMARY KEY, text TEXT NOT NULL)`: every signed
//!   checkpoint.
//!
//! In **one transaction** per commit: the batch's appends (rows and nodes), then one
//! [`LogWriter::checkpoint`] of the new size. Keep every checkpoint. Also copy the latest
//! checkpoint somewhere an attacker on the organisation's database cannot reach (the control
//! database, a log line, another organisation's witness) and pass it to the verifier. On a failed
//! commit, discard the writer and [`LogWriter::resume`] from the database.
//!
//! # Threat model
//! The attacker can read and write the organisation's database file (or rows in PostgreSQL) but
//! does not hold the checkpoint signing key. [`verify::LogVerifier`] then detects, and names the
//! first bad entry for:
//! - an edited event or salt (commitment no longer matches),
//! - an edited commitment, reordered, deleted or inserted rows (gap in `seq`, or the recomputed
//!   root differs from the stored `root_after`),
//! - any of the above with every later `root_after` recomputed to match (the recomputed root
//!   differs from a signed checkpoint; named exactly when every append is its own commit, else as
//!   the first entry of the commit batch),
//! - entries cut from the end while a checkpoint of the old size remains, entries appended without
//!   a checkpoint, and forged, edited or foreign (another organisation's) checkpoints,
//! - an edited lookup column (`patient`, `recorded`), which queries such as a patient's access log
//!   select by, an edited or added tree node, and a payload removed before its committed
//!   retention end (review finding 8). Every stored column is thus either in the signed tree or
//!   checked against the committed event; the server's tamper tests edit each column found in the
//!   schema to keep it so.
//!
//! Not detected by the database alone: deleting the newest entries *together with* their
//! checkpoints (rollback to an earlier valid state), or deleting the whole log. Both are caught
//! only by comparing with a checkpoint kept outside the database, which is why the store copies
//! the latest one out. An attacker holding the signing key can rewrite history undetectably unless
//! an outside checkpoint and a [consistency proof](merkle::verify_consistency) are checked. Entries
//! whose payload was deleted at retention end still count in the tree but their content is gone by
//! design. The log proves integrity, not completeness: a server that never logs an event cannot be
//! caught here.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod checkpoint;
pub mod entry;
pub mod event;
pub mod fhir;
pub mod merkle;
pub mod verify;

pub use checkpoint::{
    origin_for, Checkpoint, CheckpointError, Pkcs8Key, SignedCheckpoint, Signer, VerifyingKey,
};
pub use entry::{
    commitment, retention_end, Appended, EntryError, EntryRow, LogWriter, Payload, Salt,
    RETENTION_MILLIS,
};
pub use event::{
    Action, Agent, AgentKind, Assurance, AuditEvent, Authentication, Basis, Category, Code, Entity,
    EventError, OnBehalfOf, OpaqueId, Outcome, SecurityKind, Source, Timestamp,
};
pub use merkle::{Frontier, Hash, MemoryNodes, MerkleError, Node, NodeId, NodeSource, ProofError};
pub use verify::{
    verify_log, LogVerifier, StoredCheckpoint, VerifyError, VerifyErrorKind, VerifyOptions,
    VerifySummary,
};

/// Any error of this crate, for callers that do not care which module failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// An event is invalid.
    #[error(transparent)]
    Event(#[from] EventError),
    /// Tree arithmetic or a proof failed.
    #[error(transparent)]
    Merkle(#[from] MerkleError),
    /// Writing an entry failed.
    #[error(transparent)]
    Entry(#[from] EntryError),
    /// A checkpoint, key or signature is invalid.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The log failed verification.
    #[error(transparent)]
    Verify(#[from] VerifyError),
}

/// Builders shared by this crate's tests, benches and the store's tests.
pub mod testing {
    use crate::event::{
        Action, Agent, AgentKind, Assurance, AuditEvent, Authentication, Basis, Category, Code,
        Entity, OpaqueId, Outcome, Source, Timestamp,
    };

    /// A plausible access event: a doctor reads a message about patient `patient` at `ms`.
    /// Returns `None` only if `patient` is not a valid [`OpaqueId`].
    pub fn sample_event(ms: i64, patient: &str) -> Option<AuditEvent> {
        let mut e = AuditEvent::new(
            Timestamp::from_unix_millis(ms),
            Category::Access,
            Code::new("read").ok()?,
            Action::Read,
            Outcome::Success,
            Agent {
                kind: AgentKind::Personnel,
                id: Some(OpaqueId::new("0195a3c2-7d1e-7000-8000-000000000001").ok()?),
                role: Some(Code::new("doctor").ok()?),
                organisation: Some(trygg_core::OrgSlug::parse("normland-legesenter").ok()?),
                on_behalf_of: None,
                authentication: Some(Authentication {
                    method: Code::new("helseid").ok()?,
                    assurance: Some(Assurance::High),
                }),
            },
            Source {
                node: Code::new("node-1").ok()?,
                address: None,
            },
        );
        e.patient = Some(OpaqueId::new(patient).ok()?);
        e.entity = Some(Entity {
            kind: Code::new("Communication").ok()?,
            id: Some(OpaqueId::new("m-1").ok()?),
            detail: None,
        });
        e.basis = Basis::CareRelationship {
            id: OpaqueId::new("cr-1").ok()?,
        };
        Some(e)
    }
}
