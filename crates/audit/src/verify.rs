//! Verification of a stored log: rows in `seq` order plus stored checkpoints in, the first bad
//! entry out. Pure and streaming: [`LogVerifier`] holds `O(log n)` state, so the store can feed it
//! rows straight from a cursor. [`verify_log`] wraps it for a slice.
//!
//! Every stored column is covered (review finding 8, PC-VENDOR-3): each is either hashed into the
//! tree that the signed checkpoints vouch for, or must equal what the committed event says.
//!
//! Checks, in stream order (the first failure wins):
//! 1. `seq` runs 0, 1, 2, … without gaps or repeats ([`VerifyErrorKind::Missing`],
//!    [`VerifyErrorKind::OutOfOrder`]).
//! 2. A present payload recomputes its row's commitment ([`VerifyErrorKind::PayloadMismatch`]),
//!    decodes, and the lookup columns `patient` and `recorded` equal the event's
//!    ([`VerifyErrorKind::ColumnMismatch`]). Queries such as a patient's access log select by
//!    these columns, so an edit there could hide an entry.
//! 3. A missing payload is allowed only once the entry's committed retention end has passed
//!    ([`VerifyOptions::now`]); its `patient` column must then be empty too
//!    ([`VerifyErrorKind::PayloadRemovedEarly`], [`VerifyErrorKind::ColumnMismatch`]).
//! 4. The tree recomputed from all leaves so far (commitment, `recorded`, `retain_until`) has the
//!    row's stored `root_after` ([`VerifyErrorKind::RootMismatch`]).
//! 5. Each stored checkpoint, when the stream reaches its size: parses, names this log's origin,
//!    carries a valid signature by a trusted key, and its root equals the recomputed root
//!    ([`VerifyErrorKind::CheckpointMalformed`], [`VerifyErrorKind::WrongOrigin`],
//!    [`VerifyErrorKind::CheckpointSignature`], [`VerifyErrorKind::CheckpointRoot`]).
//! 6. The stored tree nodes, if the caller checks them ([`LogVerifier::unchecked_nodes`],
//!    [`LogVerifier::check_nodes`], [`LogVerifier::check_node_count`]): exactly the nodes the
//!    recomputed tree closed, no more ([`VerifyErrorKind::NodeMismatch`]).
//! 7. At the end: no valid checkpoint is larger than the log ([`VerifyErrorKind::Truncated`]),
//!    and the last valid checkpoint covers every entry ([`VerifyErrorKind::Unsigned`]) unless
//!    [`VerifyOptions::allow_unsigned_tail`] is set.
//!
//! `first_bad_seq` names the entry: the row itself for checks 1–4; for checkpoint failures the
//! first entry the failing checkpoint should vouch for that no earlier valid checkpoint vouches
//! for (with a checkpoint per append, exactly the changed entry); for a node the entry whose append
//! closed it; for truncation the first missing entry.

use crate::checkpoint::{CheckpointError, SignedCheckpoint, VerifyingKey};
use crate::entry::EntryRow;
use crate::event::{AuditEvent, Timestamp};
use crate::merkle::{Frontier, Hash, Node};

/// A checkpoint as stored: its tree size (the key of the checkpoints table) and its exact text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    /// The tree size the store filed it under.
    pub tree_size: u64,
    /// The signed checkpoint text.
    pub text: String,
}

impl From<&SignedCheckpoint> for StoredCheckpoint {
    fn from(c: &SignedCheckpoint) -> Self {
        Self {
            tree_size: c.checkpoint().size(),
            text: c.text().to_owned(),
        }
    }
}

/// Verification policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VerifyOptions {
    /// Accept entries after the last valid checkpoint. Off by default: Trygg signs a checkpoint
    /// in every commit, so an unsigned entry is one someone inserted without the key.
    pub allow_unsigned_tail: bool,
    /// The time against which retention ends are judged: an entry may lack its payload only if
    /// its committed `retain_until` is at or before this. `None`: no payload may be missing.
    pub now: Option<Timestamp>,
}

