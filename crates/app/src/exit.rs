//! An organisation's exit (issue #16, VC-DPA-1, PC-VENDOR-4): the export of everything Trygg
//! holds for it, encrypted to the organisation's own key, its offline check, and the deletion
//! of the organisation with a signed certificate.
//!
//! - [`export`] writes a directory: FHIR R4 NDJSON per resource type (`fhir/*.ndjson.age`), the
//!   records FHIR has no place for (`records/…`: grants, roles, care relationships, incidents,
//!   routines, the retention policy, the register's facts, a fresh signed compliance report, and
//!   every other table of the organisation's database row by row, sealed cells opened —
//!   `records/tables/*`; only credentials and this deployment's bookkeeping are left out,
//!   `trygg_store::exit::NOT_EXPORTED`), and the audit log as the
//!   offline verifier reads it (`audit/log.ndjson.age`, `audit/checkpoints.ndjson.age`); every
//!   file encrypted with age to the organisation's X25519 recipient, so that only the
//!   organisation reads it (`age -d -i key.txt FILE` from Debian opens one). Then
//!   `manifest.json`, signed with the deployment's document key: the organisation, the recipient,
//!   the audit log's size, root, newest checkpoint and key, and per file its SHA-256 as stored
//!   and as decrypted and its number of records. The manifest is written last: its presence
//!   marks a complete export. The export's own entry (`org.export`) is in the exported log.
//! - [`verify_export`] checks a directory without Trygg's database: the manifest's signature,
//!   each file's hash, and with the organisation's identity each file decrypted and the whole
//!   audit log verified against its signed checkpoints.
//! - [`delete`] refuses without a manifest of a complete export of that organisation signed by
//!   this deployment, whose files are all there as listed, and whose log size is the log's size
//!   now (nothing happened after the export). It destroys the organisation's wrapped data key
//!   (crypto-shredding), removes its database files and control rows, and returns a deletion
//!   certificate signed with the deployment key; [`verify_deletion`] checks one.
//!
//! Everything here is the console's (`trygg org export|verify-export|delete|verify-deletion`):
//! the operator of the deployment acts on the organisation's written request; no route of the
//! server reaches it.

pub mod fhir;

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::str::FromStr as _;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use time::OffsetDateTime;
use trygg_audit::{Action, Category, EntryRow, Hash, Payload, Salt, StoredCheckpoint, Timestamp};
use trygg_core::Operation;
use uuid::Uuid;

use crate::audit::Did;
use crate::error::AppError;
use crate::operator::Console;
use crate::orgs::Administrator as _;
use crate::App;

/// The manifest's format name.
pub const FORMAT: &str = "trygg-export-1";
/// The purpose of the manifest's signature.
pub const MANIFEST_PURPOSE: &str = "org-export-manifest";
/// The certificate's format name.
pub const CERTIFICATE_FORMAT: &str = "trygg-deletion-certificate-1";
/// The purpose of the certificate's signature.
pub const CERTIFICATE_PURPOSE: &str = "org-deletion-certificate";
/// The FHIR resource types of an export, one file each (written even when empty).
pub const FHIR_TYPES: [&str; 10] = [
    "Organization",
    "Practitioner",
    "PractitionerRole",
    "Patient",
    "Consent",
    "Encounter",
    "Communication",
    "AuditEvent",
    "Device",
    "Provenance",
];

fn bad(detail: impl Into<String>) -> AppError {
    AppError::invalid("TR-Y001", detail)
}

fn io_err(what: &str, e: std::io::Error) -> AppError {
    AppError::invalid("TR-Y002", format!("{what}: {e}"))
}

/// The organisation a manifest or certificate is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgRef {
    /// Its id.
    pub id: Uuid,
    /// Its short name.
    pub slug: String,
    /// Its name.
    pub name: String,
}

/// The audit log as exported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditRef {
    /// The checkpoints' origin.
    pub origin: String,
    /// The key that verifies the checkpoints (signed-note verifier key text).
    pub key: String,
    /// The number of entries.
    pub tree_size: u64,
    /// The Merkle root over them (hex).
    pub root: String,
    /// The newest signed checkpoint, over all of them.
    pub head: String,
}

/// One file of an export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// Its path inside the export directory.
    pub path: String,
    /// What it holds: `fhir:<Type>`, `record:<name>` or `audit:<part>`.
    pub content: String,
    /// How many records (lines of NDJSON; 1 for a JSON document).
    pub records: u64,
    /// Its size as stored (encrypted), in bytes.
    pub bytes: u64,
    /// SHA-256 of the file as stored (encrypted).
    pub sha256: String,
    /// SHA-256 of its content once decrypted.
    pub plaintext_sha256: String,
}

/// An export's manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    /// The organisation.
    pub organisation: OrgRef,
    /// The deployment that made it (its audit host).
    pub deployment: String,
    /// When.
    pub exported_at: String,
    /// Whether every file of the organisation's data was written (only complete exports have
    /// a manifest; a failed export leaves none).
    pub complete: bool,
    /// The age recipient every file is encrypted to.
    pub recipient: String,
    /// The audit log.
    pub audit: AuditRef,
    /// The files.
    pub files: Vec<FileEntry>,
}

/// What an export wrote.
#[derive(Debug, Clone)]
pub struct Exported {
    /// The manifest.
    pub manifest: Manifest,
    /// Its path.
    pub path: PathBuf,
    /// The SHA-256 of the manifest file.
    pub sha256: String,
}

/// Parses an age X25519 recipient (`age1…`).
pub fn recipient(text: &str) -> Result<age::x25519::Recipient, AppError> {
    age::x25519::Recipient::from_str(text.trim())
        .map_err(|_| bad("the recipient is not an age X25519 recipient (age1…)"))
}

/// Reads an age identity file (as `age-keygen` writes it: comments, then `AGE-SECRET-KEY-1…`).
pub fn identity_file(path: &Path) -> Result<age::x25519::Identity, AppError> {
    let text = std::fs::read_to_string(path).map_err(|e| io_err("the identity file", e))?;
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .find_map(|l| age::x25519::Identity::from_str(l).ok())
        .ok_or_else(|| bad("the identity file holds no age X25519 identity"))
}

fn encrypt(to: &age::x25519::Recipient, plain: &[u8]) -> Result<Vec<u8>, AppError> {
    let enc = age::Encryptor::with_recipients(std::iter::once(to as &dyn age::Recipient))
        .map_err(|e| AppError::internal("TR-Y501", e))?;
    let mut out = Vec::with_capacity(plain.len() + 256);
    let mut w = enc
        .wrap_output(&mut out)
        .map_err(|e| AppError::internal("TR-Y502", e))?;
    w.write_all(plain)
        .map_err(|e| AppError::internal("TR-Y502", e))?;
    w.finish().map_err(|e| AppError::internal("TR-Y502", e))?;
    Ok(out)
}

/// Decrypts one file of an export with the organisation's identity.
pub fn decrypt(identity: &age::x25519::Identity, data: &[u8]) -> Result<Vec<u8>, AppError> {
    let d = age::Decryptor::new(data).map_err(|_| bad("a file is not an age file"))?;
    let mut r = d
        .decrypt(std::iter::once(identity as &dyn age::Identity))
        .map_err(|_| bad("a file does not decrypt with this identity"))?;
    let mut out = Vec::new();
    r.read_to_end(&mut out)
        .map_err(|_| bad("a file does not decrypt: it was changed"))?;
    Ok(out)
}

fn ndjson(values: &[Value]) -> Result<Vec<u8>, AppError> {
    let mut out = Vec::new();
    for v in values {
        serde_json::to_writer(&mut out, v).map_err(|e| AppError::internal("TR-Y503", e))?;
        out.push(b'\n');
    }
    Ok(out)
}

