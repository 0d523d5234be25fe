//! Tamper tests for the audit log (PC-VENDOR-3: a tamper-evident log): a log is built in memory as
//! the store would build it, edited the way an attacker with write access to the database file
//! could edit it, and verified. Each edit must be caught and must name the right first entry.
// Test code: a failed unwrap is a failed test. (clippy.toml allows these inside `#[test]` functions
// only; the fixture builders here are test code too.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use aws_lc_rs::rand::SystemRandom;
use proptest::prelude::*;
use trygg_audit::merkle::{self, MemoryNodes, NodeSource};
use trygg_audit::testing::sample_event;
use trygg_audit::{
    verify_log, Checkpoint, EntryRow, Frontier, LogVerifier, LogWriter, Payload, Salt, Signer,
    StoredCheckpoint, Timestamp, VerifyError, VerifyErrorKind, VerifyOptions, VerifyingKey,
    RETENTION_MILLIS,
};

const ORIGIN: &str = "trygg.local/audit/normland-legesenter";

struct Log {
    signer: Signer,
    key: VerifyingKey,
    rows: Vec<EntryRow>,
    cps: Vec<StoredCheckpoint>,
    nodes: MemoryNodes,
}

fn signer() -> Signer {
    let pkcs8 = Signer::generate_pkcs8(&SystemRandom::new()).unwrap();
    Signer::from_pkcs8(ORIGIN, &pkcs8).unwrap()
}

fn salt(i: u64) -> Salt {
    let mut b = [0u8; 32];
    b[..8].copy_from_slice(&i.to_be_bytes());
    b[31] = 0x5a;
    Salt::from_bytes(b)
}

/// A log of `n` entries, committed in batches of `batch` with a checkpoint per commit.
fn build(n: u64, batch: u64) -> Log {
    let signer = signer();
    let mut w = LogWriter::new(ORIGIN).unwrap();
    let mut rows = Vec::new();
    let mut cps = Vec::new();
    let mut nodes = MemoryNodes::new();
    for i in 0..n {
        let ev = sample_event(1_700_000_000_000 + i as i64, &format!("p-{}", i % 7)).unwrap();
        let a = w.append_with_salt(&ev, salt(i)).unwrap();
        nodes.extend(a.nodes);
        rows.push(a.row);
        if (i + 1) % batch == 0 || i + 1 == n {
            cps.push(StoredCheckpoint::from(&w.checkpoint(&signer).unwrap()));
        }
    }
    Log {
        key: signer.verifying_key(),
        signer,
        rows,
        cps,
        nodes,
    }
}

fn verify(log: &Log) -> Result<trygg_audit::VerifySummary, VerifyError> {
    verify_log(
        ORIGIN,
        std::slice::from_ref(&log.key),
        &log.rows,
        log.cps.clone(),
        VerifyOptions::default(),
    )
}

fn first_bad(log: &Log) -> (u64, VerifyErrorKind) {
    let e = verify(log).expect_err("tampering must be detected");
    (e.first_bad_seq, e.kind)
}

/// What an attacker without the key can do best: replace entry `k` with a new event, give it a
/// fresh commitment, and recompute `root_after` of it and every later row.
fn rewrite_from(log: &mut Log, k: usize) {
    let mut f = Frontier::new();
    for (i, row) in log.rows.iter_mut().enumerate() {
        if i == k {
            let forged = sample_event(1, "p-innocent")
                .unwrap()
                .to_canonical()
                .unwrap();
            let p = Payload {
                salt: salt(999),
                event: forged,
            };
            // Consistent lookup columns: only the checkpoints can tell.
            row.patient = Some("p-innocent".into());
            row.recorded = Timestamp::from_unix_millis(1);
            row.commitment = p.commitment();
            row.payload = Some(p);
        }
        f.append(row.leaf_hash()).unwrap();
        if i >= k {
            row.root_after = f.root();
        }
    }
}

#[test]
fn an_untouched_log_verifies() {
    let log = build(10, 1);
    let s = verify(&log).unwrap();
    assert_eq!(s.entries, 10);
    assert_eq!(s.checkpoints, 10);
    assert_eq!(s.latest_checkpoint, Some(10));
    assert_eq!(s.payloads_present, 10);
    assert_eq!(s.root, log.rows[9].root_after);
}