/// What is wrong. [`VerifyErrorKind::code`] gives a stable code for scripts and support.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyErrorKind {
    /// A gap in `seq`: the entry was deleted.
    #[error("entry is missing (deleted)")]
    Missing,
    /// A `seq` at or below one already seen: rows duplicated or not in order.
    #[error("entry is duplicated or out of order")]
    OutOfOrder,
    /// The payload does not hash to the stored commitment: the event or its salt was edited.
    #[error("event does not match its commitment (edited)")]
    PayloadMismatch,
    /// The recomputed root differs from the row's stored root: a commitment was edited, or
    /// entries were reordered, removed or inserted.
    #[error(
        "tree root differs from the stored root (edited, reordered, inserted or removed entries)"
    )]
    RootMismatch,
    /// A stored checkpoint does not parse, or its size differs from the size it is filed under.
    #[error("checkpoint at size {tree_size} is malformed: {reason}")]
    CheckpointMalformed {
        /// The size it is filed under.
        tree_size: u64,
        /// Why.
        reason: CheckpointError,
    },
    /// A stored checkpoint names another log.
    #[error("checkpoint at size {tree_size} belongs to another log ({origin})")]
    WrongOrigin {
        /// Its size.
        tree_size: u64,
        /// The origin it names.
        origin: String,
    },
    /// A stored checkpoint's signature is missing, untrusted or invalid: forged or edited.
    #[error("checkpoint at size {tree_size} is not validly signed: {reason}")]
    CheckpointSignature {
        /// Its size.
        tree_size: u64,
        /// Why.
        reason: CheckpointError,
    },
    /// A validly signed checkpoint's root differs from the recomputed root: entries were
    /// rewritten together with their stored roots.
    #[error("entries differ from those signed in the checkpoint at size {tree_size}")]
    CheckpointRoot {
        /// Its size.
        tree_size: u64,
    },
    /// A validly signed checkpoint is larger than the log: entries were cut from the end.
    #[error("log has {entries} entries but a signed checkpoint has {tree_size}: entries were removed from the end")]
    Truncated {
        /// Entries present.
        entries: u64,
        /// The checkpoint's size.
        tree_size: u64,
    },
    /// Entries after the last valid checkpoint.
    #[error("entries from here to {entries} are not covered by a signed checkpoint")]
    Unsigned {
        /// Entries present.
        entries: u64,
    },
    /// A stored lookup column differs from the committed event (or, without a payload, is not
    /// empty): the entry could be hidden from, or shown in, the wrong query.
    #[error("stored column `{column}` differs from the committed event (edited)")]
    ColumnMismatch {
        /// The column.
        column: &'static str,
    },
    /// A stored column cannot be read as what it holds (wrong length, negative, half a payload,
    /// an event that does not decode).
    #[error("stored column `{column}` is malformed")]
    Malformed {
        /// The column.
        column: &'static str,
    },
    /// The payload is gone although its retention has not ended (or no retention end was
    /// committed for it).
    #[error("payload was removed before its retention end{}", match retain_until {
        Some(t) => format!(" ({} ms after the epoch)", t.unix_millis()),
        None => " (none was committed)".to_owned(),
    })]
    PayloadRemovedEarly {
        /// The committed retention end, if any.
        retain_until: Option<Timestamp>,
    },
    /// The stored tree nodes are not exactly those of the recomputed tree: a node was edited,
    /// added or removed.
    #[error(
        "stored tree node (audit_node) differs from the recomputed tree (edited, added or removed)"
    )]
    NodeMismatch,
    /// The log has entries but no copy of its latest checkpoint is kept outside its database,
    /// so removing the newest entries with their checkpoints could not be detected.
    #[error("no copy of the log's latest checkpoint outside its database (audit_heads): entries from here on may have been removed")]
    NoOutsideCheckpoint,
}

impl VerifyErrorKind {
    /// A stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Missing => "AUDV01",
            Self::OutOfOrder => "AUDV02",
            Self::PayloadMismatch => "AUDV03",
            Self::RootMismatch => "AUDV04",
            Self::CheckpointMalformed { .. } => "AUDV05",
            Self::WrongOrigin { .. } => "AUDV06",
            Self::CheckpointSignature { .. } => "AUDV07",
            Self::CheckpointRoot { .. } => "AUDV08",
            Self::Truncated { .. } => "AUDV09",
            Self::Unsigned { .. } => "AUDV10",
            Self::ColumnMismatch { .. } => "AUDV11",
            Self::Malformed { .. } => "AUDV12",
            Self::PayloadRemovedEarly { .. } => "AUDV13",
            Self::NodeMismatch => "AUDV14",
            Self::NoOutsideCheckpoint => "AUDV15",
        }
    }
}