/// The files of an export, in memory, before they are encrypted.
struct Files(Vec<(String, String, u64, Vec<u8>)>);

impl Files {
    fn add_lines(&mut self, path: &str, content: &str, values: &[Value]) -> Result<(), AppError> {
        self.0.push((
            path.to_owned(),
            content.to_owned(),
            values.len() as u64,
            ndjson(values)?,
        ));
        Ok(())
    }
}

/// One audit row as the export writes it.
fn audit_line(r: &EntryRow) -> Value {
    use base64::Engine as _;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    json!({
        "seq": r.seq,
        "commitment": r.commitment.to_hex(),
        "salt": r.payload.as_ref().map(|p| hex::encode(p.salt.as_bytes())),
        "event": r.payload.as_ref().map(|p| b64(&p.event)),
        "root_after": r.root_after.to_hex(),
        "recorded": r.recorded.unix_millis(),
        "retain_until": r.retain_until.map(Timestamp::unix_millis),
        "patient": r.patient,
    })
}

/// Reads an audit row back from its line.
fn audit_row(v: &Value) -> Result<EntryRow, AppError> {
    use base64::Engine as _;
    let e = || bad("a line of the audit log does not read");
    let hash = |k: &str| Hash::from_hex(v[k].as_str().unwrap_or_default()).map_err(|_| e());
    let payload = match (v["salt"].as_str(), v["event"].as_str()) {
        (Some(s), Some(ev)) => Some(Payload {
            salt: Salt::from_slice(&hex::decode(s).map_err(|_| e())?).map_err(|_| e())?,
            event: base64::engine::general_purpose::STANDARD
                .decode(ev)
                .map_err(|_| e())?,
        }),
        (None, None) => None,
        _ => return Err(e()),
    };
    Ok(EntryRow {
        seq: v["seq"].as_u64().ok_or_else(e)?,
        commitment: hash("commitment")?,
        payload,
        root_after: hash("root_after")?,
        recorded: Timestamp::from_unix_millis(v["recorded"].as_i64().ok_or_else(e)?),
        retain_until: v["retain_until"].as_i64().map(Timestamp::from_unix_millis),
        patient: v["patient"].as_str().map(str::to_owned),
    })
}

/// Verifies a log's rows and checkpoints with the key and origin given; returns its root.
fn verify_log(
    origin: &str,
    key: &trygg_audit::VerifyingKey,
    rows: &[EntryRow],
    checkpoints: Vec<StoredCheckpoint>,
    now: OffsetDateTime,
) -> Result<trygg_audit::VerifySummary, AppError> {
    let now = Timestamp::from_datetime(now).map_err(|e| AppError::internal("TR-Y504", e))?;
    trygg_audit::verify_log(
        origin,
        std::slice::from_ref(key),
        rows,
        checkpoints,
        trygg_audit::VerifyOptions {
            allow_unsigned_tail: false,
            now: Some(now),
        },
    )
    .map_err(|e| bad(format!("the audit log does not verify: {e}")))
}

/// What to export.
#[derive(Debug, Clone)]
pub struct ExportIn {
    /// The organisation's short name.
    pub org: String,
    /// The directory to write (new, or empty).
    pub dir: PathBuf,
    /// The organisation's age recipient (`age1…`).
    pub recipient: String,
    /// A signed compliance report to include (the console makes it first: it needs the edge's
    /// facts, which only the server crate knows).
    pub report: Option<String>,
}