#[test]
fn an_empty_log_verifies_and_an_empty_checkpoint_is_checked() {
    let s = signer();
    let w = LogWriter::new(ORIGIN).unwrap();
    let cp = StoredCheckpoint::from(&w.checkpoint(&s).unwrap());
    let key = [s.verifying_key()];
    let ok = verify_log(
        ORIGIN,
        &key,
        &[],
        vec![cp.clone()],
        VerifyOptions::default(),
    )
    .unwrap();
    assert_eq!((ok.entries, ok.checkpoints), (0, 1));
    let forged = StoredCheckpoint {
        tree_size: 0,
        text: cp.text.replace(ORIGIN, "trygg.local/audit/other-org"),
    };
    let e = verify_log(ORIGIN, &key, &[], vec![forged], VerifyOptions::default()).unwrap_err();
    assert!(matches!(e.kind, VerifyErrorKind::WrongOrigin { .. }));
}

#[test]
fn edited_payload_is_named() {
    let mut log = build(10, 1);
    let p = log.rows[4].payload.as_mut().unwrap();
    p.event = String::from_utf8(p.event.clone())
        .unwrap()
        .replace("\"R\"", "\"D\"")
        .into_bytes();
    assert_eq!(first_bad(&log), (4, VerifyErrorKind::PayloadMismatch));
}

#[test]
fn deleted_entry_is_named() {
    let mut log = build(10, 1);
    log.rows.remove(6);
    assert_eq!(first_bad(&log), (6, VerifyErrorKind::Missing));
}

#[test]
fn deleted_and_renumbered_entries_are_named() {
    let mut log = build(10, 1);
    log.rows.remove(6);
    for r in log.rows.iter_mut().skip(6) {
        r.seq -= 1;
    }
    assert_eq!(first_bad(&log), (6, VerifyErrorKind::RootMismatch));
}

#[test]
fn reordered_entries_are_named() {
    let mut log = build(10, 1);
    // Swap the contents of seq 2 and 7; seq values stay in place (what `ORDER BY seq` returns).
    let (a, b) = (log.rows[2].clone(), log.rows[7].clone());
    log.rows[2] = EntryRow { seq: 2, ..b };
    log.rows[7] = EntryRow { seq: 7, ..a };
    assert_eq!(first_bad(&log), (2, VerifyErrorKind::RootMismatch));
}

#[test]
fn edited_commitment_is_named_with_or_without_payload() {
    let mut log = build(10, 1);
    log.rows[3].commitment = merkle::leaf_hash(b"forged");
    assert_eq!(first_bad(&log), (3, VerifyErrorKind::PayloadMismatch));
    delete_payload(&mut log.rows[3]);
    let e = verify_at(&log, LATER).unwrap_err();
    assert_eq!(
        (e.first_bad_seq, e.kind),
        (3, VerifyErrorKind::RootMismatch)
    );
}

#[test]
fn rewritten_history_is_caught_by_the_checkpoints() {
    let mut log = build(10, 1);
    rewrite_from(&mut log, 5);
    assert_eq!(
        first_bad(&log),
        (5, VerifyErrorKind::CheckpointRoot { tree_size: 6 })
    );
    // With commits of four entries the batch is named: entries 4..8.
    let mut log = build(10, 4);
    rewrite_from(&mut log, 5);
    assert_eq!(
        first_bad(&log),
        (4, VerifyErrorKind::CheckpointRoot { tree_size: 8 })
    );
}

#[test]
fn forged_checkpoints_are_caught() {
    let mut log = build(10, 1);
    let attacker = signer();
    let fake = attacker
        .sign(&Checkpoint::new(ORIGIN, 7, log.rows[6].root_after).unwrap())
        .unwrap();
    log.cps[6] = StoredCheckpoint::from(&fake);
    let (seq, kind) = first_bad(&log);
    assert_eq!(seq, 6);
    assert!(matches!(
        kind,
        VerifyErrorKind::CheckpointSignature { tree_size: 7, .. }
    ));
    // An edited checkpoint text (size and root of a rewritten log) fails the same way.
    let mut log = build(10, 1);
    log.cps[9].text = log.cps[9].text.replacen("\n10\n", "\n9\n", 1);
    log.cps[9].tree_size = 9;
    assert!(matches!(
        first_bad(&log).1,
        VerifyErrorKind::CheckpointSignature { tree_size: 9, .. }
    ));
    // Filed under a size other than its own.
    let mut log = build(10, 1);
    log.cps[9].tree_size = 8;
    assert!(matches!(
        first_bad(&log).1,
        VerifyErrorKind::CheckpointMalformed { tree_size: 8, .. }
    ));
}

#[test]
fn truncation_is_caught_while_a_checkpoint_remains() {
    let mut log = build(10, 1);
    log.rows.truncate(7);
    assert_eq!(
        first_bad(&log),
        (
            7,
            VerifyErrorKind::Truncated {
                entries: 7,
                tree_size: 8
            }
        )
    );
}