/// The log failed verification; `first_bad_seq` names the first bad entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("audit entry {first_bad_seq}: {kind} [{}]", kind.code())]
pub struct VerifyError {
    /// The first entry that cannot be trusted.
    pub first_bad_seq: u64,
    /// What is wrong.
    pub kind: VerifyErrorKind,
}

/// A log that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifySummary {
    /// Entries.
    pub entries: u64,
    /// The recomputed root.
    pub root: Hash,
    /// Checkpoints that verified.
    pub checkpoints: usize,
    /// The size of the largest valid checkpoint, if any.
    pub latest_checkpoint: Option<u64>,
    /// Entries whose payload is still present (and matched).
    pub payloads_present: u64,
    /// Entries whose payload was deleted at retention end.
    pub payloads_deleted: u64,
}

/// Streaming verifier. Feed every row in `seq` order with [`LogVerifier::push`], stop at the first
/// error, then call [`LogVerifier::finish`].
#[derive(Debug)]
pub struct LogVerifier<'k> {
    origin: String,
    keys: &'k [VerifyingKey],
    /// Stored checkpoints, largest size first, so the next one is at the end.
    pending: Vec<StoredCheckpoint>,
    frontier: Frontier,
    vouched: u64,
    latest: Option<u64>,
    verified: usize,
    present: u64,
    deleted: u64,
    options: VerifyOptions,
    /// Nodes closed by pushed entries and not yet checked against stored ones, with the entry.
    closed: Vec<(u64, Node)>,
    /// Nodes closed by all pushed entries.
    nodes_closed: u64,
}

impl<'k> LogVerifier<'k> {
    /// A verifier for the log named `origin`, trusting `keys`. `checkpoints` are all stored
    /// checkpoints, plus any obtained outside the database (a witness, the control database, a
    /// printed one): those make truncation detectable.
    pub fn new(
        origin: &str,
        keys: &'k [VerifyingKey],
        mut checkpoints: Vec<StoredCheckpoint>,
        options: VerifyOptions,
    ) -> Self {
        checkpoints.sort_by_key(|c| std::cmp::Reverse(c.tree_size));
        Self {
            origin: origin.to_owned(),
            keys,
            pending: checkpoints,
            frontier: Frontier::new(),
            vouched: 0,
            latest: None,
            verified: 0,
            present: 0,
            deleted: 0,
            options,
            closed: Vec::new(),
            nodes_closed: 0,
        }
    }

    fn err(first_bad_seq: u64, kind: VerifyErrorKind) -> VerifyError {
        VerifyError {
            first_bad_seq,
            kind,
        }
    }

    /// The entry a failing checkpoint of `tree_size` implicates.
    fn implicated(&self, tree_size: u64) -> u64 {
        self.vouched.min(tree_size.saturating_sub(1))
    }

    /// Parses, checks origin and signature. Returns the parsed checkpoint.
    fn authentic(&self, c: &StoredCheckpoint) -> Result<SignedCheckpoint, VerifyError> {
        let at = self.implicated(c.tree_size);
        let parsed = SignedCheckpoint::parse(&c.text).map_err(|reason| {
            Self::err(
                at,
                VerifyErrorKind::CheckpointMalformed {
                    tree_size: c.tree_size,
                    reason,
                },
            )
        })?;
        if parsed.checkpoint().size() != c.tree_size {
            return Err(Self::err(
                at,
                VerifyErrorKind::CheckpointMalformed {
                    tree_size: c.tree_size,
                    reason: CheckpointError::Size,
                },
            ));
        }
        if parsed.checkpoint().origin() != self.origin {
            return Err(Self::err(
                at,
                VerifyErrorKind::WrongOrigin {
                    tree_size: c.tree_size,
                    origin: parsed.checkpoint().origin().to_owned(),
                },
            ));
        }
        parsed.verify(self.keys).map_err(|reason| {
            Self::err(
                at,
                VerifyErrorKind::CheckpointSignature {
                    tree_size: c.tree_size,
                    reason,
                },
            )
        })?;
        Ok(parsed)
    }

