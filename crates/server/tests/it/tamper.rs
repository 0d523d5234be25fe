//! The audit log is tamper-evident (PC-VENDOR-3, guide risk scenario 17): after `trygg demo`
//! has written each organisation's log, edits, deletions, reordering and truncation made directly
//! in the SQLite files are each caught by `trygg audit verify`, which names the entry.

use std::path::Path;
use std::process::Command;

use sqlx::Connection as _;

use crate::binary::{start, terminate, BIN};

const ORG: &str = "normland-legesenter";

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    // Keep the mode: Trygg refuses a data directory other users can enter (review finding 7).
    std::fs::set_permissions(to, std::fs::metadata(from).unwrap().permissions()).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// The entry count from `trygg audit verify`'s "intact: N entries".
fn entries(text: &str) -> u64 {
    text.split("intact: ")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no entry count in {text}"))
}

fn verify(data: &Path) -> (bool, String) {
    let out = Command::new(BIN)
        .args([
            "audit",
            "verify",
            "--org",
            ORG,
            "--data-dir",
            data.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The organisation's database file (the one whose log has the demo's patients).
async fn org_db(data: &Path) -> std::path::PathBuf {
    let control = data.join("control.sqlite");
    let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}", control.display()))
        .await
        .unwrap();
    let id: String = sqlx::query_scalar("SELECT id FROM organisations WHERE slug = ?")
        .bind(ORG)
        .fetch_one(&mut c)
        .await
        .unwrap();
    // Closed, not dropped: a dropped connection removes its WAL files later, on another thread,
    // while the next step copies the directory.
    c.close().await.unwrap();
    data.join("orgs").join(format!("{id}.sqlite"))
}

async fn exec(db: &Path, sql: &str) {
    let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    for stmt in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        sqlx::query(stmt).execute(&mut c).await.unwrap();
    }
    c.close().await.unwrap();
}

#[tokio::test]
async fn direct_edits_to_the_audit_log_are_caught_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let pristine = dir.path().join("pristine");
    let r = start(
        &[
            "demo",
            "--data-dir",
            pristine.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
        &[],
    );
    terminate(r);

    let (ok, text) = verify(&pristine);
    assert!(ok, "the untouched log verifies: {text}");
    let n = entries(&text);
    assert!(n >= 9, "the demo writes at least nine entries: {text}");
    let db = org_db(&pristine).await;
    let create: i64 = {
        let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        let seq = sqlx::query_scalar(
            "SELECT min(seq) FROM audit_entry WHERE CAST(event AS TEXT) LIKE '%patient.create%'",
        )
        .fetch_one(&mut c)
        .await
        .unwrap();
        c.close().await.unwrap();
        seq
    };
    let edit = format!(
        "UPDATE audit_entry SET event = CAST(replace(CAST(event AS TEXT), 'patient.create', 'patient.delete') AS BLOB) WHERE seq = {create}"
    );
    let edit_expect = format!("audit entry {create}");
    let cut = n - 2;
    let truncate = format!(
        "DELETE FROM audit_entry WHERE seq >= {cut}; DELETE FROM audit_checkpoint WHERE tree_size > {cut}"
    );
    let truncate_expect = format!("audit entry {cut}");

    let cases: [(&str, &str, &str); 5] = [
        (
            "edit",
            // Change one byte of the event: the salted commitment no longer matches.
            &edit,
            &edit_expect,
        ),
        ("delete", "DELETE FROM audit_entry WHERE seq = 3", "audit entry 3"),
        (
            "reorder",
            // Swap two whole entries' contents, keeping seq in order.
            "CREATE TABLE t AS SELECT * FROM audit_entry WHERE seq IN (2, 4); \
             UPDATE audit_entry SET commitment = (SELECT commitment FROM t WHERE seq = 4), salt = (SELECT salt FROM t WHERE seq = 4), event = (SELECT event FROM t WHERE seq = 4), root_after = (SELECT root_after FROM t WHERE seq = 4) WHERE seq = 2; \
             UPDATE audit_entry SET commitment = (SELECT commitment FROM t WHERE seq = 2), salt = (SELECT salt FROM t WHERE seq = 2), event = (SELECT event FROM t WHERE seq = 2), root_after = (SELECT root_after FROM t WHERE seq = 2) WHERE seq = 4",
            "audit entry 2",
        ),
        (
            "delete the payload with its commitment kept but root edited",
            "UPDATE audit_entry SET root_after = zeroblob(32) WHERE seq = 5",
            "audit entry 5",
        ),
        (
            "truncate the tail with its checkpoints",
            // Only the copy of the head in the control database shows this.
            &truncate,
            &truncate_expect,
        ),
    ];
    for (name, sql, expect) in cases {
        let copy = dir.path().join(name.replace(' ', "-"));
        copy_dir(&pristine, &copy);
        exec(&org_db(&copy).await, sql).await;
        let (ok, text) = verify(&copy);
        assert!(!ok, "{name}: verify must fail: {text}");
        assert!(text.contains("NOT intact"), "{name}: {text}");
        assert!(
            text.contains(expect),
            "{name}: expected {expect:?} in {text}"
        );
    }
}

#[tokio::test]
async fn export_is_a_fhir_bundle_and_is_itself_logged() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let r = start(
        &[
            "demo",
            "--data-dir",
            data.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
        &[],
    );
    terminate(r);
    let (_, text) = verify(&data);
    let n = entries(&text);
    let d = data.to_str().unwrap();
    let out = Command::new(BIN)
        .args([
            "audit",
            "export",
            "--org",
            ORG,
            "--format",
            "fhir",
            "--data-dir",
            d,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bundle: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(bundle["resourceType"], "Bundle");
    let bundle_entries = bundle["entry"].as_array().unwrap();
    assert_eq!(bundle_entries.len() as u64, n);
    assert!(bundle_entries
        .iter()
        .all(|e| e["resource"]["resourceType"] == "AuditEvent"));
    // No personal data in the export: the demo's names and numbers are not there.
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in trygg_server::demo::personal_strings() {
        assert!(!text.contains(&needle), "export leaks personal data");
    }
    // The export appended an entry, and the log still verifies.
    let (ok, text) = verify(&data);
    assert!(ok && entries(&text) == n + 1, "{text}");
    let out = Command::new(BIN)
        .args(["audit", "checkpoint", "--org", ORG, "--data-dir", d])
        .output()
        .unwrap();
    let cp = String::from_utf8(out.stdout).unwrap();
    let mut lines = cp.lines();
    assert_eq!(lines.next(), Some("trygg.local/audit/normland-legesenter"));
    assert_eq!(lines.next(), Some((n + 1).to_string().as_str()));
    assert!(cp.contains("\n\n— "), "{cp}");
}