#[test]
fn rollback_needs_an_outside_checkpoint() {
    let mut log = build(10, 1);
    let outside = log.cps[9].clone();
    log.rows.truncate(7);
    log.cps.truncate(7);
    // The database alone looks like a valid log of seven entries: this is the documented limit.
    assert_eq!(verify(&log).unwrap().entries, 7);
    // The latest checkpoint kept outside the database catches it.
    log.cps.push(outside);
    assert_eq!(
        first_bad(&log),
        (
            7,
            VerifyErrorKind::Truncated {
                entries: 7,
                tree_size: 10
            }
        )
    );
}

#[test]
fn entries_appended_without_the_key_are_caught() {
    let mut log = build(10, 1);
    // The attacker appends a consistent row but cannot sign a checkpoint for it.
    let mut f = Frontier::from_source(&log.nodes, 10).unwrap();
    let mut w = LogWriter::resume(ORIGIN, f.clone()).unwrap();
    let a = w
        .append_with_salt(&sample_event(2, "p-framed").unwrap(), salt(77))
        .unwrap();
    f.append(a.row.leaf_hash()).unwrap();
    assert_eq!(a.row.root_after, f.root());
    log.rows.push(a.row);
    assert_eq!(
        first_bad(&log),
        (10, VerifyErrorKind::Unsigned { entries: 11 })
    );
    let relaxed = verify_log(
        ORIGIN,
        std::slice::from_ref(&log.key),
        &log.rows,
        log.cps.clone(),
        VerifyOptions {
            allow_unsigned_tail: true,
            ..VerifyOptions::default()
        },
    )
    .unwrap();
    assert_eq!(relaxed.entries, 11);
    assert_eq!(relaxed.latest_checkpoint, Some(10));
    // Only the key holder can cover it.
    log.cps
        .push(StoredCheckpoint::from(&w.checkpoint(&log.signer).unwrap()));
    assert_eq!(verify(&log).unwrap().entries, 11);
}

/// Verification with the clock at `now` (Unix milliseconds).
fn verify_at(log: &Log, now: i64) -> Result<trygg_audit::VerifySummary, VerifyError> {
    verify_log(
        ORIGIN,
        std::slice::from_ref(&log.key),
        &log.rows,
        log.cps.clone(),
        VerifyOptions {
            now: Some(Timestamp::from_unix_millis(now)),
            ..VerifyOptions::default()
        },
    )
}

/// What retention deletion does to a row: the payload and the patient lookup column go.
fn delete_payload(row: &mut EntryRow) {
    row.payload = None;
    row.patient = None;
}

/// After every `build` entry's retention end.
const LATER: i64 = 1_700_000_000_000 + RETENTION_MILLIS + 1_000;

#[test]
fn retention_deletion_keeps_the_log_verifiable() {
    // PC-STORE-1: payloads go at retention end, the tree and the checkpoints stay valid.
    let mut log = build(12, 3);
    for r in log.rows.iter_mut().take(8) {
        delete_payload(r);
    }
    let s = verify_at(&log, LATER).unwrap();
    assert_eq!((s.payloads_deleted, s.payloads_present), (8, 4));
    // And proofs still work from the stored nodes.
    let cp = trygg_audit::SignedCheckpoint::parse(&log.cps[3].text).unwrap();
    cp.verify(std::slice::from_ref(&log.key)).unwrap();
    let proof = merkle::inclusion_proof(&log.nodes, 2, 12).unwrap();
    merkle::verify_inclusion(
        &log.rows[2].leaf_hash(),
        2,
        12,
        &proof,
        &cp.checkpoint().root(),
    )
    .unwrap();
}

#[test]
fn finding_8_payload_removed_before_its_retention_end_is_named() {
    let mut log = build(10, 1);
    delete_payload(&mut log.rows[4]);
    let until = log.rows[4].retain_until.unwrap();
    assert_eq!(until.unix_millis(), 1_700_000_000_004 + RETENTION_MILLIS);
    let early = VerifyErrorKind::PayloadRemovedEarly {
        retain_until: Some(until),
    };
    // Without a clock, and a millisecond before the end: tampering.
    assert_eq!(first_bad(&log), (4, early.clone()));
    let e = verify_at(&log, until.unix_millis() - 1).unwrap_err();
    assert_eq!((e.first_bad_seq, e.kind), (4, early));
    // At the end it is allowed.
    assert_eq!(
        verify_at(&log, until.unix_millis())
            .unwrap()
            .payloads_deleted,
        1
    );
    // Moving the committed retention end forward to excuse the deletion breaks the tree.
    log.rows[4].retain_until = Some(Timestamp::from_unix_millis(0));
    let e = verify_at(&log, until.unix_millis() - 1).unwrap_err();
    assert_eq!(
        (e.first_bad_seq, e.kind),
        (4, VerifyErrorKind::RootMismatch)
    );
}