    /// Checks every pending checkpoint filed at the current size.
    fn checkpoints_here(&mut self) -> Result<(), VerifyError> {
        let size = self.frontier.size();
        while let Some(c) = self.pending.last() {
            if c.tree_size != size {
                break;
            }
            let parsed = self.authentic(c)?;
            if parsed.checkpoint().root() != self.frontier.root() {
                return Err(Self::err(
                    self.implicated(size),
                    VerifyErrorKind::CheckpointRoot { tree_size: size },
                ));
            }
            self.vouched = size;
            self.latest = Some(size);
            self.verified += 1;
            self.pending.pop();
        }
        Ok(())
    }

    /// Checks the next row.
    pub fn push(&mut self, row: &EntryRow) -> Result<(), VerifyError> {
        let expected = self.frontier.size();
        if expected == 0 {
            self.checkpoints_here()?;
        }
        if row.seq > expected {
            return Err(Self::err(expected, VerifyErrorKind::Missing));
        }
        if row.seq < expected {
            return Err(Self::err(row.seq, VerifyErrorKind::OutOfOrder));
        }
        match &row.payload {
            Some(p) => {
                if p.commitment() != row.commitment {
                    return Err(Self::err(row.seq, VerifyErrorKind::PayloadMismatch));
                }
                let event = AuditEvent::from_canonical(&p.event).map_err(|_| {
                    Self::err(row.seq, VerifyErrorKind::Malformed { column: "event" })
                })?;
                // The lookup columns queries select by (finding 8).
                if row.patient.as_deref() != event.patient.as_ref().map(|x| x.as_str()) {
                    return Err(Self::err(
                        row.seq,
                        VerifyErrorKind::ColumnMismatch { column: "patient" },
                    ));
                }
                if row.recorded != event.recorded {
                    return Err(Self::err(
                        row.seq,
                        VerifyErrorKind::ColumnMismatch { column: "recorded" },
                    ));
                }
                self.present += 1;
            }
            None => {
                let ended = match (row.retain_until, self.options.now) {
                    (Some(until), Some(now)) => until <= now,
                    _ => false,
                };
                if !ended {
                    return Err(Self::err(
                        row.seq,
                        VerifyErrorKind::PayloadRemovedEarly {
                            retain_until: row.retain_until,
                        },
                    ));
                }
                if row.patient.is_some() {
                    return Err(Self::err(
                        row.seq,
                        VerifyErrorKind::ColumnMismatch { column: "patient" },
                    ));
                }
                self.deleted += 1;
            }
        }
        let nodes = self
            .frontier
            .append(row.leaf_hash())
            .map_err(|_| Self::err(row.seq, VerifyErrorKind::OutOfOrder))?;
        if self.frontier.root() != row.root_after {
            return Err(Self::err(row.seq, VerifyErrorKind::RootMismatch));
        }
        self.nodes_closed += nodes.len() as u64;
        self.closed.extend(nodes.into_iter().map(|n| (row.seq, n)));
        self.checkpoints_here()
    }

    /// The tree nodes closed by the entries pushed since the last [`LogVerifier::check_nodes`],
    /// each with the entry whose append closed it: look these up in the store's node table.
    pub fn unchecked_nodes(&self) -> &[(u64, Node)] {
        &self.closed
    }

    /// Compares the stored hashes of [`LogVerifier::unchecked_nodes`] (same order; `None` where
    /// no node is stored) with the recomputed ones, then forgets them. Names the entry that
    /// closed the first differing node.
    pub fn check_nodes(&mut self, stored: &[Option<Hash>]) -> Result<(), VerifyError> {
        if stored.len() != self.closed.len() {
            let at = self.closed.first().map_or(self.frontier.size(), |c| c.0);
            return Err(Self::err(at, VerifyErrorKind::NodeMismatch));
        }
        for ((seq, node), got) in self.closed.iter().zip(stored) {
            if *got != Some(node.hash) {
                return Err(Self::err(*seq, VerifyErrorKind::NodeMismatch));
            }
        }
        self.closed.clear();
        Ok(())
    }

    /// Checks that the store holds no node beyond those the pushed entries closed: after
    /// [`LogVerifier::check_nodes`] found each of them, an equal count means none was added.
    pub fn check_node_count(&self, stored: u64) -> Result<(), VerifyError> {
        if stored != self.nodes_closed {
            return Err(Self::err(
                self.frontier.size(),
                VerifyErrorKind::NodeMismatch,
            ));
        }
        Ok(())
    }

