//! The audit log is tamper-evident (PC-VENDOR-3, guide risk scenario 17): after `trygg demo`
//! has written each organisation's log, edits, deletions, reordering and truncation made directly
//! in the SQLite files are each caught by `trygg audit verify`, which names the entry. The
//! guard rail (review finding 8) edits every column of every audit table, found in the schema, so
//! a column added later without verification fails it.

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

/// Runs `trygg demo` once into `dir/pristine` and returns that directory.
fn demo(dir: &Path) -> std::path::PathBuf {
    let pristine = dir.join("pristine");
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
    pristine
}

async fn connect(db: &Path) -> sqlx::SqliteConnection {
    sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap()
}

/// The audit tables of a database file and their columns with declared types, from the schema.
async fn audit_columns(db: &Path) -> Vec<(String, String, String)> {
    let mut c = connect(db).await;
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'audit%' ORDER BY name",
    )
    .fetch_all(&mut c)
    .await
    .unwrap();
    let mut out = Vec::new();
    for t in tables {
        let cols: Vec<(String, String)> =
            sqlx::query_as(&format!("SELECT name, type FROM pragma_table_info('{t}')"))
                .fetch_all(&mut c)
                .await
                .unwrap();
        out.extend(cols.into_iter().map(|(name, ty)| (t.clone(), name, ty)));
    }
    c.close().await.unwrap();
    out
}

/// Changes one row's value of `column` to another value of its type; asserts one row changed.
async fn edit_column(db: &Path, table: &str, column: &str, ty: &str, row: &str) {
    let if_null = match ty.to_ascii_uppercase().as_str() {
        "INTEGER" => "1",
        "TEXT" => "'x'",
        _ => "x'00'",
    };
    let sql = format!(
        "UPDATE {table} SET {column} = CASE typeof({column}) \
           WHEN 'integer' THEN {column} + 1000003 \
           WHEN 'text' THEN 'x' || {column} \
           WHEN 'blob' THEN randomblob(max(length({column}), 1)) \
           ELSE {if_null} END \
         WHERE {row}"
    );
    let mut c = connect(db).await;
    // The attacker is not bound by the foreign keys the server turns on.
    sqlx::query("PRAGMA foreign_keys = OFF")
        .execute(&mut c)
        .await
        .unwrap();
    let done = sqlx::query(&sql).execute(&mut c).await.unwrap();
    assert_eq!(done.rows_affected(), 1, "{sql}");
    c.close().await.unwrap();
}

#[tokio::test]
async fn finding_8_an_edit_of_any_column_of_any_audit_table_fails_verify() {
    // Guard rail: every column of every audit table in the organisation's database and in the
    // control database, as the schema lists them, so a column added later is covered here.
    let dir = tempfile::tempdir().unwrap();
    let pristine = demo(dir.path());
    let org_file = org_db(&pristine).await;
    let org_id = org_file.file_stem().unwrap().to_str().unwrap().to_owned();
    let control = pristine.join("control.sqlite");
    let mut cases = Vec::new();
    for (table, column, ty) in audit_columns(&org_file).await {
        cases.push((false, table, column, ty));
    }
    for (table, column, ty) in audit_columns(&control).await {
        cases.push((true, table, column, ty));
    }
    let names: Vec<String> = cases.iter().map(|c| format!("{}.{}", c.1, c.2)).collect();
    for must in [
        "audit_entry.patient",
        "audit_entry.recorded",
        "audit_entry.retain_until",
        "audit_node.hash",
        "audit_checkpoint.text",
        "audit_heads.org_id",
    ] {
        assert!(names.iter().any(|n| n == must), "{must} not in {names:?}");
    }
    for (in_control, table, column, ty) in cases {
        let name = format!("{table}.{column}");
        let copy = dir.path().join(&name);
        copy_dir(&pristine, &copy);
        if in_control {
            // The row of the organisation being verified.
            let row = format!("org_id = '{org_id}'");
            edit_column(&copy.join("control.sqlite"), &table, &column, &ty, &row).await;
        } else {
            let row = format!("rowid = (SELECT min(rowid) FROM {table})");
            edit_column(&org_db(&copy).await, &table, &column, &ty, &row).await;
        }
        let (ok, text) = verify(&copy);
        assert!(!ok, "{name}: an edit must fail verify: {text}");
        assert!(
            text.contains("NOT intact") && text.contains("[AUDV"),
            "{name}: verify must name the problem: {text}"
        );
    }
}

#[tokio::test]
async fn finding_8_hiding_an_entry_from_a_patients_access_log_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let pristine = demo(dir.path());
    let (k, other): (i64, String) = {
        let mut c = connect(&org_db(&pristine).await).await;
        let k: i64 =
            sqlx::query_scalar("SELECT min(seq) FROM audit_entry WHERE patient IS NOT NULL")
                .fetch_one(&mut c)
                .await
                .unwrap();
        let other: String = sqlx::query_scalar(
            "SELECT patient FROM audit_entry WHERE patient IS NOT NULL \
             AND patient <> (SELECT patient FROM audit_entry WHERE seq = ?) LIMIT 1",
        )
        .bind(k)
        .fetch_one(&mut c)
        .await
        .unwrap();
        c.close().await.unwrap();
        (k, other)
    };
    let entry = format!("audit entry {k}:");
    let cases = [
        (
            "patient cleared",
            format!("UPDATE audit_entry SET patient = NULL WHERE seq = {k}"),
            "stored column `patient`",
        ),
        (
            "patient moved to another patient",
            format!("UPDATE audit_entry SET patient = '{other}' WHERE seq = {k}"),
            "stored column `patient`",
        ),
        (
            "recorded moved",
            format!("UPDATE audit_entry SET recorded = recorded - 86400000 WHERE seq = {k}"),
            "stored column `recorded`",
        ),
        (
            "payload removed before its retention end",
            format!(
                "UPDATE audit_entry SET salt = NULL, event = NULL, patient = NULL WHERE seq = {k}"
            ),
            "payload was removed before its retention end",
        ),
    ];
    for (name, sql, expect) in cases {
        let copy = dir.path().join(name.replace(' ', "-"));
        copy_dir(&pristine, &copy);
        exec(&org_db(&copy).await, &sql).await;
        let (ok, text) = verify(&copy);
        assert!(!ok, "{name}: verify must fail: {text}");
        assert!(
            text.contains(&entry) && text.contains(expect),
            "{name}: expected {entry:?} and {expect:?} in {text}"
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
    for needle in trygg::demo::personal_strings() {
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
