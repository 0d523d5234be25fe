//! An organisation's exit (issue #16, VC-DPA-1, PC-VENDOR-4): the export is FHIR R4 (checked by
//! `tests/e2e/fhir-validate.mjs` against the R4 definitions), holds the organisation's data and
//! no other's, is encrypted to the organisation's age recipient (Debian's `age -d` opens it), is
//! listed in a signed manifest and checks offline, audit log included; a changed byte anywhere
//! fails. The deletion is refused without a complete export of that organisation with nothing
//! logged since; it leaves nothing of the organisation in the data directory, the other
//! organisation untouched, and a certificate that verifies here and fails when a byte changes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr as _;

use serde_json::{json, Value};
use trygg_app::exit;
use trygg_app::operator::Console;
use trygg_core::BuiltinRole;
use uuid::Uuid;

use crate::common::{Session, TestServer};

const ORG: &str = "normland-legesenter";
const OTHER: &str = "normbakken-kommune-hjemmetjenesten";

fn b64(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(data)
}

async fn ok(
    s: &TestServer,
    who: &Session,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> Value {
    let res = s.send(Some(who), method, path, Some(&body)).await;
    let st = res.status();
    let text = res.text().await.unwrap();
    assert!(st.is_success(), "{path}: {st} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// The demo, and in the organisation one of everything an export carries: a care relationship,
/// a thread with an attachment, a consultation, a consent, a device, an incident.
async fn world() -> (TestServer, Uuid) {
    let s = TestServer::start().await;
    s.seed_demo().await;
    let doctor_id = s.person(ORG, BuiltinRole::Doctor).await;
    let doctor = s.login(ORG, doctor_id).await;
    let nurse = s.login(ORG, s.person(ORG, BuiltinRole::Nurse).await).await;
    let admin_id = s.person(ORG, BuiltinRole::OrgAdmin).await;
    let admin = s
        .login_with(
            ORG,
            admin_id,
            trygg_server::auth::AuthMethod::Passkey,
            trygg_audit::Assurance::Substantial,
        )
        .await;
    let patients = s.patients(&nurse, ORG).await;
    let patient: Uuid = patients[0]["id"].as_str().unwrap().parse().unwrap();
    ok(
        &s,
        &nurse,
        reqwest::Method::POST,
        &format!("/api/v1/orgs/{ORG}/care-relationships"),
        json!({"personnel_id": doctor_id, "patient_id": patient, "reason": "fastlege", "days": 30}),
    )
    .await;
    ok(&s, &doctor, reqwest::Method::POST, &format!("/api/v1/orgs/{ORG}/patients/{patient}/threads"),
        json!({"subject": "Svar på prøve", "body": "Hei! Prøvene er fine.",
               "attachments": [{"name": "svar.pdf", "media_type": "application/pdf", "data": b64(b"%PDF-1.4 brev")}]})).await;
    ok(
        &s,
        &doctor,
        reqwest::Method::POST,
        &format!("/api/v1/orgs/{ORG}/consultations"),
        json!({"patient": patient.to_string(), "host": doctor_id, "minutes": 30}),
    )
    .await;
    trygg_app::notices::set_consent_by_console(
        &s.app,
        &Console,
        ORG,
        patient,
        trygg_app::notices::ConsentIn {
            purpose: "appointments".into(),
            channel: "sms".into(),
            granted: true,
            text_version: "v1".into(),
        },
        s.app.now(),
    )
    .await
    .unwrap();
    ok(
        &s,
        &admin,
        reqwest::Method::POST,
        &format!("/api/v1/orgs/{ORG}/devices"),
        json!({"label": "Rom 2"}),
    )
    .await;
    ok(&s, &admin, reqwest::Method::POST, &format!("/api/v1/orgs/{ORG}/incidents"),
        json!({"facts": {"title": "Brev til feil mottaker", "what_happened": "Et brev gikk feil."}})).await;
    // The register's facts for one patient (an address, a protection, a next of kin).
    let h = s.org_store(ORG).await;
    let mut tx = h.begin().await.unwrap();
    let kin = tx
        .patient_national_id(patients[1]["id"].as_str().unwrap().parse().unwrap())
        .await
        .unwrap()
        .unwrap()
        .expose();
    drop(tx);
    trygg_app::register::set_patient_facts(
        &s.app,
        &Console,
        ORG,
        patient,
        trygg_app::register::PatientFactsIn {
            address: Some("Bakkegata 7, 0153 Oslo".into()),
            protection: "confidential".into(),
            next_of_kin: vec![kin],
        },
        s.app.now(),
    )
    .await
    .unwrap();
    (s, patient)
}

fn identity() -> (age::x25519::Identity, String) {
    let id = age::x25519::Identity::generate();
    let r = id.to_public().to_string();
    (id, r)
}

async fn export_to(s: &TestServer, org: &str, dir: &Path, recipient: &str) -> exit::Exported {
    exit::export(
        &s.app,
        &Console,
        exit::ExportIn {
            org: org.into(),
            dir: dir.to_owned(),
            recipient: recipient.into(),
            report: Some("{\"report\": \"a signed report goes here\"}\n".into()),
        },
        s.app.now(),
    )
    .await
    .unwrap()
}

/// Every file of an export, decrypted, by path.
fn open_all(
    dir: &Path,
    m: &exit::Manifest,
    id: &age::x25519::Identity,
) -> BTreeMap<String, String> {
    m.files
        .iter()
        .map(|f| {
            let data = std::fs::read(dir.join(&f.path)).unwrap();
            let plain = exit::decrypt(id, &data).unwrap();
            (f.path.clone(), String::from_utf8(plain).unwrap())
        })
        .collect()
}

fn lines(files: &BTreeMap<String, String>, path: &str) -> Vec<Value> {
    files[path]
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Runs the repository's FHIR R4 validator over NDJSON files; fails with its output.
fn validate_fhir(files: &[PathBuf]) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/e2e/fhir-validate.mjs");
    let out = std::process::Command::new("node")
        .arg(&script)
        .args(files)
        .output()
        .unwrap_or_else(|e| {
            panic!("node runs the FHIR validator (scripts/test-all installs it): {e}")
        });
    assert!(
        out.status.success(),
        "the export is not valid FHIR R4:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn flip_byte(path: &Path, at: usize) {
    let mut b = std::fs::read(path).unwrap();
    let i = at.min(b.len() - 1);
    b[i] ^= 0x01;
    std::fs::write(path, b).unwrap();
}

/// VC-DPA-1, PC-VENDOR-4: the export is whole, valid FHIR R4, the organisation's only, readable
/// only with its key, and checks offline; a changed byte fails.
#[tokio::test(flavor = "multi_thread")]
async fn an_export_is_valid_fhir_encrypted_to_the_organisation_signed_and_checked_offline() {
    let (s, patient) = world().await;
    let (id, recipient) = identity();
    let tmp = crate::common::private_tempdir();
    let dir = tmp.path().join("export");

    // Bad input: a recipient that is not one, a directory in use, an unknown organisation.
    let bad = exit::export(
        &s.app,
        &Console,
        exit::ExportIn {
            org: ORG.into(),
            dir: dir.clone(),
            recipient: "age1nope".into(),
            report: None,
        },
        s.app.now(),
    )
    .await;
    assert_eq!(bad.unwrap_err().code, "TR-Y001");
    std::fs::create_dir_all(tmp.path().join("used")).unwrap();
    std::fs::write(tmp.path().join("used/x"), b"x").unwrap();
    let used = exit::export(
        &s.app,
        &Console,
        exit::ExportIn {
            org: ORG.into(),
            dir: tmp.path().join("used"),
            recipient: recipient.clone(),
            report: None,
        },
        s.app.now(),
    )
    .await;
    assert_eq!(used.unwrap_err().code, "TR-Y001");
    let unknown = exit::export(
        &s.app,
        &Console,
        exit::ExportIn {
            org: "nobody-here".into(),
            dir: dir.clone(),
            recipient: recipient.clone(),
            report: None,
        },
        s.app.now(),
    )
    .await;
    assert!(unknown.is_err());
    assert!(!dir.join("manifest.json").exists());

    let out = export_to(&s, ORG, &dir, &recipient).await;
    let m = &out.manifest;
    assert!(m.complete);
    assert_eq!(m.organisation.slug, ORG);
    assert_eq!(m.recipient, recipient);
    let count = |c: &str| {
        m.files
            .iter()
            .find(|f| f.content == c)
            .map(|f| f.records)
            .unwrap()
    };
    for t in exit::FHIR_TYPES {
        assert!(
            m.files.iter().any(|f| f.content == format!("fhir:{t}")),
            "{t}"
        );
    }
    assert_eq!(count("fhir:Organization"), 1);
    assert_eq!(count("fhir:Encounter"), 1);
    assert_eq!(count("fhir:Communication"), 1);
    assert_eq!(count("fhir:Consent"), 1);
    assert_eq!(count("fhir:Device"), 1);
    assert!(count("record:incidents") >= 1);
    assert!(count("record:grants") >= 3);
    assert!(count("record:care-relationships") >= 1);
    assert_eq!(count("audit:log"), m.audit.tree_size);

    // Encrypted: nothing of the data is readable in the files as stored.
    let files = open_all(&dir, m, &id);
    let patients = lines(&files, "fhir/Patient.ndjson.age");
    let name = patients[0]["name"][0]["text"].as_str().unwrap().to_owned();
    for f in &m.files {
        let raw = std::fs::read(dir.join(&f.path)).unwrap();
        assert!(raw.starts_with(b"age-encryption.org/v1\n"), "{}", f.path);
        assert!(
            !raw.windows(name.len()).any(|w| w == name.as_bytes()),
            "{}",
            f.path
        );
    }
    // Debian's age opens a file with the organisation's key.
    let key_file = tmp.path().join("key.txt");
    std::fs::write(
        &key_file,
        format!(
            "# the organisation's key\n{}\n",
            age::secrecy::ExposeSecret::expose_secret(&id.to_string())
        ),
    )
    .unwrap();
    let age_out = std::process::Command::new("age")
        .args(["-d", "-i"])
        .arg(&key_file)
        .arg(dir.join("fhir/Patient.ndjson.age"))
        .output()
        .unwrap_or_else(|e| {
            panic!("age (Debian) opens the export; scripts/test-all installs it: {e}")
        });
    assert!(
        age_out.status.success(),
        "{}",
        String::from_utf8_lossy(&age_out.stderr)
    );
    assert_eq!(
        String::from_utf8(age_out.stdout).unwrap(),
        files["fhir/Patient.ndjson.age"]
    );

    // The organisation's data, in FHIR R4, with references that resolve inside the export.
    let plain = tmp.path().join("plain");
    std::fs::create_dir_all(&plain).unwrap();
    let mut ndjson = Vec::new();
    for t in exit::FHIR_TYPES {
        let p = plain.join(format!("{t}.ndjson"));
        std::fs::write(&p, &files[&format!("fhir/{t}.ndjson.age")]).unwrap();
        ndjson.push(p);
    }
    validate_fhir(&ndjson);
    let comm = &lines(&files, "fhir/Communication.ndjson.age")[0];
    assert_eq!(comm["subject"]["reference"], format!("Patient/{patient}"));
    assert_eq!(comm["payload"][0]["contentString"], "Hei! Prøvene er fine.");
    assert_eq!(
        comm["payload"][1]["contentAttachment"]["data"],
        b64(b"%PDF-1.4 brev")
    );
    assert!(patients.iter().any(|p| p["id"] == patient.to_string()));
    assert!(patients[0]["identifier"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["system"] == "urn:oid:2.16.578.1.12.4.1.4.1"));
    let enc = &lines(&files, "fhir/Encounter.ndjson.age")[0];
    assert_eq!(enc["class"]["code"], "VR");
    assert_eq!(enc["status"], "planned");
    // The export's own entry is in the exported log.
    let events = lines(&files, "fhir/AuditEvent.ndjson.age");
    assert!(
        events.iter().any(|e| e.to_string().contains("org.export")),
        "the export is logged in what it exports"
    );
    // No other organisation's people.
    let other = s
        .login(OTHER, s.person(OTHER, BuiltinRole::Nurse).await)
        .await;
    for p in s.patients(&other, OTHER).await {
        let n = p["name"].as_str().unwrap();
        assert!(
            files.values().all(|text| !text.contains(n)),
            "another organisation's patient in the export"
        );
    }

    // Offline: the manifest's signature, the files' hashes, the contents and the log.
    let c = exit::verify_export(&dir, Some(&id), None, s.app.now()).unwrap();
    assert!(c.decrypted);
    assert_eq!(c.signed_by, s.store.document_key().unwrap().to_vkey());
    let c = exit::verify_export(&dir, None, Some(&c.signed_by), s.app.now()).unwrap();
    assert!(!c.decrypted);
    // Another identity does not open it; another deployment's key does not sign it.
    let (stranger, _) = identity();
    assert_eq!(
        exit::verify_export(&dir, Some(&stranger), None, s.app.now())
            .unwrap_err()
            .code,
        "TR-Y001"
    );
    let other_key = {
        let other = TestServer::start().await;
        other.store.document_key().unwrap().to_vkey()
    };
    let e = exit::verify_export(&dir, None, Some(&other_key), s.app.now()).unwrap_err();
    assert!(e.detail.contains("another key"), "{}", e.detail);

    // A changed byte: in an encrypted file, in the manifest, in the plain README (not listed,
    // so the export stays whole).
    let copy = |name: &str| {
        let to = tmp.path().join(name);
        copy_dir(&dir, &to);
        to
    };
    let changed = copy("changed-file");
    flip_byte(&changed.join("fhir/Patient.ndjson.age"), 200);
    let e = exit::verify_export(&changed, Some(&id), None, s.app.now()).unwrap_err();
    assert!(
        e.detail.contains("fhir/Patient.ndjson.age was changed"),
        "{}",
        e.detail
    );
    let changed = copy("changed-manifest");
    let text = std::fs::read_to_string(changed.join("manifest.json")).unwrap();
    std::fs::write(
        changed.join("manifest.json"),
        text.replacen("\"records\": 1,", "\"records\": 2,", 1),
    )
    .unwrap();
    let e = exit::verify_export(&changed, Some(&id), None, s.app.now()).unwrap_err();
    assert!(e.detail.contains("manifest"), "{}", e.detail);
    // A crafted export: a file that is a link (here to the very bytes listed), a directory
    // that is a link: refused, the reader goes nowhere else.
    let linked = copy("linked-file");
    let target = dir.join("fhir/Patient.ndjson.age");
    std::fs::remove_file(linked.join("fhir/Patient.ndjson.age")).unwrap();
    std::os::unix::fs::symlink(&target, linked.join("fhir/Patient.ndjson.age")).unwrap();
    let e = exit::verify_export(&linked, None, None, s.app.now()).unwrap_err();
    assert!(e.detail.contains("not a plain file"), "{}", e.detail);
    let linked_dir = copy("linked-dir");
    std::fs::remove_dir_all(linked_dir.join("fhir")).unwrap();
    std::os::unix::fs::symlink(dir.join("fhir"), linked_dir.join("fhir")).unwrap();
    let e = exit::verify_export(&linked_dir, None, None, s.app.now()).unwrap_err();
    assert!(e.detail.contains("plain directories"), "{}", e.detail);
    let missing = copy("missing-file");
    std::fs::remove_file(missing.join("audit/log.ndjson.age")).unwrap();
    let e = exit::verify_export(&missing, None, None, s.app.now()).unwrap_err();
    assert!(e.detail.contains("missing"), "{}", e.detail);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

/// Every file under a directory, with its bytes.
fn all_files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(all_files(&p));
        } else {
            out.push((p.clone(), std::fs::read(&p).unwrap()));
        }
    }
    out
}

/// VC-DPA-1, PC-VENDOR-4: no deletion without a complete export of that organisation with
/// nothing logged since; after it nothing of the organisation is in the data directory, the
/// other organisation is untouched, and the certificate verifies (and fails when changed).
#[tokio::test(flavor = "multi_thread")]
async fn delete_needs_a_complete_export_then_shreds_and_certifies() {
    let (s, _patient) = world().await;
    let (id, recipient) = identity();
    let tmp = crate::common::private_tempdir();
    let org = s
        .store
        .org_by_slug(&trygg_core::OrgSlug::parse(ORG).unwrap())
        .await
        .unwrap()
        .unwrap();
    let delete = |manifest: PathBuf| {
        exit::delete(
            &s.app,
            &Console,
            exit::DeleteIn {
                org: ORG.into(),
                manifest,
                backup_days: 30,
            },
            s.app.now(),
        )
    };

    // Another organisation's export.
    let other_dir = tmp.path().join("other");
    export_to(&s, OTHER, &other_dir, &recipient).await;
    let e = delete(other_dir.join("manifest.json")).await.unwrap_err();
    assert!(e.detail.contains("another organisation"), "{}", e.detail);
    // No manifest (an export that did not finish leaves none).
    let e = delete(tmp.path().join("nowhere/manifest.json"))
        .await
        .unwrap_err();
    assert_eq!(e.code, "TR-Y001");
    assert!(e.detail.contains("missing"), "{}", e.detail);
    // An export of this organisation, then something logged after it.
    let dir = tmp.path().join("export");
    export_to(&s, ORG, &dir, &recipient).await;
    let nurse = s.login(ORG, s.person(ORG, BuiltinRole::Nurse).await).await;
    s.patients(&nurse, ORG).await;
    let e = delete(dir.join("manifest.json")).await.unwrap_err();
    assert_eq!(e.code, "TR-Y409", "{}", e.detail);
    // A complete export, but a file missing, or a changed byte in the manifest.
    let dir = tmp.path().join("export2");
    let out = export_to(&s, ORG, &dir, &recipient).await;
    let moved = dir.join("fhir/Consent.ndjson.age");
    std::fs::rename(&moved, tmp.path().join("aside")).unwrap();
    let e = delete(dir.join("manifest.json")).await.unwrap_err();
    assert!(e.detail.contains("missing"), "{}", e.detail);
    std::fs::rename(tmp.path().join("aside"), &moved).unwrap();
    let good = std::fs::read(dir.join("manifest.json")).unwrap();
    flip_byte(&dir.join("manifest.json"), 300);
    assert!(delete(dir.join("manifest.json")).await.is_err());
    std::fs::write(dir.join("manifest.json"), &good).unwrap();
    // Nothing was deleted by any refusal.
    assert!(s.store.org_by_slug(&org.slug).await.unwrap().is_some());
    assert!(s.store.files_left(org.id).iter().any(|p| p.exists()));

    // What must not be left: the organisation's id, short name and name, and its patients'
    // names and national identity numbers (from the export).
    let files = open_all(&dir, &out.manifest, &id);
    let mut needles: Vec<String> = vec![org.id.to_string(), org.slug.to_string(), org.name.clone()];
    for p in lines(&files, "fhir/Patient.ndjson.age") {
        needles.push(p["name"][0]["text"].as_str().unwrap().to_owned());
        for i in p["identifier"].as_array().unwrap() {
            if i["system"].as_str().unwrap().starts_with("urn:oid:") {
                needles.push(i["value"].as_str().unwrap().to_owned());
            }
        }
    }
    let data_dir = s.store.data_dir().to_owned();
    let before = all_files(&data_dir);
    assert!(
        needles.iter().any(|n| before
            .iter()
            .any(|(_, b)| b.windows(n.len()).any(|w| w == n.as_bytes()))),
        "the scan finds the organisation before the deletion"
    );

    let cert = delete(dir.join("manifest.json")).await.unwrap();
    assert!(s.store.org_by_slug(&org.slug).await.unwrap().is_none());
    assert!(s.store.files_left(org.id).is_empty());
    for (path, bytes) in all_files(&data_dir) {
        for n in &needles {
            assert!(
                !bytes.windows(n.len()).any(|w| w == n.as_bytes()),
                "{} still holds something of the organisation",
                path.display()
            );
        }
    }
    // The other organisation is whole: its data opens and its log verifies.
    let other = s
        .login(OTHER, s.person(OTHER, BuiltinRole::Nurse).await)
        .await;
    assert!(!s.patients(&other, OTHER).await.is_empty());
    let v = trygg_app::operator::verify_audit(&s.app, &Console, OTHER, s.app.now())
        .await
        .unwrap();
    assert!(v.is_ok(), "{v:?}");

    // The certificate: what it states, that it verifies here, and that a change fails.
    let c = &cert.value;
    assert_eq!(c["parties"]["controller"]["id"], org.id.to_string());
    assert_eq!(c["export_manifest"]["sha256"], out.sha256);
    assert_eq!(c["scope"]["backups"]["window_days"], 30);
    assert!(c["method"].as_str().unwrap().contains("crypto-shredding"));
    let checked = exit::verify_deletion(&s.app, &cert.text).await.unwrap();
    assert!(checked.absent_here);
    assert_eq!(checked.organisation, ORG);
    let mut b = cert.text.clone().into_bytes();
    let at = cert.text.find("\"completed\"").unwrap() + 20;
    b[at] = if b[at] == b'1' { b'2' } else { b'1' };
    let e = exit::verify_deletion(&s.app, &String::from_utf8(b).unwrap())
        .await
        .unwrap_err();
    assert_eq!(e.code, "TR-Y001", "{}", e.detail);
    // Another deployment's key does not vouch for it.
    let other_deployment = TestServer::start().await;
    let e = exit::verify_deletion(&other_deployment.app, &cert.text)
        .await
        .unwrap_err();
    assert!(e.detail.contains("another key"), "{}", e.detail);
    // Deleting again: the organisation is unknown.
    assert!(delete(dir.join("manifest.json")).await.is_err());
    let _ = age::x25519::Recipient::from_str(&recipient).unwrap();
}

/// Issue #16: an export re-imports into an empty Trygg with identical counts; the data reads
/// back; a second import of the same organisation conflicts; a changed byte refuses the import
/// and leaves no organisation behind.
#[tokio::test(flavor = "multi_thread")]
async fn an_export_reimports_into_an_empty_trygg_with_identical_counts() {
    let (s, patient) = world().await;
    let (id, recipient) = identity();
    let tmp = crate::common::private_tempdir();
    let dir = tmp.path().join("export");
    let first = export_to(&s, ORG, &dir, &recipient).await;

    let empty = TestServer::start().await;
    assert!(empty.store.list_orgs().await.unwrap().is_empty());
    let import = |dir: PathBuf| {
        exit::import(
            &empty.app,
            &Console,
            exit::ImportIn {
                dir,
                identity: id.clone(),
                expect_key: s.store.document_key().unwrap().to_vkey(),
                slug: None,
            },
            empty.app.now(),
        )
    };
    // A changed byte: refused, and nothing is left.
    let changed = tmp.path().join("changed");
    copy_dir(&dir, &changed);
    flip_byte(&changed.join("fhir/Communication.ndjson.age"), 120);
    assert!(import(changed).await.is_err());
    assert!(empty.store.list_orgs().await.unwrap().is_empty());

    let imported = import(dir.clone()).await.unwrap();
    assert_eq!(imported.org, ORG);
    assert_eq!(imported.audit_entries, first.manifest.audit.tree_size);
    // Again: the organisation exists.
    assert!(import(dir.clone()).await.is_err());

    // Export again from the new deployment: the same number of every carried kind.
    let again_dir = tmp.path().join("again");
    let again = export_to(&empty, ORG, &again_dir, &recipient).await;
    // Every table carried generically comes back with as many rows.
    let tables: Vec<&str> = first
        .manifest
        .files
        .iter()
        .map(|f| f.content.as_str())
        .filter(|c| c.starts_with("table:"))
        .collect();
    assert!(
        tables.contains(&"table:consultation_participants"),
        "{tables:?}"
    );
    for kind in exit::CARRIED.iter().copied().chain(tables) {
        let n = |m: &exit::Manifest| {
            m.files
                .iter()
                .find(|f| f.content == kind)
                .map(|f| f.records)
        };
        assert_eq!(n(&again.manifest), n(&first.manifest), "{kind}");
        assert!(n(&first.manifest).is_some(), "{kind}");
    }
    assert!(first
        .manifest
        .files
        .iter()
        .filter(|f| exit::CARRIED.contains(&f.content.as_str()))
        .all(|f| f.records > 0 || f.content == "record:roles" || f.content == "record:routines"));
    // The data reads back the same: the message with its attachment, the patient's number.
    let a = open_all(&dir, &first.manifest, &id);
    let b = open_all(&again_dir, &again.manifest, &id);
    for path in [
        "fhir/Patient.ndjson.age",
        "fhir/Communication.ndjson.age",
        "fhir/Consent.ndjson.age",
        "records/grants.ndjson.age",
        "records/care-relationships.ndjson.age",
        "records/incidents.ndjson.age",
        "records/register-facts.ndjson.age",
    ] {
        let strip = |v: Value| {
            let mut v = v;
            if path == "fhir/Consent.ndjson.age" {
                v["id"] = Value::Null;
                v["identifier"] = Value::Null;
            }
            v
        };
        let x: Vec<Value> = lines(&a, path).into_iter().map(strip).collect();
        let y: Vec<Value> = lines(&b, path).into_iter().map(strip).collect();
        assert_eq!(x, y, "{path}");
    }
    // The new log starts with the import, which names the old log.
    let events = lines(&b, "fhir/AuditEvent.ndjson.age");
    let text = serde_json::to_string(&events).unwrap();
    assert!(text.contains("org.import"), "{text}");

    // The imported data is live: the care relationship lets the doctor read the thread.
    let h = empty
        .store
        .org(
            &empty
                .store
                .org_by_slug(&trygg_core::OrgSlug::parse(ORG).unwrap())
                .await
                .unwrap()
                .unwrap(),
        )
        .await
        .unwrap();
    let mut tx = h.begin().await.unwrap();
    let threads = tx.threads(patient).await.unwrap();
    assert_eq!(threads.len(), 1);
    assert_eq!(threads[0].subject.as_deref(), Some("Svar på prøve"));
    drop(tx);
    let named = h.audit_events(None).await.unwrap().iter().any(|(_, e)| {
        e.operation.as_str() == "org.import"
            && e.entity
                .as_ref()
                .and_then(|x| x.detail.as_ref())
                .map(|d| d.as_str())
                == Some(first.manifest.audit.root.as_str())
    });
    assert!(named, "the import's entry names the old log's root");
    let v = trygg_app::operator::verify_audit(&empty.app, &Console, ORG, empty.app.now())
        .await
        .unwrap();
    assert!(v.is_ok(), "{v:?}");
}

/// The console's exit commands as an operator runs them (issue #16): export, verify-export with
/// and without the key, delete refused then done, verify-deletion; bad input is a plain message
/// and a non-zero exit, never a panic; a second data directory (an empty Trygg) imports it.
#[tokio::test(flavor = "multi_thread")]
async fn the_exit_commands_run_from_the_console() {
    let tmp = crate::common::private_tempdir();
    let d = tmp.path().join("data");
    let run = |dir: &Path, args: &[&str]| {
        let out = std::process::Command::new(crate::binary::BIN)
            .args(args)
            .arg("--data-dir")
            .arg(dir)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, _, err) = run(&d, &["org", "create", "--name", "Normland legesenter"]);
    assert_eq!(code, Some(0), "{err}");
    let (id, recipient) = identity();
    let key_file = tmp.path().join("key.txt");
    std::fs::write(
        &key_file,
        format!(
            "# created for the test\n{}\n",
            age::secrecy::ExposeSecret::expose_secret(&id.to_string())
        ),
    )
    .unwrap();
    let out = tmp.path().join("export");
    let o = out.to_str().unwrap();

    // Bad input: plain messages, exit 1, no panic.
    for (args, needle) in [
        (
            vec![
                "org",
                "export",
                "--org",
                ORG,
                "--to",
                o,
                "--recipient",
                "age1\u{202e}x",
            ],
            "recipient",
        ),
        (
            vec![
                "org",
                "export",
                "--org",
                "nobody",
                "--to",
                o,
                "--recipient",
                &recipient,
            ],
            "organisation",
        ),
        (vec!["org", "verify-export", "/nonexistent"], "manifest"),
        (
            vec!["org", "verify-deletion", "/nonexistent"],
            "nonexistent",
        ),
    ] {
        let (code, _, err) = run(&d, &args);
        assert_eq!(code, Some(1), "{args:?}: {err}");
        assert!(err.to_lowercase().contains(needle), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }

    let (code, stdout, err) = run(
        &d,
        &[
            "org",
            "export",
            "--org",
            ORG,
            "--to",
            o,
            "--recipient",
            &recipient,
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(stdout.contains("fhir/Patient.ndjson.age"), "{stdout}");
    let (code, stdout, err) = run(
        &d,
        &[
            "org",
            "verify-export",
            o,
            "--identity",
            key_file.to_str().unwrap(),
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(
        stdout.contains("verify against its checkpoints"),
        "{stdout}"
    );

    // The key the export was signed by, as verify-export shows it.
    let key = stdout
        .split("signed by ")
        .nth(1)
        .and_then(|r| r.split(';').next())
        .unwrap()
        .to_owned();
    // An empty Trygg imports it, with the exporting deployment's key only.
    let d2 = tmp.path().join("data2");
    let import = |key: &str| {
        run(
            &d2,
            &[
                "org",
                "import",
                "--from",
                o,
                "--identity",
                key_file.to_str().unwrap(),
                "--key",
                key,
            ],
        )
    };
    let other_key = "trygg-documents+00000000+AQ";
    let (code, _, err) = import(other_key);
    assert_eq!(code, Some(1), "{err}");
    let (code, stdout, err) = import(&key);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        stdout.contains("Imported as normland-legesenter"),
        "{stdout}"
    );

    // The certificate file must be new; the deletion then runs and verifies.
    let cert = tmp.path().join("certificate.json");
    std::fs::write(&cert, b"taken").unwrap();
    let m = out.join("manifest.json");
    let (code, _, err) = run(
        &d,
        &[
            "org",
            "delete",
            "--org",
            ORG,
            "--export-manifest",
            m.to_str().unwrap(),
            "--certificate",
            cert.to_str().unwrap(),
        ],
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("exists"), "{err}");
    std::fs::remove_file(&cert).unwrap();
    let (code, _, err) = run(
        &d,
        &[
            "org",
            "delete",
            "--org",
            ORG,
            "--export-manifest",
            m.to_str().unwrap(),
            "--certificate",
            cert.to_str().unwrap(),
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    let (code, stdout, err) = run(&d, &["org", "verify-deletion", cert.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{err}");
    assert!(stdout.contains("nothing of it is left here"), "{stdout}");
    let (_, list, _) = run(&d, &["org", "list"]);
    assert!(!list.contains(ORG), "{list}");
    // A changed byte in the certificate fails, as a plain message.
    let text = std::fs::read_to_string(&cert).unwrap();
    std::fs::write(
        &cert,
        text.replacen("crypto-shredding", "crypto-shreddinG", 1),
    )
    .unwrap();
    let (code, _, err) = run(&d, &["org", "verify-deletion", cert.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("certificate"), "{err}");
    // Another deployment's key does not vouch for it.
    std::fs::write(&cert, text).unwrap();
    let (code, _, err) = run(&d2, &["org", "verify-deletion", cert.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("another key"), "{err}");
    // The organisation checks it anywhere with the key the deployment published.
    let (code, stdout, err) = run(
        &d2,
        &[
            "org",
            "verify-deletion",
            cert.to_str().unwrap(),
            "--key",
            &key,
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(stdout.contains("signed by that key"), "{stdout}");
}