/// Exports the organisation (see the module's doc). Reading its data is logged first, in the
/// unit that reads it (`org.export`); the log is then read with that entry in it.
pub async fn export(
    state: &App,
    console: &Console,
    input: ExportIn,
    now: OffsetDateTime,
) -> Result<Exported, AppError> {
    let to = recipient(&input.recipient)?;
    prepare_dir(&input.dir)?;
    let h = crate::operator::org(state, &input.org).await?;
    let org = h.organisation().clone();
    let mut files = Files(Vec::new());
    let mut fhir: BTreeMap<&str, Vec<Value>> =
        FHIR_TYPES.iter().map(|t| (*t, Vec::new())).collect();
    let mut push = |t: &'static str, v: Value| fhir.entry(t).or_default().push(v);
    let mut tx = h.begin().await?;
    push("Organization", fhir::organization(&org));
    for p in tx.list_personnel().await? {
        let ended = tx.employment_end(p.id).await?.flatten();
        push("Practitioner", fhir::practitioner(&p, ended, now));
    }
    let grants = tx.all_grants().await?;
    for g in &grants {
        push("PractitionerRole", fhir::practitioner_role(&org, g, now));
    }
    for p in tx.list_patients().await? {
        let nid = tx.patient_national_id(p.id).await?;
        push("Patient", fhir::patient(&p, nid.as_ref()));
        let history = tx.consent_history(p.id).await?;
        for (i, c) in history.iter().enumerate() {
            let current = !history[i + 1..]
                .iter()
                .any(|n| n.purpose == c.purpose && n.channel == c.channel);
            push("Consent", fhir::consent(Uuid::new_v4(), c, current));
        }
        for t in tx.threads(p.id).await? {
            for m in tx.thread_messages(t.id).await? {
                let mut contents = Vec::new();
                for a in &m.attachments {
                    if let Some(att) = tx.attachment(a.id).await? {
                        contents.push(fhir::Content {
                            media_type: att.media_type,
                            name: att.name,
                            data: att.data,
                        });
                    }
                }
                push(
                    "Communication",
                    fhir::communication(&org, &t, &m, &contents),
                );
            }
        }
    }
    for c in tx.all_consultations().await? {
        let parts = tx.participants(c.id).await?;
        let journal = tx.consultation_journal(c.id).await?;
        push("Encounter", fhir::encounter(&c, &parts, journal.as_deref()));
    }
    for d in tx.devices(u32::MAX).await? {
        push("Device", fhir::device(&org, &d));
    }
    let roles: Vec<Value> = tx
        .roles()
        .await?
        .into_iter()
        .map(|(name, perms)| json!({ "name": name, "permissions": perms.split(',').filter(|p| !p.is_empty()).collect::<Vec<_>>() }))
        .collect();
    let care: Vec<Value> = tx
        .all_care_relationships()
        .await?
        .iter()
        .map(fhir::care_record)
        .collect();
    let mut incidents = Vec::new();
    for i in tx.incidents(u32::MAX).await? {
        for v in tx.incident_history(i.id).await? {
            incidents.push(json!({
                "id": v.id, "reference": v.reference, "source": v.source, "rule": v.rule,
                "version": v.version, "state": v.state,
                "occurred_at": v.occurred_at.map(fhir::instant),
                "discovered_at": fhir::instant(v.discovered_at),
                "aware_at": fhir::instant(v.aware_at),
                "facts": serde_json::from_str::<Value>(&v.facts).unwrap_or(Value::String(v.facts.clone())),
                "by": v.by, "at": fhir::instant(v.at),
            }));
        }
    }
    let routines: Vec<Value> = tx
        .routines()
        .await?
        .into_iter()
        .map(|r| json!({ "key": r.key, "owner": r.owner, "document": r.document, "next_review": r.next_review, "changed_at": fhir::instant(r.changed_at) }))
        .collect();
    // Every other table of the organisation's database, as records (credentials and this
    // deployment's bookkeeping excepted: `trygg_store::exit::NOT_EXPORTED`).
    let mut tables = Vec::new();
    for t in tx.table_names().await? {
        if trygg_store::exit::TYPED_TABLES.contains(&t.as_str())
            || trygg_store::exit::NOT_EXPORTED.iter().any(|(n, _)| *n == t)
        {
            continue;
        }
        let rows: Vec<Value> = tx
            .dump_table(&t)
            .await?
            .into_iter()
            .map(Value::Object)
            .collect();
        tables.push((t, rows));
    }
    let register = tx.register_values().await?;
    let retention: BTreeMap<String, u32> =
        tx.retention_values_in_unit().await?.into_iter().collect();
    push(
        "Provenance",
        fhir::provenance(&org, Uuid::new_v4(), &state.config.audit_host(), now),
    );
    let e = crate::audit::event(
        &org.slug,
        &console.actor(),
        Did::new(
            Category::Export,
            Operation::OrgExport,
            Action::Read,
            ("Organization", Some(org.id.to_string())),
        )
        .basis(trygg_audit::Basis::Administration),
        now,
    )?;
    tx.audit(&e).await?;
    tx.commit().await?;

    // The log, with the export's own entry in it; checked before it is written.
    let (rows, checkpoints) = h.audit_archive().await?;
    let key = h.audit_verifying_key();
    let origin = h.audit_origin().to_owned();
    let summary = verify_log(&origin, &key, &rows, checkpoints.clone(), now)?;
    let head = checkpoints
        .iter()
        .max_by_key(|c| c.tree_size)
        .map(|c| c.text.clone())
        .unwrap_or_default();
    let mut events = Vec::new();
    for r in &rows {
        if let Some(p) = &r.payload {
            let ev = trygg_audit::AuditEvent::from_canonical(&p.event)
                .map_err(|e| AppError::internal("TR-Y505", e))?;
            events.push(
                trygg_audit::fhir::audit_event(&org.slug, r.seq, &ev)
                    .map_err(|e| AppError::internal("TR-Y505", e))?,
            );
        }
    }
    fhir.insert("AuditEvent", events);
    for t in FHIR_TYPES {
        let values = fhir.get(t).map(Vec::as_slice).unwrap_or_default();
        files.add_lines(
            &format!("fhir/{t}.ndjson.age"),
            &format!("fhir:{t}"),
            values,
        )?;
    }
    files.add_lines(
        "records/grants.ndjson.age",
        "record:grants",
        &grants.iter().map(fhir::grant_record).collect::<Vec<_>>(),
    )?;
    files.add_lines("records/roles.ndjson.age", "record:roles", &roles)?;
    files.add_lines(
        "records/register-facts.ndjson.age",
        "record:register-facts",
        &register,
    )?;
    for (t, rows) in &tables {
        files.add_lines(
            &format!("records/tables/{t}.ndjson.age"),
            &format!("table:{t}"),
            rows,
        )?;
    }
    files.add_lines(
        "records/care-relationships.ndjson.age",
        "record:care-relationships",
        &care,
    )?;
    files.add_lines(
        "records/incidents.ndjson.age",
        "record:incidents",
        &incidents,
    )?;
    files.add_lines("records/routines.ndjson.age", "record:routines", &routines)?;
    files.add_lines(
        "records/retention-policy.ndjson.age",
        "record:retention-policy",
        &[json!(retention)],
    )?;
    if let Some(report) = &input.report {
        files.0.push((
            "records/compliance-report.json.age".into(),
            "record:compliance-report".into(),
            1,
            report.as_bytes().to_vec(),
        ));
    }
    files.add_lines(
        "audit/log.ndjson.age",
        "audit:log",
        &rows.iter().map(audit_line).collect::<Vec<_>>(),
    )?;
    files.add_lines(
        "audit/checkpoints.ndjson.age",
        "audit:checkpoints",
        &checkpoints
            .iter()
            .map(|c| json!({ "tree_size": c.tree_size, "text": c.text }))
            .collect::<Vec<_>>(),
    )?;

    let mut entries = Vec::new();
    for (path, content, records, plain) in files.0 {
        let sealed = encrypt(&to, &plain)?;
        let full = input.dir.join(&path);
        if let Some(parent) = full.parent() {
            make_private_dir(parent)?;
        }
        trygg_store::crypto::write_private_file(&full, &sealed)?;
        entries.push(FileEntry {
            path,
            content,
            records,
            bytes: sealed.len() as u64,
            sha256: trygg_store::crypto::sha256_hex(&sealed),
            plaintext_sha256: trygg_store::crypto::sha256_hex(&plain),
        });
    }
    let manifest = Manifest {
        format: FORMAT.into(),
        organisation: OrgRef {
            id: org.id,
            slug: org.slug.to_string(),
            name: org.name.clone(),
        },
        deployment: state.config.audit_host(),
        exported_at: fhir::instant(now),
        complete: true,
        recipient: to.to_string(),
        audit: AuditRef {
            origin,
            key: key.to_vkey(),
            tree_size: summary.entries,
            root: summary.root.to_hex(),
            head,
        },
        files: entries,
    };
    let value = serde_json::to_value(&manifest).map_err(|e| AppError::internal("TR-Y506", e))?;
    let (text, _) = crate::signed::seal(state, MANIFEST_PURPOSE, "manifest", value)?;
    let path = input.dir.join("manifest.json");
    trygg_store::crypto::write_private_file(&path, text.as_bytes())?;
    trygg_store::crypto::write_private_file(&input.dir.join("README.txt"), README.as_bytes())?;
    Ok(Exported {
        manifest,
        path,
        sha256: trygg_store::crypto::sha256_hex(text.as_bytes()),
    })
}

/// The export's plain-text guide (no personal data).
const README: &str = "\
This directory is an organisation's export from Trygg (format trygg-export-1).

manifest.json   what is here: the organisation, the age recipient, the audit log's size,
                root, newest signed checkpoint and its key, and per file its SHA-256 (as
                stored and as decrypted) and number of records; signed with the exporting
                deployment's document key.
fhir/           FHIR R4 NDJSON, one file per resource type.
records/        what FHIR has no place for: grants, roles, care relationships, incidents,
                routines, the retention policy, the compliance report.
audit/          the audit log as its verifier reads it: every entry (commitment, salt,
                canonical event, root after it, times) and every signed checkpoint.

Every file but this one and the manifest is encrypted with age to the organisation's key:
    age -d -i key.txt fhir/Patient.ndjson.age > Patient.ndjson
Check the whole export, decrypted, and the audit log against its checkpoints:
    trygg org verify-export DIR --identity key.txt
";

fn make_private_dir(dir: &Path) -> Result<(), AppError> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        b.mode(0o700);
    }
    b.create(dir)
        .map_err(|e| io_err("creating the export directory", e))
}

/// The directory must be new or empty, so an export never mixes with another.
fn prepare_dir(dir: &Path) -> Result<(), AppError> {
    if dir.exists() {
        let mut it = std::fs::read_dir(dir).map_err(|e| io_err("the export directory", e))?;
        if it.next().is_some() {
            return Err(bad("the export directory is not empty"));
        }
    }
    make_private_dir(dir)
}

/// What [`verify_export`] found.
#[derive(Debug, Clone)]
pub struct ExportCheck {
    /// The manifest.
    pub manifest: Manifest,
    /// The key that signed the manifest (verifier key text).
    pub signed_by: String,
    /// Whether the files were decrypted and their contents and the audit log checked.
    pub decrypted: bool,
}

/// Reads and checks a manifest: signed by `signer`, of this format, complete.
fn read_manifest(
    path: &Path,
    signer: crate::signed::Signer<'_>,
) -> Result<(Manifest, String, String), AppError> {
    let raw = read_regular(path, MAX_MANIFEST)?;
    let text = String::from_utf8(raw).map_err(|_| bad("the manifest is not text"))?;
    let opened = crate::signed::open(&text, MANIFEST_PURPOSE, "manifest", signer)
        .map_err(|why| bad(format!("the manifest: {why}")))?;
    let manifest: Manifest = serde_json::from_value(opened.value)
        .map_err(|_| bad("the manifest is not an export manifest of this format"))?;
    if manifest.format != FORMAT {
        return Err(bad("the manifest is not an export manifest of this format"));
    }
    if !manifest.complete {
        return Err(bad("the manifest is of an incomplete export"));
    }
    Ok((
        manifest,
        opened.key.to_vkey(),
        trygg_store::crypto::sha256_hex(text.as_bytes()),
    ))
}

