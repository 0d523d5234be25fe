//! Log entries as the store keeps them, salted commitments, and [`LogWriter`], the sans-IO state
//! machine that turns events into rows, tree nodes and signed checkpoints.
//!
//! **Salted leaves.** The tree's leaf data is the *commitment*
//! `SHA-256(salt || canonical event bytes)` with a fresh 32-byte random salt per entry, followed by
//! the event's time and the entry's retention end (each a big-endian `i64` of Unix milliseconds):
//! leaf hash `SHA-256(0x00 || commitment || recorded || retain_until)`. When an entry's retention
//! ends (PC-STORE-1) the store deletes the salt, the event bytes and the patient lookup column and
//! keeps the rest: the tree, every proof and every checkpoint still verify, the retention end stays
//! signed so a payload removed before it is caught (PC-VENDOR-3), and without the salt nobody can
//! confirm a guess of the deleted event (events have little entropy: a patient id, a time, an
//! action). Entries written before the retention end was committed (stored `retain_until` NULL)
//! keep the old leaf `SHA-256(0x00 || commitment)`; their payload may never be removed.
//!
//! **Retention.** [`retention_end`] is the policy: [`RETENTION_MILLIS`] (ten years) after the
//! event for every category, which keeps authorisation records past the five years of guide risk
//! scenario 15. The end is fixed when the entry is written; a later policy applies to later
//! entries.
//!
//! **Writing.** [`LogWriter::append`] gives the [`EntryRow`] to insert and the completed tree
//! [`Node`]s to insert; [`LogWriter::checkpoint`] gives the signed checkpoint to insert. All three go
//! in one database transaction. If the transaction fails, drop the writer and rebuild it with
//! [`LogWriter::resume`] (or keep a clone from before the batch).

use std::fmt;

use aws_lc_rs::rand::SecureRandom;

use crate::checkpoint::{Checkpoint, CheckpointError, SignedCheckpoint, Signer};
use crate::event::{AuditEvent, EventError, Timestamp};
use crate::merkle::{self, Frontier, Hash, MerkleError, Node};

/// Why an entry could not be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    /// The random generator failed.
    #[error("the random generator failed")]
    Random,
    /// A salt of the wrong length.
    #[error("a salt has 32 bytes, not {0}")]
    SaltLength(usize),
    /// The event could not be encoded.
    #[error(transparent)]
    Event(#[from] EventError),
    /// The tree is full.
    #[error(transparent)]
    Merkle(#[from] MerkleError),
    /// Signing failed.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
}

/// 32 random bytes mixed into an entry's commitment.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Salt([u8; 32]);

impl Salt {
    /// Length in bytes.
    pub const LEN: usize = 32;

    /// A fresh salt.
    pub fn random(rng: &dyn SecureRandom) -> Result<Self, EntryError> {
        let mut b = [0u8; 32];
        rng.fill(&mut b).map_err(|_| EntryError::Random)?;
        Ok(Self(b))
    }

    /// From bytes (tests, and reading the store).
    pub const fn from_bytes(b: [u8; 32]) -> Self {
        Self(b)
    }

    /// From a slice of exactly 32 bytes.
    pub fn from_slice(b: &[u8]) -> Result<Self, EntryError> {
        <[u8; 32]>::try_from(b)
            .map(Self)
            .map_err(|_| EntryError::SaltLength(b.len()))
    }

    /// The bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for Salt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not secret, but there is no reason to print it.
        f.write_str("Salt(..)")
    }
}

/// The commitment to an event: `SHA-256(salt || canonical event bytes)`.
pub fn commitment(salt: &Salt, event_bytes: &[u8]) -> Hash {
    Hash::sha256(&[&salt.0, event_bytes])
}

/// How long an entry's payload is kept: ten years of 365.25 days, in milliseconds (PC-STORE-1).
pub const RETENTION_MILLIS: i64 = 3_652 * 86_400_000 + 43_200_000;

/// The retention end of an event's entry: [`RETENTION_MILLIS`] after it was recorded.
pub fn retention_end(event: &AuditEvent) -> Timestamp {
    Timestamp::from_unix_millis(
        event
            .recorded
            .unix_millis()
            .saturating_add(RETENTION_MILLIS),
    )
}

/// The deletable part of an entry: the salt and the canonical event bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    /// The salt.
    pub salt: Salt,
    /// The canonical event bytes ([`AuditEvent::to_canonical`]).
    pub event: Vec<u8>,
}

impl Payload {
    /// Recomputes the commitment.
    pub fn commitment(&self) -> Hash {
        commitment(&self.salt, &self.event)
    }

    /// Decodes the event.
    pub fn decode(&self) -> Result<AuditEvent, EventError> {
        AuditEvent::from_canonical(&self.event)
    }
}