#[test]
fn finding_8_edited_patient_column_is_named() {
    // The patient lookup column selects a patient's access log: pointing it elsewhere would hide
    // the entry from that patient (PC-RIGHTS-1).
    let mut log = build(10, 1);
    let patient = VerifyErrorKind::ColumnMismatch { column: "patient" };
    log.rows[4].patient = Some("p-other".into());
    assert_eq!(first_bad(&log), (4, patient.clone()));
    log.rows[4].patient = None;
    assert_eq!(first_bad(&log), (4, patient.clone()));
    // After retention deletion the column must be empty too.
    let mut log = build(10, 1);
    log.rows[6].payload = None;
    let e = verify_at(&log, LATER).unwrap_err();
    assert_eq!((e.first_bad_seq, e.kind), (6, patient));
}

#[test]
fn finding_8_edited_recorded_column_is_named() {
    let mut log = build(10, 1);
    log.rows[3].recorded = Timestamp::from_unix_millis(1);
    assert_eq!(
        first_bad(&log),
        (3, VerifyErrorKind::ColumnMismatch { column: "recorded" })
    );
    // Without its payload the column is still committed in the leaf.
    delete_payload(&mut log.rows[3]);
    let e = verify_at(&log, LATER).unwrap_err();
    assert_eq!(
        (e.first_bad_seq, e.kind),
        (3, VerifyErrorKind::RootMismatch)
    );
}

#[test]
fn entries_without_a_committed_retention_end_keep_their_payload() {
    // Entries written before `retain_until` was committed have the old leaf (the commitment
    // alone); they verify, and their payload may not be removed at any time.
    let signer = signer();
    let mut f = Frontier::new();
    let mut rows = Vec::new();
    let mut w = LogWriter::new(ORIGIN).unwrap();
    for i in 0..5 {
        let ev = sample_event(1_000 + i as i64, "p-1").unwrap();
        let mut row = w.append_with_salt(&ev, salt(i)).unwrap().row;
        row.retain_until = None;
        assert_eq!(row.leaf_data(), row.commitment.as_bytes().to_vec());
        f.append(row.leaf_hash()).unwrap();
        row.root_after = f.root();
        rows.push(row);
    }
    let cp = Checkpoint::new(ORIGIN, 5, f.root()).unwrap();
    let mut log = Log {
        key: signer.verifying_key(),
        cps: vec![StoredCheckpoint::from(&signer.sign(&cp).unwrap())],
        signer,
        rows,
        nodes: MemoryNodes::new(),
    };
    assert_eq!(verify(&log).unwrap().entries, 5);
    delete_payload(&mut log.rows[2]);
    let e = verify_at(&log, i64::MAX).unwrap_err();
    assert_eq!(
        (e.first_bad_seq, e.kind),
        (
            2,
            VerifyErrorKind::PayloadRemovedEarly { retain_until: None }
        )
    );
}

/// Verifies rows and the stored tree nodes the way the store does.
fn verify_with_nodes(log: &Log, nodes: &MemoryNodes) -> Result<(), VerifyError> {
    let keys = std::slice::from_ref(&log.key);
    let mut v = LogVerifier::new(ORIGIN, keys, log.cps.clone(), VerifyOptions::default());
    for row in &log.rows {
        v.push(row)?;
        let stored: Vec<_> = v
            .unchecked_nodes()
            .iter()
            .map(|(_, n)| nodes.node(n.id).ok())
            .collect();
        v.check_nodes(&stored)?;
    }
    v.check_node_count(nodes.len() as u64)?;
    v.finish().map(|_| ())
}

#[test]
fn edited_added_or_removed_tree_nodes_are_named() {
    let log = build(10, 1);
    verify_with_nodes(&log, &log.nodes).unwrap();
    // Node (level 1, index 2) covers leaves 4 and 5: closed by entry 5.
    let id = trygg_audit::NodeId { level: 1, index: 2 };
    let mut edited = log.nodes.clone();
    edited.insert(trygg_audit::Node {
        id,
        hash: merkle::leaf_hash(b"forged"),
    });
    assert_eq!(edited.len(), log.nodes.len());
    let e = verify_with_nodes(&log, &edited).unwrap_err();
    assert_eq!(
        (e.first_bad_seq, e.kind),
        (5, VerifyErrorKind::NodeMismatch)
    );
    // An extra node is caught by the count.
    let mut extra = log.nodes.clone();
    extra.insert(trygg_audit::Node {
        id: trygg_audit::NodeId {
            level: 40,
            index: 0,
        },
        hash: merkle::leaf_hash(b"x"),
    });
    let e = verify_with_nodes(&log, &extra).unwrap_err();
    assert_eq!(
        (e.first_bad_seq, e.kind),
        (10, VerifyErrorKind::NodeMismatch)
    );
}