/// The largest manifest read.
const MAX_MANIFEST: u64 = 16 << 20;
/// The largest file of an export read (it is held in memory).
const MAX_FILE: u64 = 4 << 30;

/// Reads a regular file of at most `max` bytes: a symbolic link, a device, a pipe or a
/// directory is refused (a crafted export cannot point the reader elsewhere or hang it).
fn read_regular(path: &Path, max: u64) -> Result<Vec<u8>, AppError> {
    let missing = || bad(format!("{} is missing or not a plain file", shown(path)));
    let meta = std::fs::symlink_metadata(path).map_err(|_| missing())?;
    if !meta.file_type().is_file() {
        return Err(missing());
    }
    if meta.len() > max {
        return Err(bad(format!(
            "{} is larger than an export's file can be",
            shown(path)
        )));
    }
    let data = std::fs::read(path).map_err(|_| missing())?;
    if data.len() as u64 != meta.len() {
        return Err(bad(format!("{} changed while it was read", shown(path))));
    }
    Ok(data)
}

/// A path as the console prints it: control characters (a terminal's escapes) left out.
fn shown(path: &Path) -> String {
    path.display()
        .to_string()
        .chars()
        .filter(|c| !c.is_control())
        .collect()
}

/// The files an export must hold: each listed once, under the directory with no link on the
/// way, a plain file of the listed size and hash.
fn check_files(dir: &Path, m: &Manifest) -> Result<Vec<(FileEntry, Vec<u8>)>, AppError> {
    let mut out = Vec::new();
    for t in FHIR_TYPES {
        if !m.files.iter().any(|f| f.content == format!("fhir:{t}")) {
            return Err(bad(format!("the export has no {t} file")));
        }
    }
    let mut seen = std::collections::HashSet::new();
    for f in &m.files {
        if !seen.insert(f.content.as_str())
            || m.files.iter().filter(|g| g.path == f.path).count() > 1
        {
            return Err(bad("the manifest lists a file twice"));
        }
        let safe = !f.path.is_empty()
            && f.path.len() <= 200
            && Path::new(&f.path)
                .components()
                .all(|c| matches!(c, std::path::Component::Normal(_)));
        if !safe {
            return Err(bad("the manifest names a file outside the export"));
        }
        // No directory on the way may be a link.
        let mut at = dir.to_path_buf();
        let parts: Vec<_> = Path::new(&f.path).components().collect();
        for c in &parts[..parts.len().saturating_sub(1)] {
            at.push(c);
            let is_dir = std::fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_dir());
            if !is_dir {
                return Err(bad("the export's directories must be plain directories"));
            }
        }
        if f.bytes > MAX_FILE {
            return Err(bad("a file of the export is larger than Trygg reads"));
        }
        let data = read_regular(&dir.join(&f.path), f.bytes)?;
        if trygg_store::crypto::sha256_hex(&data) != f.sha256 {
            return Err(bad(format!(
                "{} was changed: its hash does not match",
                f.path
            )));
        }
        out.push((f.clone(), data));
    }
    Ok(out)
}

/// Checks an export without Trygg's database (see the module's doc). Without an identity only
/// the manifest's signature (by the key it names, reported for comparison, or by `expect_key`)
/// and the encrypted files' hashes are checked.
pub fn verify_export(
    dir: &Path,
    identity: Option<&age::x25519::Identity>,
    expect_key: Option<&str>,
    now: OffsetDateTime,
) -> Result<ExportCheck, AppError> {
    check_export(dir, identity, expect_key, now).map(|(c, _)| c)
}

/// The decrypted NDJSON files of a checked export, by content (`fhir:Patient`, …).
type Lines = BTreeMap<String, Vec<Value>>;

/// [`verify_export`], keeping what it decrypted and checked, so an import writes exactly those
/// bytes (the files are not read a second time).
fn check_export(
    dir: &Path,
    identity: Option<&age::x25519::Identity>,
    expect_key: Option<&str>,
    now: OffsetDateTime,
) -> Result<(ExportCheck, Lines), AppError> {
    let expected = expect_key
        .map(|k| {
            trygg_audit::VerifyingKey::parse_vkey(k)
                .map_err(|_| bad("the expected key is not a verifier key"))
        })
        .transpose()?;
    let signer = match &expected {
        Some(k) => crate::signed::Signer::Key(k),
        None => crate::signed::Signer::Named,
    };
    let (manifest, signed_by, _) = read_manifest(&dir.join("manifest.json"), signer)?;
    let files = check_files(dir, &manifest)?;
    let Some(id) = identity else {
        let c = ExportCheck {
            manifest,
            signed_by,
            decrypted: false,
        };
        return Ok((c, Lines::new()));
    };
    let mut all = Lines::new();
    for (f, data) in &files {
        let plain = decrypt(id, data)?;
        if trygg_store::crypto::sha256_hex(&plain) != f.plaintext_sha256 {
            return Err(bad(format!(
                "{} decrypts to other content than was exported",
                f.path
            )));
        }
        let text = String::from_utf8(plain).map_err(|_| bad(format!("{} is not text", f.path)))?;
        if f.path.ends_with(".ndjson.age") {
            let lines: Vec<Value> = text
                .lines()
                .map(serde_json::from_str)
                .collect::<Result<_, _>>()
                .map_err(|_| bad(format!("{} holds a line that is not JSON", f.path)))?;
            if lines.len() as u64 != f.records {
                return Err(bad(format!(
                    "{} holds another number of records than listed",
                    f.path
                )));
            }
            all.insert(f.content.clone(), lines);
        }
    }
    let (Some(log), Some(cps)) = (all.get("audit:log"), all.get("audit:checkpoints")) else {
        return Err(bad("the export has no audit log"));
    };
    let rows = log.iter().map(audit_row).collect::<Result<Vec<_>, _>>()?;
    let cps = cps
        .iter()
        .map(|c| {
            Ok(StoredCheckpoint {
                tree_size: c["tree_size"]
                    .as_u64()
                    .ok_or_else(|| bad("a checkpoint does not read"))?,
                text: c["text"]
                    .as_str()
                    .ok_or_else(|| bad("a checkpoint does not read"))?
                    .to_owned(),
            })
        })
        .collect::<Result<Vec<_>, AppError>>()?;
    if !cps.iter().any(|c| c.text == manifest.audit.head) {
        return Err(bad(
            "the manifest's audit head is not among the exported checkpoints",
        ));
    }
    let key = trygg_audit::VerifyingKey::parse_vkey(&manifest.audit.key)
        .map_err(|_| bad("the manifest's audit key is not a key"))?;
    let summary = verify_log(&manifest.audit.origin, &key, &rows, cps, now)?;
    if summary.entries != manifest.audit.tree_size || summary.root.to_hex() != manifest.audit.root {
        return Err(bad("the audit log is not the one the manifest names"));
    }
    let c = ExportCheck {
        manifest,
        signed_by,
        decrypted: true,
    };
    Ok((c, all))
}

/// What to delete.
#[derive(Debug, Clone)]
pub struct DeleteIn {
    /// The organisation's short name.
    pub org: String,
    /// The manifest of its complete export.
    pub manifest: PathBuf,
    /// How long this deployment's backups are kept, in days (stated in the certificate).
    pub backup_days: u32,
}

/// A deletion certificate, as signed.
#[derive(Debug, Clone)]
pub struct Certificate {
    /// The file's text.
    pub text: String,
    /// Its value.
    pub value: Value,
}