    /// Ends the stream.
    pub fn finish(mut self) -> Result<VerifySummary, VerifyError> {
        let entries = self.frontier.size();
        if entries == 0 {
            self.checkpoints_here()?;
        }
        // Whatever is left is larger than the log.
        if let Some(c) = self.pending.pop() {
            self.authentic(&c)?;
            return Err(Self::err(
                entries,
                VerifyErrorKind::Truncated {
                    entries,
                    tree_size: c.tree_size,
                },
            ));
        }
        if !self.options.allow_unsigned_tail && self.vouched < entries {
            return Err(Self::err(
                self.vouched,
                VerifyErrorKind::Unsigned { entries },
            ));
        }
        Ok(VerifySummary {
            entries,
            root: self.frontier.root(),
            checkpoints: self.verified,
            latest_checkpoint: self.latest,
            payloads_present: self.present,
            payloads_deleted: self.deleted,
        })
    }
}

/// Verifies a whole log held in memory. See [`LogVerifier`].
pub fn verify_log<'a>(
    origin: &str,
    keys: &[VerifyingKey],
    rows: impl IntoIterator<Item = &'a EntryRow>,
    checkpoints: Vec<StoredCheckpoint>,
    options: VerifyOptions,
) -> Result<VerifySummary, VerifyError> {
    let mut v = LogVerifier::new(origin, keys, checkpoints, options);
    for row in rows {
        v.push(row)?;
    }
    v.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_entry_and_a_stable_code() {
        let e = VerifyError {
            first_bad_seq: 41,
            kind: VerifyErrorKind::PayloadMismatch,
        };
        assert_eq!(
            e.to_string(),
            "audit entry 41: event does not match its commitment (edited) [AUDV03]"
        );
        let kinds = [
            VerifyErrorKind::Missing,
            VerifyErrorKind::OutOfOrder,
            VerifyErrorKind::PayloadMismatch,
            VerifyErrorKind::RootMismatch,
            VerifyErrorKind::CheckpointMalformed {
                tree_size: 1,
                reason: CheckpointError::Size,
            },
            VerifyErrorKind::WrongOrigin {
                tree_size: 1,
                origin: "x".into(),
            },
            VerifyErrorKind::CheckpointSignature {
                tree_size: 1,
                reason: CheckpointError::NoTrustedSignature,
            },
            VerifyErrorKind::CheckpointRoot { tree_size: 1 },
            VerifyErrorKind::Truncated {
                entries: 1,
                tree_size: 2,
            },
            VerifyErrorKind::Unsigned { entries: 1 },
            VerifyErrorKind::ColumnMismatch { column: "patient" },
            VerifyErrorKind::Malformed { column: "salt" },
            VerifyErrorKind::PayloadRemovedEarly { retain_until: None },
            VerifyErrorKind::NodeMismatch,
            VerifyErrorKind::NoOutsideCheckpoint,
        ];
        let mut codes: Vec<&str> = kinds.iter().map(VerifyErrorKind::code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), kinds.len());
    }

    #[test]
    fn duplicated_rows_are_out_of_order() {
        let row = EntryRow {
            seq: 0,
            commitment: Hash::from_bytes([1; 32]),
            payload: None,
            root_after: crate::merkle::leaf_hash(&[1; 32]),
            recorded: Timestamp::from_unix_millis(0),
            retain_until: Some(Timestamp::from_unix_millis(0)),
            patient: None,
        };
        let v = LogVerifier::new("o", &[], Vec::new(), VerifyOptions::default());
        // Without a clock nothing has reached its retention end.
        let mut early = v;
        assert_eq!(
            early.push(&row).unwrap_err().kind,
            VerifyErrorKind::PayloadRemovedEarly {
                retain_until: Some(Timestamp::from_unix_millis(0))
            }
        );
        let row = EntryRow {
            root_after: row.leaf_hash(),
            ..row
        };
        let opts = VerifyOptions {
            now: Some(Timestamp::from_unix_millis(0)),
            ..VerifyOptions::default()
        };
        let mut v = LogVerifier::new("o", &[], Vec::new(), opts);
        v.push(&row).unwrap();
        let err = v.push(&row).unwrap_err();
        assert_eq!(err.first_bad_seq, 0);
        assert_eq!(err.kind, VerifyErrorKind::OutOfOrder);
    }
}