#[test]
fn writer_resumes_from_stored_nodes() {
    let log = build(13, 1);
    let f = Frontier::from_source(&log.nodes, 13).unwrap();
    let mut resumed = LogWriter::resume(ORIGIN, f).unwrap();
    assert_eq!(resumed.root(), log.rows[12].root_after);
    let mut fresh = LogWriter::new(ORIGIN).unwrap();
    for i in 0..13 {
        let ev = sample_event(1_700_000_000_000 + i, &format!("p-{}", i % 7)).unwrap();
        fresh.append_with_salt(&ev, salt(i as u64)).unwrap();
    }
    let ev = sample_event(5, "p-1").unwrap();
    assert_eq!(
        resumed.append_with_salt(&ev, salt(50)).unwrap(),
        fresh.append_with_salt(&ev, salt(50)).unwrap()
    );
    // Random salts differ per append, so equal events get different commitments.
    let rng = SystemRandom::new();
    let a = resumed.append(&ev, &rng).unwrap();
    let b = resumed.append(&ev, &rng).unwrap();
    assert_ne!(a.row.commitment, b.row.commitment);
}

#[derive(Debug, Clone)]
enum Tamper {
    FlipEventByte { k: usize, byte: usize },
    FlipSaltByte { k: usize, byte: usize },
    Delete { k: usize },
    Swap { i: usize, j: usize },
    EditCommitment { k: usize },
    Rewrite { k: usize },
}

fn tamper() -> impl Strategy<Value = (u64, u64, Tamper)> {
    (2u64..40, 1u64..5).prop_flat_map(|(n, batch)| {
        let k = 0..n as usize;
        let t = prop_oneof![
            (k.clone(), any::<usize>()).prop_map(|(k, byte)| Tamper::FlipEventByte { k, byte }),
            (k.clone(), 0usize..32).prop_map(|(k, byte)| Tamper::FlipSaltByte { k, byte }),
            k.clone().prop_map(|k| Tamper::Delete { k }),
            (k.clone(), k.clone())
                .prop_filter("two rows", |(i, j)| i != j)
                .prop_map(|(i, j)| Tamper::Swap {
                    i: i.min(j),
                    j: i.max(j)
                }),
            k.clone().prop_map(|k| Tamper::EditCommitment { k }),
            k.prop_map(|k| Tamper::Rewrite { k }),
        ];
        (Just(n), Just(batch), t)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn every_tampering_is_detected_at_the_right_entry((n, batch, t) in tamper()) {
        let mut log = build(n, batch);
        let expected = match t {
            Tamper::FlipEventByte { k, byte } => {
                let p = log.rows[k].payload.as_mut().unwrap();
                let at = byte % p.event.len();
                p.event[at] ^= 0x01;
                k as u64
            }
            Tamper::FlipSaltByte { k, byte } => {
                let p = log.rows[k].payload.as_mut().unwrap();
                let mut b = *p.salt.as_bytes();
                b[byte] ^= 0x80;
                p.salt = Salt::from_bytes(b);
                k as u64
            }
            Tamper::Delete { k } => {
                log.rows.remove(k);
                k as u64
            }
            Tamper::Swap { i, j } => {
                let (a, b) = (log.rows[i].clone(), log.rows[j].clone());
                log.rows[i] = EntryRow { seq: i as u64, ..b };
                log.rows[j] = EntryRow { seq: j as u64, ..a };
                i as u64
            }
            Tamper::EditCommitment { k } => {
                log.rows[k].commitment = merkle::leaf_hash(&log.rows[k].commitment.to_hex().into_bytes());
                k as u64
            }
            Tamper::Rewrite { k } => {
                rewrite_from(&mut log, k);
                // Named exactly with a checkpoint per append, else the first entry of the batch.
                (k as u64 / batch) * batch
            }
        };
        let err = verify(&log).expect_err("tampering must be detected");
        prop_assert_eq!(err.first_bad_seq, expected, "{:?} -> {}", t, err);
    }

    #[test]
    fn untouched_logs_always_verify(n in 0u64..40, batch in 1u64..6) {
        let log = build(n, batch);
        let s = verify(&log).unwrap();
        prop_assert_eq!(s.entries, n);
    }
}