/// Deletes the organisation (see the module's doc) and returns the signed certificate. Nothing
/// is deleted unless every check passes first.
pub async fn delete(
    state: &App,
    _console: &Console,
    input: DeleteIn,
    now: OffsetDateTime,
) -> Result<Certificate, AppError> {
    let h = crate::operator::org(state, &input.org).await?;
    let org = h.organisation().clone();
    let key = state.store.document_key()?;
    let (m, _, manifest_sha256) = read_manifest(&input.manifest, crate::signed::Signer::Key(&key))?;
    if m.organisation.id != org.id {
        return Err(bad("the manifest is of another organisation's export"));
    }
    let dir = input
        .manifest
        .parent()
        .ok_or_else(|| bad("the manifest is not in an export directory"))?;
    check_files(dir, &m)?;
    let size = h.audit_size().await?;
    if size != m.audit.tree_size {
        return Err(AppError::conflict(
            "TR-Y409",
            format!(
                "the organisation's log has {size} entries now and {} at the export: something happened after it; export again",
                m.audit.tree_size
            ),
        ));
    }
    if input.backup_days > 3650 {
        return Err(bad("the backup window is at most 3650 days"));
    }
    drop(h);
    let requested = now;
    let deleted = state.store.delete_org(&org).await?;
    let left = state.store.files_left(org.id);
    if !left.is_empty() {
        return Err(AppError::internal(
            "TR-Y507",
            "an organisation file could not be removed",
        ));
    }
    let completed = state.now();
    let backups_until = requested + time::Duration::days(i64::from(input.backup_days));
    let value = json!({
        "format": CERTIFICATE_FORMAT,
        "certificate": Uuid::new_v4(),
        "parties": {
            "controller": { "organisation": org.name, "short_name": org.slug.to_string(), "id": org.id },
            "processor": { "deployment": state.config.audit_host(), "operator": crate::operator::CONSOLE },
        },
        "scope": {
            "stores": [
                { "store": "control database", "removed": deleted.control_rows,
                  "how": "deleted with SQLite secure_delete, the WAL checkpointed to nothing and the database vacuumed" },
                { "store": "organisation database", "removed": deleted.files.iter().map(|(p, b)| json!({"file": p, "bytes": b})).collect::<Vec<_>>(),
                  "how": "after the key that sealed their personal data was destroyed, each file overwritten with zeros in place, flushed to the disk and removed; on copy-on-write or flash storage old blocks may survive the overwrite, and what is sealed in them cannot be opened without the destroyed key" },
                { "store": "memory of this deployment", "how": "the organisation's open database and key were dropped; a running server keeps neither after its restart" },
            ],
            "backups": {
                "window_days": input.backup_days,
                "gone_by": fhir::instant(backups_until),
                "statement": "backups taken before the deletion hold the organisation's database and wrapped data key until they expire; none is restored for this organisation, and by this time none is left",
            },
        },
        "kept": [
            { "what": "this certificate: the organisation's name, short name and id, the times and the export manifest's hash", "why": "proof of the deletion for the organisation and for supervision; it holds no personal or health data" },
            { "what": "the export", "why": "held by the organisation, encrypted to its own key; this deployment cannot read it" },
            { "what": "the deployment's master key and signing key", "why": "they serve other organisations; without the destroyed data key neither opens anything of this organisation's" },
        ],
        "times": {
            "exported": m.exported_at,
            "requested": fhir::instant(requested),
            "completed": fhir::instant(completed),
        },
        "method": "crypto-shredding: the organisation's data key (wrapped by the master key in the control database) was destroyed, so nothing sealed under it can be opened again; then its database files were removed",
        "export_manifest": {
            "sha256": manifest_sha256,
            "files": m.files.len(),
            "audit_tree_size": m.audit.tree_size,
            "audit_root": m.audit.root,
            "recipient": m.recipient,
        },
    });
    let (text, _) = crate::signed::seal(state, CERTIFICATE_PURPOSE, "certificate", value.clone())?;
    Ok(Certificate { text, value })
}

/// What [`verify_deletion`] found.
#[derive(Debug, Clone)]
pub struct DeletionCheck {
    /// The organisation's short name.
    pub organisation: String,
    /// When the deletion completed.
    pub completed: String,
    /// Whether the organisation is absent from this deployment (its row and its files).
    pub absent_here: bool,
}

/// Checks a deletion certificate against this deployment's key, and whether the organisation
/// it names is gone from this deployment.
pub async fn verify_deletion(state: &App, text: &str) -> Result<DeletionCheck, AppError> {
    let key = state.store.document_key()?;
    let (id, organisation, completed) = open_certificate(text, &key)?;
    let present = state.store.list_orgs().await?.iter().any(|o| o.id == id);
    Ok(DeletionCheck {
        organisation,
        completed,
        absent_here: !present && state.store.files_left(id).is_empty(),
    })
}

/// Checks a deletion certificate anywhere, against the key the deployment published (the
/// organisation's own check: no database needed). Returns the organisation's short name and
/// when the deletion completed.
pub fn verify_deletion_with_key(text: &str, key: &str) -> Result<(String, String), AppError> {
    let key = trygg_audit::VerifyingKey::parse_vkey(key)
        .map_err(|_| bad("the key is not a verifier key"))?;
    open_certificate(text, &key).map(|(_, slug, completed)| (slug, completed))
}

fn open_certificate(
    text: &str,
    key: &trygg_audit::VerifyingKey,
) -> Result<(Uuid, String, String), AppError> {
    let opened = crate::signed::open(
        text,
        CERTIFICATE_PURPOSE,
        "certificate",
        crate::signed::Signer::Key(key),
    )
    .map_err(|why| bad(format!("the certificate: {why}")))?;
    let v = &opened.value;
    if v["format"] != CERTIFICATE_FORMAT {
        return Err(bad("the certificate is not of this format"));
    }
    let id = v["parties"]["controller"]["id"]
        .as_str()
        .and_then(|s| Uuid::try_parse(s).ok())
        .ok_or_else(|| bad("the certificate names no organisation"))?;
    let text_of = |x: &Value| x.as_str().unwrap_or_default().to_owned();
    Ok((
        id,
        text_of(&v["parties"]["controller"]["short_name"]),
        text_of(&v["times"]["completed"]),
    ))
}

/// What to import.
pub struct ImportIn {
    /// The export directory.
    pub dir: PathBuf,
    /// The organisation's identity (its key).
    pub identity: age::x25519::Identity,
    /// The exporting deployment's published document key: required, since anyone can encrypt
    /// to the organisation's public recipient and sign a manifest with a key of their own.
    pub expect_key: String,
    /// The short name here (the export's when not given).
    pub slug: Option<String>,
}

/// What an import wrote.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The organisation's short name here.
    pub org: String,
    /// Records written per kind (`fhir:Patient`, `record:grants`, …).
    pub counts: BTreeMap<String, u64>,
    /// The exported audit log's size, verified before anything was written.
    pub audit_entries: u64,
    /// The key that signed the export's manifest (compare it with the key the exporting
    /// deployment published, or give that key as `expect_key`).
    pub signed_by: String,
}

/// The kinds an import writes back, so a re-export has the same number of each (and every
/// `table:*` the export carries generically). The audit
/// log (`fhir:AuditEvent`, `audit:*`), the export's own `fhir:Provenance` and the compliance
/// report belong to the deployment that made them: the import verifies the old log and names
/// its size and root in its own entry, and the new deployment's log starts with the import.
pub const CARRIED: [&str; 14] = [
    "fhir:Organization",
    "fhir:Practitioner",
    "fhir:PractitionerRole",
    "fhir:Patient",
    "fhir:Consent",
    "fhir:Encounter",
    "fhir:Communication",
    "fhir:Device",
    "record:grants",
    "record:roles",
    "record:care-relationships",
    "record:incidents",
    "record:routines",
    "record:register-facts",
];