/// One row of the log, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryRow {
    /// Position in the log, from 0, contiguous: the leaf index.
    pub seq: u64,
    /// The commitment (the tree's leaf data). Kept for ever.
    pub commitment: Hash,
    /// Salt and event; `None` once deleted at retention end.
    pub payload: Option<Payload>,
    /// The tree root after this entry was appended (tree size `seq + 1`).
    pub root_after: Hash,
    /// The event's time: a lookup column, committed in the leaf (with `retain_until`) and equal
    /// to the event's `recorded` while the payload is present.
    pub recorded: Timestamp,
    /// The end of the payload's retention, committed in the leaf; `None` for entries written
    /// before it was (their leaf is the commitment alone and their payload is kept).
    pub retain_until: Option<Timestamp>,
    /// The patient lookup column (the event's opaque patient id), as stored: equal to the event's
    /// `patient` while the payload is present, `None` once it is deleted. Not in the leaf.
    pub patient: Option<String>,
}

impl EntryRow {
    /// The leaf data: `commitment || recorded || retain_until` (big-endian `i64`s), or the
    /// commitment alone for an entry without a committed retention end.
    pub fn leaf_data(&self) -> Vec<u8> {
        let mut d = self.commitment.as_bytes().to_vec();
        if let Some(until) = self.retain_until {
            d.extend_from_slice(&self.recorded.unix_millis().to_be_bytes());
            d.extend_from_slice(&until.unix_millis().to_be_bytes());
        }
        d
    }

    /// The leaf hash: `SHA-256(0x00 || leaf data)`.
    pub fn leaf_hash(&self) -> Hash {
        merkle::leaf_hash(&self.leaf_data())
    }
}

/// What one append produced: the row and the tree nodes to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// The row to insert.
    pub row: EntryRow,
    /// The complete subtrees this append closed: insert them all (level 0 is the leaf hash).
    pub nodes: Vec<Node>,
}

/// The writing side of one organisation's log: its origin and the tree's right edge. No IO: the
/// caller stores what it returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogWriter {
    origin: String,
    frontier: Frontier,
}

impl LogWriter {
    /// A new, empty log. `origin` comes from [`crate::checkpoint::origin_for`].
    pub fn new(origin: &str) -> Result<Self, EntryError> {
        // Validates the origin.
        Checkpoint::new(origin, 0, merkle::empty_root())?;
        Ok(Self {
            origin: origin.to_owned(),
            frontier: Frontier::new(),
        })
    }

    /// Resumes a log from its frontier, rebuilt from stored nodes with
    /// [`Frontier::from_source`] (at most 63 node reads). Check the result's
    /// [`LogWriter::root`] against the last stored row's `root_after` before appending.
    pub fn resume(origin: &str, frontier: Frontier) -> Result<Self, EntryError> {
        Checkpoint::new(origin, 0, merkle::empty_root())?;
        Ok(Self {
            origin: origin.to_owned(),
            frontier,
        })
    }

    /// The origin line.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The number of entries.
    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// The current root.
    pub fn root(&self) -> Hash {
        self.frontier.root()
    }

    /// Appends an event with a fresh random salt.
    pub fn append(
        &mut self,
        event: &AuditEvent,
        rng: &dyn SecureRandom,
    ) -> Result<Appended, EntryError> {
        let salt = Salt::random(rng)?;
        self.append_with_salt(event, salt)
    }

    /// Appends an event with a fresh random salt and the retention end the organisation's
    /// policy gives it (committed in the leaf, so it cannot be shortened later).
    pub fn append_until(
        &mut self,
        event: &AuditEvent,
        rng: &dyn SecureRandom,
        retain_until: Timestamp,
    ) -> Result<Appended, EntryError> {
        let salt = Salt::random(rng)?;
        self.append_salted(event, salt, retain_until)
    }

    /// Appends an event with the given salt (tests and benchmarks; production uses
    /// [`LogWriter::append`]).
    pub fn append_with_salt(
        &mut self,
        event: &AuditEvent,
        salt: Salt,
    ) -> Result<Appended, EntryError> {
        self.append_salted(event, salt, retention_end(event))
    }

    fn append_salted(
        &mut self,
        event: &AuditEvent,
        salt: Salt,
        retain_until: Timestamp,
    ) -> Result<Appended, EntryError> {
        let bytes = event.to_canonical()?;
        let mut row = EntryRow {
            seq: self.frontier.size(),
            commitment: commitment(&salt, &bytes),
            payload: Some(Payload { salt, event: bytes }),
            root_after: merkle::empty_root(),
            recorded: event.recorded,
            retain_until: Some(retain_until),
            patient: event.patient.as_ref().map(|p| p.as_str().to_owned()),
        };
        let nodes = self.frontier.append(row.leaf_hash())?;
        row.root_after = self.frontier.root();
        Ok(Appended { row, nodes })
    }

    /// The unsigned checkpoint of the current tree.
    pub fn unsigned_checkpoint(&self) -> Result<Checkpoint, EntryError> {
        Ok(Checkpoint::new(
            &self.origin,
            self.frontier.size(),
            self.frontier.root(),
        )?)
    }

    /// Signs a checkpoint of the current tree. Call at every commit, after the batch's appends.
    pub fn checkpoint(&self, signer: &Signer) -> Result<SignedCheckpoint, EntryError> {
        Ok(signer.sign(&self.unsigned_checkpoint()?)?)
    }
}