mod read {
    //! Reading the export's lines back: small checked accessors, every failure a plain
    //! sentence naming the kind of record.
    use serde_json::Value;
    use time::format_description::well_known::Rfc3339;
    use time::OffsetDateTime;
    use uuid::Uuid;

    use crate::error::AppError;

    pub fn bad(kind: &str, what: &str) -> AppError {
        AppError::invalid("TR-Y003", format!("a {kind} record of the export: {what}"))
    }

    pub fn text<'a>(v: &'a Value, kind: &str, what: &str) -> Result<&'a str, AppError> {
        v.as_str().ok_or_else(|| bad(kind, &format!("no {what}")))
    }

    pub fn opt_text(v: &Value) -> Option<String> {
        v.as_str().map(str::to_owned)
    }

    pub fn id(v: &Value, kind: &str) -> Result<Uuid, AppError> {
        v.as_str()
            .and_then(|s| Uuid::try_parse(s).ok())
            .ok_or_else(|| bad(kind, "an id is not one"))
    }

    pub fn time(v: &Value, kind: &str) -> Result<OffsetDateTime, AppError> {
        v.as_str()
            .and_then(|s| OffsetDateTime::parse(s, &Rfc3339).ok())
            .ok_or_else(|| bad(kind, "a time is not RFC 3339"))
    }

    pub fn opt_time(v: &Value, kind: &str) -> Result<Option<OffsetDateTime>, AppError> {
        if v.is_null() {
            return Ok(None);
        }
        time(v, kind).map(Some)
    }

    pub fn unix(v: &Value, kind: &str) -> Result<i64, AppError> {
        time(v, kind).map(OffsetDateTime::unix_timestamp)
    }

    pub fn opt_unix(v: &Value, kind: &str) -> Result<Option<i64>, AppError> {
        opt_time(v, kind).map(|t| t.map(OffsetDateTime::unix_timestamp))
    }

    /// `Type/<uuid>`.
    pub fn reference(v: &Value, ty: &str, kind: &str) -> Result<Uuid, AppError> {
        v["reference"]
            .as_str()
            .and_then(|r| r.strip_prefix(ty))
            .and_then(|r| r.strip_prefix('/'))
            .and_then(|r| Uuid::try_parse(r).ok())
            .ok_or_else(|| bad(kind, &format!("a reference is not to a {ty}")))
    }

    /// A reference back to the actor id it was made from.
    pub fn actor(v: &Value) -> String {
        let r = v["reference"].as_str().unwrap_or_default();
        if let Some(id) = r.strip_prefix("Practitioner/") {
            format!("personnel:{id}")
        } else if let Some(id) = r.strip_prefix("Patient/") {
            format!("patient:{id}")
        } else {
            v["display"].as_str().unwrap_or("trygg:import").to_owned()
        }
    }

    /// A Trygg extension's value.
    pub fn ext<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
        v["extension"].as_array()?.iter().find_map(|e| {
            e["url"]
                .as_str()
                .is_some_and(|u| u.ends_with(&format!("/StructureDefinition/{name}")))
                .then(|| {
                    e.as_object().and_then(|o| {
                        o.iter()
                            .find(|(k, _)| k.starts_with("value"))
                            .map(|(_, v)| v)
                    })
                })
                .flatten()
        })
    }

    /// The first code of a CodeableConcept.
    pub fn code<'a>(v: &'a Value, kind: &str) -> Result<&'a str, AppError> {
        v["coding"][0]["code"]
            .as_str()
            .ok_or_else(|| bad(kind, "a code is missing"))
    }
}

fn records_of(
    rows: &mut trygg_store::import::ImportRows,
    files: &BTreeMap<String, Vec<Value>>,
    now: OffsetDateTime,
) -> Result<(), AppError> {
    use trygg_store::import::{DeviceIn, MessageIn, PatientIn, PersonnelIn};
    let get = |c: &str| files.get(c).map(Vec::as_slice).unwrap_or_default();
    for p in get("fhir:Patient") {
        let k = "Patient";
        let name = read::text(&p["name"][0]["text"], k, "name")?;
        trygg_core::PersonName::parse(name).map_err(|e| read::bad(k, &e.to_string()))?;
        let nid = p["identifier"]
            .as_array()
            .and_then(|ids| {
                ids.iter().find(|i| {
                    i["system"]
                        .as_str()
                        .is_some_and(|s| s.starts_with("urn:oid:2.16.578.1.12.4.1.4."))
                })
            })
            .and_then(|i| i["value"].as_str())
            .ok_or_else(|| read::bad(k, "no national identity number"))?;
        trygg_core::national_id::NationalId::parse(nid)
            .map_err(|_| read::bad(k, "a national identity number is not valid"))?;
        let telecom = |sys: &str| {
            p["telecom"]
                .as_array()
                .and_then(|t| t.iter().find(|x| x["system"] == sys))
                .and_then(|x| x["value"].as_str())
                .map(str::to_owned)
        };
        let phone = telecom("phone");
        if let Some(ph) = &phone {
            trygg_core::PhoneNumber::parse(ph).map_err(|e| read::bad(k, &e.to_string()))?;
        }
        let email = telecom("email");
        if let Some(e) = &email {
            trygg_core::EmailAddress::parse(e).map_err(|e| read::bad(k, &e.to_string()))?;
        }
        rows.patients.push(PatientIn {
            id: read::id(&p["id"], k)?,
            name: name.to_owned(),
            nid: nid.to_owned(),
            phone,
            email,
            created_at: read::ext(p, "registered")
                .map(|v| read::time(v, k))
                .transpose()?
                .unwrap_or(now),
        });
    }
    for p in get("fhir:Practitioner") {
        let k = "Practitioner";
        let name = read::text(&p["name"][0]["text"], k, "name")?;
        trygg_core::PersonName::parse(name).map_err(|e| read::bad(k, &e.to_string()))?;
        let role = read::code(&p["qualification"][0]["code"], k)?;
        trygg_core::BuiltinRole::parse(role)
            .ok_or_else(|| read::bad(k, "a role is not a built-in role"))?;
        let employment = read::ext(p, "employment")
            .and_then(Value::as_str)
            .ok_or_else(|| read::bad(k, "no employment"))?;
        trygg_core::Employment::parse(employment)
            .ok_or_else(|| read::bad(k, "an employment is not one"))?;
        let email = p["telecom"][0]["value"].as_str().map(str::to_owned);
        if let Some(e) = &email {
            trygg_core::EmailAddress::parse(e).map_err(|e| read::bad(k, &e.to_string()))?;
        }
        rows.personnel.push(PersonnelIn {
            id: read::id(&p["id"], k)?,
            name: name.to_owned(),
            email,
            role: role.to_owned(),
            employment: employment.to_owned(),
            created_at: read::ext(p, "registered")
                .map(|v| read::time(v, k))
                .transpose()?
                .unwrap_or(now),
            employment_end: read::ext(p, "employment-end")
                .map(|v| read::unix(v, k))
                .transpose()?,
        });
    }
    for c in get("fhir:Consent") {
        let k = "Consent";
        let channel = read::code(&c["provision"]["code"][0], k)?;
        if !["sms", "email"].contains(&channel) {
            return Err(read::bad(k, "a channel is sms or email"));
        }
        rows.consents.push(trygg_store::notices::ConsentRow {
            patient: read::reference(&c["patient"], "Patient", k)?,
            purpose: read::text(&c["provision"]["purpose"][0]["code"], k, "purpose")?.to_owned(),
            channel: channel.to_owned(),
            granted: c["provision"]["type"] == "permit",
            text_version: read::code(&c["policyRule"], k)?.to_owned(),
            recorded_at: read::time(&c["dateTime"], k)?,
            recorded_by: read::actor(&c["performer"][0]),
        });
    }
    for e in get("fhir:Encounter") {
        let k = "Encounter";
        let state = match e["status"].as_str() {
            Some("finished") => "ended",
            Some("cancelled") => "cancelled",
            Some("planned") => "scheduled",
            _ => return Err(read::bad(k, "a status is planned, finished or cancelled")),
        };
        let minutes = e["length"]["value"]
            .as_u64()
            .and_then(|m| u32::try_from(m).ok())
            .filter(|m| (5..=480).contains(m))
            .ok_or_else(|| read::bad(k, "a length is 5 to 480 minutes"))?;
        let journal = e["text"]["div"].as_str().map(|d| {
            let inner = d.split_once("<pre>").map(|(_, r)| r).unwrap_or(d);
            let inner = inner.rsplit_once("</pre>").map(|(l, _)| l).unwrap_or(inner);
            inner
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&")
        });
        rows.consultations.push((
            trygg_store::consultations::ConsultationRow {
                id: read::id(&e["id"], k)?,
                kind: read::code(&e["type"][0], k)?.to_owned(),
                patient: read::reference(&e["subject"], "Patient", k)?,
                starts_at: read::time(&e["period"]["start"], k)?,
                minutes,
                created_by: read::ext(e, "planned-by")
                    .and_then(Value::as_str)
                    .unwrap_or("trygg:import")
                    .to_owned(),
                created_at: read::ext(e, "registered")
                    .map(|v| read::time(v, k))
                    .transpose()?
                    .unwrap_or(now),
                state: state.to_owned(),
                ended_at: if state == "scheduled" {
                    None
                } else {
                    read::opt_time(&e["period"]["end"], k)?
                },
            },
            journal,
        ));
    }
    let mut thread_patient: std::collections::HashMap<Uuid, Uuid> = Default::default();
    for m in get("fhir:Communication") {
        use base64::Engine as _;
        let k = "Communication";
        let thread = m["identifier"]
            .as_array()
            .and_then(|ids| ids.iter().find(|i| i["system"] == fhir::sid("thread")))
            .map(|i| read::id(&i["value"], k))
            .transpose()?
            .ok_or_else(|| read::bad(k, "no thread"))?;
        let from_patient = m["sender"]["reference"]
            .as_str()
            .is_some_and(|r| r.starts_with("Patient/"));
        let mut body = None;
        let mut attachments = Vec::new();
        for p in m["payload"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            if let Some(s) = p["contentString"].as_str() {
                body = Some(s.to_owned());
            } else {
                let a = &p["contentAttachment"];
                let data = base64::engine::general_purpose::STANDARD
                    .decode(a["data"].as_str().unwrap_or_default())
                    .map_err(|_| read::bad(k, "an attachment is not base64"))?;
                // The same check as an upload: one of the four types, its content matching it,
                // a clean name (an import cannot bring a page to serve inline).
                let (kind, name) = trygg_core::message::attachment(
                    read::text(&a["title"], k, "name")?,
                    read::text(&a["contentType"], k, "media type")?,
                    &data,
                )
                .map_err(|e| read::bad(k, &e.to_string()))?;
                attachments.push((kind.as_str().to_owned(), name, data));
            }
        }
        let filed = read::code(&m["category"][0], k)? == "filed";
        let sent = read::time(&m["sent"], k)?;
        let patient = read::reference(&m["subject"], "Patient", k)?;
        // Every message of a thread is about the thread's one patient.
        if *thread_patient.entry(thread).or_insert(patient) != patient {
            return Err(read::bad(
                k,
                "a thread's messages are about more than one patient",
            ));
        }
        if let Some(b) = &body {
            trygg_core::message::body(b).map_err(|e| read::bad(k, &e.to_string()))?;
        }
        let subject = read::opt_text(&m["topic"]["text"])
            .map(|t| trygg_core::message::subject(&t))
            .transpose()
            .map_err(|e| read::bad(k, &e.to_string()))?;
        rows.messages.push(MessageIn {
            id: read::id(&m["id"], k)?,
            thread,
            patient,
            subject,
            author: read::actor(&m["sender"]),
            from_patient,
            body,
            created_at: sent,
            read_at: read::opt_time(&m["received"], k)?,
            filed_at: filed.then_some(sent),
            expires_at: read::ext(m, "expires")
                .map(|v| read::time(v, k))
                .transpose()?
                .unwrap_or(now),
            attachments,
        });
    }
    for d in get("fhir:Device") {
        let k = "Device";
        let key = d["identifier"]
            .as_array()
            .and_then(|ids| {
                ids.iter()
                    .find(|i| i["system"] == fhir::sid("device-key-p256"))
            })
            .and_then(|i| i["value"].as_str())
            .map(hex::decode)
            .transpose()
            .map_err(|_| read::bad(k, "a key is not hex"))?;
        // An uncompressed P-256 point, as enrolment takes it.
        if key
            .as_ref()
            .is_some_and(|k| k.len() != 65 || k.first() != Some(&4))
        {
            return Err(read::bad(k, "a device key is not a P-256 public key"));
        }
        let label = trygg_core::message::clean_line(
            read::text(&d["deviceName"][0]["name"], k, "label")?,
            crate::devices::MAX_LABEL,
        )
        .ok_or_else(|| read::bad(k, "a label is 1 to 80 plain characters"))?;
        rows.devices.push(DeviceIn {
            id: read::id(&d["id"], k)?,
            label,
            patient: if d["patient"].is_null() {
                None
            } else {
                Some(read::reference(&d["patient"], "Patient", k)?)
            },
            public_key: key,
            revoked: d["status"] == "inactive",
        });
    }
    for g in get("record:grants") {
        let k = "grant";
        rows.grants.push(trygg_store::access::GrantRecord {
            id: read::id(&g["id"], k)?,
            personnel_id: read::id(&g["personnel"], k)?,
            role: read::text(&g["role"], k, "role")?.to_owned(),
            valid_from: read::unix(&g["valid_from"], k)?,
            valid_to: read::opt_unix(&g["valid_to"], k)?,
            granted_by: read::text(&g["granted_by"], k, "granter")?.to_owned(),
            granted_at: read::unix(&g["granted_at"], k)?,
            revoked_at: read::opt_unix(&g["revoked_at"], k)?,
            revoked_by: read::opt_text(&g["revoked_by"]),
            revoke_reason: read::opt_text(&g["revoke_reason"]),
        });
    }
    for r in get("record:roles") {
        let perms: Vec<&str> = r["permissions"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        for p in &perms {
            trygg_core::access::Permission::parse(p)
                .ok_or_else(|| read::bad("role", "a permission is not one"))?;
        }
        rows.roles.push((
            read::text(&r["name"], "role", "name")?.to_owned(),
            perms.join(","),
        ));
    }
    for c in get("record:care-relationships") {
        let k = "care relationship";
        rows.care.push(trygg_store::access::CareRecord {
            id: read::id(&c["id"], k)?,
            personnel_id: read::id(&c["personnel"], k)?,
            patient_id: read::id(&c["patient"], k)?,
            reason: read::text(&c["reason"], k, "reason")?.to_owned(),
            valid_from: read::unix(&c["valid_from"], k)?,
            valid_to: read::unix(&c["valid_to"], k)?,
            ended_at: read::opt_unix(&c["ended_at"], k)?,
            self_declared: c["self_declared"] == true,
        });
    }
    for i in get("record:incidents") {
        let k = "incident";
        rows.incidents.push(trygg_store::IncidentVersion {
            id: read::id(&i["id"], k)?,
            reference: read::text(&i["reference"], k, "reference")?.to_owned(),
            source: trygg_core::incident::Source::parse(read::text(&i["source"], k, "source")?)
                .ok_or_else(|| read::bad(k, "a source is not one"))?
                .as_str()
                .to_owned(),
            rule: read::opt_text(&i["rule"]),
            version: i["version"]
                .as_u64()
                .and_then(|v| u32::try_from(v).ok())
                .ok_or_else(|| read::bad(k, "no version"))?,
            state: trygg_core::incident::State::parse(read::text(&i["state"], k, "state")?)
                .ok_or_else(|| read::bad(k, "a state is not one"))?
                .as_str()
                .to_owned(),
            occurred_at: read::opt_time(&i["occurred_at"], k)?,
            discovered_at: read::time(&i["discovered_at"], k)?,
            aware_at: read::time(&i["aware_at"], k)?,
            facts: match &i["facts"] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            },
            by: read::text(&i["by"], k, "author")?.to_owned(),
            at: read::time(&i["at"], k)?,
        });
    }
    for r in get("record:routines") {
        let k = "routine";
        rows.routines.push(trygg_store::RoutineRecord {
            key: read::text(&r["key"], k, "key")?.to_owned(),
            owner: read::text(&r["owner"], k, "owner")?.to_owned(),
            document: read::text(&r["document"], k, "document")?.to_owned(),
            next_review: read::opt_text(&r["next_review"]),
            changed_at: read::time(&r["changed_at"], k)?,
        });
    }
    if let Some(policy) = get("record:retention-policy")
        .first()
        .and_then(Value::as_object)
    {
        for (class, value) in policy {
            let v = value
                .as_u64()
                .and_then(|v| u32::try_from(v).ok())
                .ok_or_else(|| read::bad("retention", "a value is not a number"))?;
            rows.retention.push((class.clone(), v));
        }
    }
    Ok(())
}

/// A register fact to write back.
enum Register {
    Patient {
        id: Uuid,
        address: Option<String>,
        protection: String,
        kin: Vec<String>,
    },
    Personnel {
        id: Uuid,
        nid: Option<String>,
        address: Option<String>,
    },
}

/// The register's facts of an export, checked as [`crate::register`] checks them.
fn register_of(lines: &[Value]) -> Result<Vec<Register>, AppError> {
    let k = "register";
    let nid = |v: &Value| -> Result<String, AppError> {
        let s = read::text(v, k, "national identity number")?;
        trygg_core::national_id::NationalId::parse(s)
            .map(|n| n.expose())
            .map_err(|_| read::bad(k, "a national identity number is not valid"))
    };
    let address = |v: &Value| -> Result<Option<String>, AppError> {
        v.as_str()
            .map(crate::register::normalise_address)
            .transpose()
    };
    lines
        .iter()
        .map(|l| {
            let id = read::id(&l["id"], k)?;
            Ok(match l["kind"].as_str() {
                Some("patient") => {
                    let protection = l["protection"].as_str().unwrap_or("none").to_owned();
                    if !crate::register::PROTECTIONS.contains(&protection.as_str()) {
                        return Err(read::bad(k, "a protection is not one"));
                    }
                    let kin = l["next_of_kin"]
                        .as_array()
                        .map(Vec::as_slice)
                        .unwrap_or_default()
                        .iter()
                        .map(nid)
                        .collect::<Result<Vec<_>, _>>()?;
                    Register::Patient {
                        id,
                        address: address(&l["address"])?,
                        protection,
                        kin,
                    }
                }
                Some("personnel") => Register::Personnel {
                    id,
                    nid: if l["national_id"].is_null() {
                        None
                    } else {
                        Some(nid(&l["national_id"])?)
                    },
                    address: address(&l["address"])?,
                },
                _ => return Err(read::bad(k, "a fact is a patient's or a staff member's")),
            })
        })
        .collect()
}

/// Imports an export into this deployment as a new organisation: the export is checked first
/// as [`verify_export`] does (signature, hashes, contents, the audit log against its
/// checkpoints), every record is read and checked, and all of it is written in one unit of work
/// with one `org.import` entry naming the old log's root (its size and origin are in the
/// manifest the organisation keeps). A failure leaves no
/// organisation behind.
pub async fn import(
    state: &App,
    console: &Console,
    input: ImportIn,
    now: OffsetDateTime,
) -> Result<Imported, AppError> {
    let (check, files) = check_export(
        &input.dir,
        Some(&input.identity),
        Some(&input.expect_key),
        now,
    )?;
    let m = check.manifest;
    let signed_by = check.signed_by;
    let mut rows = trygg_store::import::ImportRows::default();
    records_of(&mut rows, &files, now)?;
    let register = register_of(
        files
            .get("record:register-facts")
            .map(Vec::as_slice)
            .unwrap_or_default(),
    )?;
    let slug = input
        .slug
        .clone()
        .unwrap_or_else(|| m.organisation.slug.clone());
    let org = crate::orgs::create_org(
        state,
        console,
        crate::orgs::OrgIn {
            name: m.organisation.name.clone(),
            slug: Some(slug.clone()),
        },
        now,
    )
    .await?;
    let written = async {
        let h = crate::operator::org(state, &org.slug).await?;
        let mut tx = h.begin().await?;
        tx.import_rows(&rows, now).await?;
        // The tables carried generically, in name order (a task after the notice it follows).
        for (content, lines) in &files {
            let Some(table) = content.strip_prefix("table:") else {
                continue;
            };
            let objects: Vec<serde_json::Map<String, Value>> = lines
                .iter()
                .map(|l| {
                    l.as_object()
                        .cloned()
                        .ok_or_else(|| bad(format!("a {table} record is not an object")))
                })
                .collect::<Result<_, _>>()?;
            tx.import_table(table, &objects).await?;
        }
        for f in &register {
            match f {
                Register::Patient {
                    id,
                    address,
                    protection,
                    kin,
                } => {
                    tx.set_patient_register_facts(*id, address.as_deref(), protection, kin)
                        .await?;
                }
                Register::Personnel { id, nid, address } => {
                    tx.set_personnel_register_facts(*id, nid.as_deref(), address.as_deref())
                        .await?;
                }
            }
        }
        let e = crate::audit::event(
            &h.organisation().slug,
            &console.actor(),
            Did::new(
                Category::Administration,
                Operation::OrgImport,
                Action::Create,
                ("Organization", Some(h.organisation().id.to_string())),
            )
            .basis(trygg_audit::Basis::Administration)
            .detail(Some(m.audit.root.clone())),
            now,
        )?;
        tx.audit(&e).await?;
        tx.commit().await?;
        Ok::<_, AppError>(())
    }
    .await;
    if let Err(e) = written {
        // Nothing half-imported stays: the new organisation goes again.
        if let Ok(s) = trygg_core::OrgSlug::parse(&org.slug) {
            if let Ok(Some(o)) = state.store.org_by_slug(&s).await {
                let _ = state.store.delete_org(&o).await;
            }
        }
        return Err(e);
    }
    // What was written, counted from the rows (threads and incidents by their records).
    let n = |x: usize| x as u64;
    let counts: BTreeMap<String, u64> = [
        ("fhir:Organization", 1),
        ("fhir:Practitioner", n(rows.personnel.len())),
        ("fhir:PractitionerRole", n(rows.grants.len())),
        ("fhir:Patient", n(rows.patients.len())),
        ("fhir:Consent", n(rows.consents.len())),
        ("fhir:Encounter", n(rows.consultations.len())),
        ("fhir:Communication", n(rows.messages.len())),
        ("fhir:Device", n(rows.devices.len())),
        ("record:grants", n(rows.grants.len())),
        ("record:roles", n(rows.roles.len())),
        ("record:care-relationships", n(rows.care.len())),
        ("record:incidents", n(rows.incidents.len())),
        ("record:routines", n(rows.routines.len())),
        ("record:register-facts", n(register.len())),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .chain(
        files
            .iter()
            .filter(|(c, _)| c.starts_with("table:"))
            .map(|(c, l)| (c.clone(), l.len() as u64)),
    )
    .collect();
    Ok(Imported {
        org: org.slug,
        counts,
        audit_entries: m.audit.tree_size,
        signed_by,
    })
}
