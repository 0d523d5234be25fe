//! The real `trygg` binary: `trygg demo` seeds two organisations into per-organisation database
//! files, serves, stops cleanly on SIGTERM, is safe to run twice, and leaves no personal data in
//! plaintext anywhere in the data directory. Also the administrative commands and HTTPS.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_trygg");

pub struct Running {
    child: Child,
    pub base: String,
    token: String,
    lines: Vec<String>,
}

impl Drop for Running {
    /// A test that fails before `terminate` must not leave the server running.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `trygg <args>` and reads stdout until the start page line, with a time limit.
pub fn start(args: &[&str], envs: &[(&str, &str)]) -> Running {
    start_logging(args, envs, Stdio::null())
}

/// Starts `trygg <args>` like [`start`], with its log (stderr) going to `stderr`.
pub fn start_logging(args: &[&str], envs: &[(&str, &str)], stderr: Stdio) -> Running {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(stderr);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut lines = Vec::new();
    let mut base = None;
    let mut token = String::new();
    while Instant::now() < deadline {
        let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) else {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("trygg exited early with {status}: {lines:?}");
            }
            continue;
        };
        if let Some(url) = line.split_whitespace().find(|w| w.starts_with("http")) {
            if line.contains("Start page") || line.contains("listening") {
                base = Some(url.trim_end_matches('/').to_owned());
            }
        }
        if line.contains("Demo API token:") {
            token = line.split_whitespace().last().unwrap().to_owned();
        }
        let done = line.starts_with("Stop with") || line.contains("listening on");
        lines.push(line);
        if done {
            break;
        }
    }
    let base = base.unwrap_or_else(|| panic!("no URL printed within 60 s: {lines:?}"));
    Running {
        child,
        base,
        token,
        lines,
    }
}

impl Running {
    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// Starts `trygg serve` on `dir` on an ephemeral port, with `envs`.
pub fn serve_in(dir: &Path, envs: &[(&str, &str)]) -> Running {
    start(
        &[
            "serve",
            "--data-dir",
            dir.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
        envs,
    )
}

/// `GET <url>`'s status code (curl; no redirects followed).
pub fn http_status(url: &str) -> u16 {
    let out = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", url])
        .output()
        .expect("curl is needed for this test");
    String::from_utf8_lossy(&out.stdout).parse().unwrap_or(0)
}

/// Kills the server with SIGKILL, as a power cut or the OOM killer would: no shutdown runs.
pub fn sigkill(mut r: Running) {
    r.child.kill().unwrap();
    r.child.wait().unwrap();
}

/// Runs `trygg <args> --data-dir <dir>` to the end (for tests in other modules).
pub fn run_in(dir: &Path, args: &[&str]) -> std::process::Output {
    trygg_in(dir, args)
}

pub fn terminate(mut r: Running) {
    let status = Command::new("kill")
        .args(["-TERM", &r.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(s) = r.child.try_wait().unwrap() {
            assert!(s.success(), "trygg should exit 0 on SIGTERM, got {s}");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "trygg did not stop within 30 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[tokio::test]
async fn demo_serves_seeds_per_org_databases_and_leaves_no_plaintext() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_s = data.to_str().unwrap();
    let r = start(
        &["demo", "--data-dir", data_s, "--listen", "127.0.0.1:0"],
        &[],
    );
    assert!(r.lines.iter().any(|l| l.contains("records added")));
    // reqwest's TLS needs a crypto provider; an in-process App installs one, this test has none.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let http = reqwest::Client::new();
    let h = http
        .get(format!("{}/healthz", r.base))
        .send()
        .await
        .unwrap();
    assert_eq!(h.status(), 200);
    let doc: serde_json::Value = http
        .get(format!("{}/api/v1/openapi.json", r.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["paths"].is_object());
    let orgs: Vec<serde_json::Value> = http
        .get(format!("{}/api/v1/orgs", r.base))
        .bearer_auth(&r.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let slugs: Vec<&str> = orgs.iter().map(|o| o["slug"].as_str().unwrap()).collect();
    assert_eq!(
        slugs,
        ["normbakken-kommune-hjemmetjenesten", "normland-legesenter"]
    );
    terminate(r);

    // One control database and one database file per organisation (PC-VENDOR-4).
    assert!(data.join("control.sqlite").is_file());
    let org_dbs: Vec<_> = std::fs::read_dir(data.join("orgs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sqlite"))
        .collect();
    assert_eq!(org_dbs.len(), 2);

    // Running it twice is safe: nothing is added the second time, the token is the same.
    let r2 = start(
        &["demo", "--data-dir", data_s, "--listen", "127.0.0.1:0"],
        &[],
    );
    assert!(
        r2.lines.iter().any(|l| l.contains("(0 demo records added")),
        "{:?}",
        r2.lines
    );
    terminate(r2);

    // The plaintext scan: no name, national identity number, phone number or e-mail address of
    // the demo data appears anywhere in the raw bytes of any file in the data directory.
    let needles = trygg::demo::personal_strings();
    assert!(
        needles.len() >= 30,
        "the scan must look for every demo person"
    );
    let files = files_under(&data);
    assert!(files.len() >= 4);
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        for n in &needles {
            // Also as UTF-16, the other encoding SQLite can use for text.
            let utf16: Vec<u8> = n.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
            let found = bytes.windows(n.len()).any(|w| w == n.as_bytes())
                || bytes.windows(utf16.len()).any(|w| w == utf16.as_slice());
            assert!(!found, "personal data in plaintext in {}", f.display());
        }
    }
}

#[tokio::test]
async fn org_commands_are_scriptable_and_errors_are_plain() {
    let dir = crate::common::private_tempdir();
    let d = dir.path().to_str().unwrap();
    let out = Command::new(BIN)
        .args([
            "org",
            "create",
            "--data-dir",
            d,
            "--name",
            "Sørbyen helsestasjon",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let org: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(org["slug"], "sorbyen-helsestasjon");
    let out = Command::new(BIN)
        .args(["org", "list", "--data-dir", d, "--json"])
        .output()
        .unwrap();
    let list: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list.len(), 1);
    // The same again is a clear error, not a panic.
    let out = Command::new(BIN)
        .args([
            "org",
            "create",
            "--data-dir",
            d,
            "--name",
            "Sørbyen helsestasjon",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("trygg: ") && err.contains("exists"),
        "{err}"
    );
    assert!(!err.contains("panicked"));
    // An unknown key in a configuration file is named.
    let cfg = dir.path().join("t.toml");
    std::fs::write(&cfg, "lissen = 1\n").unwrap();
    let out = Command::new(BIN)
        .args([
            "org",
            "list",
            "--data-dir",
            d,
            "--config",
            cfg.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("lissen"));
    // Plain HTTP off loopback is refused at start.
    let out = Command::new(BIN)
        .args(["serve", "--data-dir", d, "--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback"));
}

#[tokio::test]
async fn https_with_tls_1_2_or_later_and_hsts() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.key_pair.serialize_pem()).unwrap();
    let data = dir.path().join("data");
    let r = start(
        &[
            "serve",
            "--data-dir",
            data.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
        &[
            ("TRYGG_TLS_CERT", cert_path.to_str().unwrap()),
            ("TRYGG_TLS_KEY", key_path.to_str().unwrap()),
        ],
    );
    assert!(r.base.starts_with("https://"), "{}", r.base);
    let port = r.base.rsplit(':').next().unwrap().to_owned();
    let url = format!("https://localhost:{port}/healthz");
    let ok = Command::new("curl")
        .args([
            "-sS",
            "-D",
            "-",
            "--cacert",
            cert_path.to_str().unwrap(),
            &url,
        ])
        .output()
        .expect("curl is needed for the HTTPS test");
    let text = String::from_utf8_lossy(&ok.stdout).to_lowercase();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(
        text.contains("strict-transport-security: max-age="),
        "{text}"
    );
    // TLS 1.1 is refused.
    let old = Command::new("curl")
        .args([
            "-sS",
            "--tls-max",
            "1.1",
            "--tlsv1.1",
            "--cacert",
            cert_path.to_str().unwrap(),
            &url,
        ])
        .output()
        .unwrap();
    assert!(!old.status.success(), "TLS 1.1 must be refused");
    // Plain HTTP to the TLS port gets no answer with data.
    let plain = Command::new("curl")
        .args(["-sS", &format!("http://127.0.0.1:{port}/healthz")])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&plain.stdout).contains("ok"));
    terminate(r);
}

#[tokio::test]
async fn organisations_define_their_own_roles() {
    let dir = crate::common::private_tempdir();
    let d = dir.path().to_str().unwrap();
    let run = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .args(["--data-dir", d])
            .output()
            .unwrap()
    };
    assert!(run(&["org", "create", "--name", "Normland legesenter"])
        .status
        .success());
    let ok = run(&[
        "role",
        "define",
        "--org",
        "normland-legesenter",
        "--name",
        "lab-secretary",
        "--permissions",
        "patient-read,consultation-manage",
    ]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    for (args, needle) in [
        (
            vec!["--name", "doctor", "--permissions", "patient-read"],
            "built-in",
        ),
        (
            vec!["--name", "x", "--permissions", "fly"],
            "unknown permission",
        ),
        (
            vec!["--name", "Bad Name", "--permissions", "patient-read"],
            "a-z",
        ),
    ] {
        let mut full = vec!["role", "define", "--org", "normland-legesenter"];
        full.extend(args);
        let out = run(&full);
        assert_eq!(out.status.code(), Some(1));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(needle),
            "{needle}"
        );
    }
    // The definition is logged, and the log verifies.
    let out = run(&["audit", "verify", "--org", "normland-legesenter"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `trygg <args> --data-dir <dir>` to the end.
fn trygg_in(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .args(["--data-dir", dir.to_str().unwrap()])
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

/// The organisation's audit log, read with the store after the commands: (operation, actor) of
/// every entry, oldest first.
async fn log_of(dir: &Path, org: &str) -> Vec<(String, String)> {
    let config = trygg_server::config::Config::load(
        None,
        Vec::<(String, String)>::new(),
        &trygg_server::config::Overrides {
            data_dir: Some(dir.to_owned()),
            listen: None,
        },
    )
    .unwrap();
    let store = trygg::startup::open_store(&config).await.unwrap();
    let slug = trygg_core::OrgSlug::parse(org).unwrap();
    let o = store.org_by_slug(&slug).await.unwrap().unwrap();
    let h = store.org(&o).await.unwrap();
    let events = h.audit_events(None).await.unwrap();
    store.close().await;
    events
        .iter()
        .map(|(_, e)| {
            (
                e.operation.as_str().to_owned(),
                e.agent.id.as_ref().unwrap().as_str().to_owned(),
            )
        })
        .collect()
}

fn entry(op: &str) -> (String, String) {
    (op.to_owned(), "trygg:cli".to_owned())
}

/// `trygg role define` and `trygg audit export` call the console's use cases, which append their
/// own entries (actor `trygg:cli`); a bad permission is a plain one-line error with exit code 1
/// and leaves no entry (PC-ACL-2, PC-VENDOR-3).
#[tokio::test]
async fn cli_role_define_and_audit_export_append_their_entries_and_bad_input_is_a_plain_error() {
    let dir = crate::common::private_tempdir();
    let d = dir.path();
    let org = "normland-legesenter";
    assert!(
        trygg_in(d, &["org", "create", "--name", "Normland legesenter"])
            .status
            .success()
    );
    let before = log_of(d, org).await;
    let ok = trygg_in(
        d,
        &[
            "role",
            "define",
            "--org",
            org,
            "--name",
            "lab-secretary",
            "--permissions",
            "patient-read,consultation-manage",
        ],
    );
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let after_role = log_of(d, org).await;
    assert_eq!(after_role.len(), before.len() + 1);
    assert_eq!(after_role.last(), Some(&entry("role.define")));

    let out = trygg_in(d, &["audit", "export", "--org", org]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bundle: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // The bundle holds the log as it was; the export's own entry was committed before it left.
    assert_eq!(
        bundle["entry"].as_array().unwrap().len(),
        after_role.len(),
        "{bundle}"
    );
    let after_export = log_of(d, org).await;
    assert_eq!(after_export.len(), after_role.len() + 1);
    assert_eq!(after_export.last(), Some(&entry("audit.export")));

    // A bad permission name: one plain line, exit code 1, no panic, nothing logged.
    let bad = trygg_in(
        d,
        &[
            "role",
            "define",
            "--org",
            org,
            "--name",
            "x",
            "--permissions",
            "patient-read,fly",
        ],
    );
    assert_eq!(bad.status.code(), Some(1));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.starts_with("trygg: ") && err.contains("unknown permission \"fly\""),
        "{err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(!err.contains("panicked"), "{err}");
    // An organisation that does not exist is as plain.
    let none = trygg_in(d, &["audit", "export", "--org", "nowhere"]);
    assert_eq!(none.status.code(), Some(1));
    let err = String::from_utf8_lossy(&none.stderr);
    assert_eq!(
        err.trim_end(),
        "trygg: no organisation with the short name nowhere"
    );
    assert_eq!(log_of(d, org).await, after_export);
    // The log still verifies.
    let v = trygg_in(d, &["audit", "verify", "--org", org]);
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stderr));
}

/// `trygg org create` goes through the same use case as `POST /api/v1/orgs`: the creation is the
/// first entry of the organisation's log, naming the console (before, the CLI logged nothing),
/// and the set-up link it shows the second.
#[tokio::test]
async fn cli_org_create_is_the_first_entry_of_its_log() {
    let dir = crate::common::private_tempdir();
    let d = dir.path();
    let out = trygg_in(d, &["org", "create", "--name", "Sørbyen helsestasjon"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Then the first administrator's set-up link it shows (issue #18), issued by Trygg.
    assert_eq!(
        log_of(d, "sorbyen-helsestasjon").await,
        vec![
            entry("org.create"),
            (
                "enrolment-link.issue".to_owned(),
                "trygg:first-admin".to_owned()
            )
        ]
    );
}

/// Changing an organisation's messaging settings at the console is an audited settings change
/// (before, the CLI changed them without an entry); showing them logs nothing.
#[tokio::test]
async fn cli_messaging_change_is_logged() {
    let dir = crate::common::private_tempdir();
    let d = dir.path();
    let org = "normland-legesenter";
    assert!(
        trygg_in(d, &["org", "create", "--name", "Normland legesenter"])
            .status
            .success()
    );
    let before = log_of(d, org).await;
    let show = trygg_in(d, &["org", "messaging", "--org", org]);
    assert!(show.status.success());
    assert_eq!(log_of(d, org).await, before, "showing is not a change");
    let set = trygg_in(
        d,
        &[
            "org",
            "messaging",
            "--org",
            org,
            "--sender-name",
            "Legesenteret",
            "--domain",
            "Normland.no",
            "--json",
        ],
    );
    assert!(
        set.status.success(),
        "{}",
        String::from_utf8_lossy(&set.stderr)
    );
    let m: serde_json::Value = serde_json::from_slice(&set.stdout).unwrap();
    assert_eq!(m["domains"], serde_json::json!(["normland.no"]));
    let after = log_of(d, org).await;
    assert_eq!(after.len(), before.len() + 1);
    assert_eq!(after.last(), Some(&entry("settings.change")));
    // An invalid value is refused plainly and leaves neither the change nor an entry.
    let bad = trygg_in(d, &["org", "messaging", "--org", org, "--phone", "12"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("phone number"));
    assert_eq!(log_of(d, org).await, after);
}

/// Issue #10: a script drives consultations at the console: `personnel list` and `patient list`
/// give the ids, `consultation create --json` prints one link per participant, then invite,
/// revoke, list, end; every step is an entry by `trygg:cli`, and bad input is a plain one-line
/// error with exit code 1 that leaves nothing behind.
#[tokio::test]
async fn cli_consultations_are_scriptable_and_bad_input_is_a_plain_error() {
    let dir = crate::common::private_tempdir();
    let d = dir.path();
    let org = "normland-legesenter";
    crate::common::seeded_store(d).await.close().await;
    let json = |args: &[&str]| -> serde_json::Value {
        let out = trygg_in(d, args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let fails = |args: &[&str], message: &str| {
        let out = trygg_in(d, args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(message), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "one plain line: {err}");
        assert!(!err.contains("panicked"), "{err}");
    };
    let personnel = json(&["personnel", "list", "--org", org, "--json"]);
    let id_of = |role: &str| {
        personnel
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["role"] == role)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (doctor, interpreter) = (id_of("doctor"), id_of("interpreter"));
    let patients = json(&["patient", "list", "--org", org, "--json"]);
    let patient = patients[0]["id"].as_str().unwrap().to_owned();
    let other = patients[1]["id"].as_str().unwrap().to_owned();
    let before = log_of(d, org).await.len();

    let base = ["consultation", "create", "--org", org, "--host", &doctor];
    for (extra, message) in [
        (
            vec!["--patient", &patient, "--participant", "nonsense"],
            "ROLE:PERSON",
        ),
        (
            vec!["--patient", &patient, "--minutes", "2"],
            "between 5 and 480",
        ),
        (
            vec!["--patient", &patient, "--start", "tomorrow"],
            "RFC 3339",
        ),
        (vec!["--patient", "12345678901"], "national identity number"),
        (
            vec!["--patient", "3f0dff46-af99-4fc5-be83-b4d8c2d4cc47"],
            "no such patient",
        ),
        (
            vec!["--patient", &patient, "--participant", "wizard:x"],
            "a role is one of",
        ),
        (
            vec![
                "--patient",
                &patient,
                "--participant",
                "clinician:not-a-uuid",
            ],
            "personnel id",
        ),
    ] {
        let args: Vec<&str> = base.iter().copied().chain(extra).collect();
        fails(&args, message);
    }
    fails(
        &[
            "consultation",
            "create",
            "--org",
            org,
            "--host",
            &interpreter,
            "--patient",
            &patient,
        ],
        "does not fit the seat",
    );
    assert_eq!(
        log_of(d, org).await.len(),
        before,
        "refusals leave nothing behind"
    );

    let plan = json(&[
        "consultation",
        "create",
        "--org",
        org,
        "--host",
        &doctor,
        "--patient",
        &patient,
        "--interpreter",
        &interpreter,
        "--minutes",
        "45",
        "--json",
    ]);
    let id = plan["id"].as_str().unwrap().to_owned();
    assert_eq!(plan["kind"], "with-interpreter");
    let inv = plan["invitations"].as_array().unwrap();
    assert_eq!(
        inv.iter()
            .map(|i| i["role"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["clinician", "patient", "interpreter"]
    );
    for i in inv {
        let url = i["url"].as_str().unwrap();
        let secret = url.rsplit('.').next().unwrap();
        assert_eq!(secret.len(), 43, "256 random bits: {url}");
    }
    let extra = json(&[
        "consultation",
        "invite",
        "--org",
        org,
        "--consultation",
        &id,
        "--participant",
        &format!("companion:{other}"),
        "--json",
    ]);
    fails(
        &[
            "consultation",
            "invite",
            "--org",
            org,
            "--consultation",
            &id,
            "--participant",
            &format!("companion:{other}"),
        ],
        "participant of the consultation already",
    );
    let extra_id = extra["id"].as_str().unwrap();
    assert!(trygg_in(
        d,
        &[
            "consultation",
            "revoke",
            "--org",
            org,
            "--consultation",
            &id,
            "--invitation",
            extra_id
        ]
    )
    .status
    .success());
    fails(
        &[
            "consultation",
            "revoke",
            "--org",
            org,
            "--consultation",
            &id,
            "--invitation",
            extra_id,
        ],
        "revoked already",
    );
    let list = json(&["consultation", "list", "--org", org, "--json"]);
    let listed = list
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id.as_str())
        .unwrap();
    assert_eq!(listed["participants"].as_array().unwrap().len(), 4);
    assert!(listed["participants"][3]["revoked"].as_bool().unwrap());
    let out = trygg_in(
        d,
        &["consultation", "end", "--org", org, "--consultation", &id],
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "cancelled");
    fails(
        &["consultation", "end", "--org", org, "--consultation", &id],
        "over",
    );
    fails(
        &[
            "consultation",
            "journal",
            "--org",
            org,
            "--consultation",
            &id,
        ],
        "has not ended",
    );
    fails(
        &[
            "consultation",
            "invite",
            "--org",
            org,
            "--consultation",
            &id,
            "--renew",
            extra_id,
        ],
        "over",
    );

    let text = d.join("info.txt");
    std::fs::write(&text, "Vi bruker video. Ingenting blir tatt opp.").unwrap();
    let t = text.to_str().unwrap();
    fails(
        &[
            "consultation",
            "info",
            "--org",
            org,
            "--lang",
            "de",
            "--file",
            t,
        ],
        "nb, nn or en",
    );
    assert!(trygg_in(
        d,
        &[
            "consultation",
            "info",
            "--org",
            org,
            "--lang",
            "nn",
            "--file",
            t
        ]
    )
    .status
    .success());

    let log = log_of(d, org).await;
    for op in [
        "personnel.list",
        "patient.list",
        "consultation.create",
        "consultation.invite",
        "consultation.revoke",
        "consultation.list",
        "consultation.cancel",
        "settings.change",
    ] {
        assert!(
            log.contains(&entry(op)),
            "{op} by trygg:cli missing: {log:?}"
        );
    }
}

/// Issue #13: `trygg oidc key` writes a client key once (never over an existing file) and prints
/// its public JWK; `trygg personnel hpr` records a person's HPR number (an entry by `trygg:cli`),
/// and a malformed number or an unknown person is a plain error that leaves no entry.
#[tokio::test]
async fn cli_oidc_key_and_personnel_hpr() {
    let dir = crate::common::private_tempdir();
    let d = dir.path();
    let org = "normland-legesenter";
    let key = d.join("helseid.key");
    let out = Command::new(BIN)
        .args(["oidc", "key", "--out", key.to_str().unwrap(), "--kid", "k1"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let jwk: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(jwk["keys"][0]["kid"], "k1");
    assert_eq!(jwk["keys"][0]["crv"], "P-256");
    assert!(jwk["keys"][0].get("d").is_none(), "no private part printed");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "only the owner reads the key");
    }
    let again = Command::new(BIN)
        .args(["oidc", "key", "--out", key.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1));

    assert!(
        trygg_in(d, &["org", "create", "--name", "Normland legesenter"])
            .status
            .success()
    );
    let store_dir = d.to_owned();
    let person = {
        let config = trygg_server::config::Config::load(
            None,
            Vec::<(String, String)>::new(),
            &trygg_server::config::Overrides {
                data_dir: Some(store_dir),
                listen: None,
            },
        )
        .unwrap();
        let store = trygg::startup::open_store(&config).await.unwrap();
        let o = store
            .org_by_slug(&trygg_core::OrgSlug::parse(org).unwrap())
            .await
            .unwrap()
            .unwrap();
        let h = store.org(&o).await.unwrap();
        let mut tx = h.begin().await.unwrap();
        let p = tx
            .create_personnel(
                &trygg_store::NewPersonnel {
                    name: trygg_core::PersonName::parse("Test Lege").unwrap(),
                    email: None,
                    role: trygg_core::BuiltinRole::Doctor,
                    employment: trygg_core::Employment::Employee,
                },
                time::OffsetDateTime::now_utc(),
            )
            .await
            .unwrap();
        tx.audit(&crate::common::test_event(org)).await.unwrap();
        tx.commit().await.unwrap();
        store.close().await;
        p.id.to_string()
    };
    let before = log_of(d, org).await;
    let ok = trygg_in(
        d,
        &[
            "personnel",
            "hpr",
            "--org",
            org,
            "--personnel",
            &person,
            "--hpr",
            "565501872",
        ],
    );
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let after = log_of(d, org).await;
    assert_eq!(after.len(), before.len() + 1);
    assert_eq!(after.last(), Some(&entry("personnel.hpr-set")));
    for (who, hpr, words) in [
        (person.as_str(), "56550x872", "HPR number"),
        (
            "00000000-0000-0000-0000-000000000000",
            "565501872",
            "no such person",
        ),
    ] {
        let bad = trygg_in(
            d,
            &[
                "personnel",
                "hpr",
                "--org",
                org,
                "--personnel",
                who,
                "--hpr",
                hpr,
            ],
        );
        assert_eq!(bad.status.code(), Some(1));
        let err = String::from_utf8_lossy(&bad.stderr);
        assert!(err.contains(words) && !err.contains("panicked"), "{err}");
    }
    assert_eq!(log_of(d, org).await, after);

    // The organisation's own provider (issue #13): without one configured there is nothing to
    // link to; with one, the person is linked (logged), and a bad subject changes nothing.
    let link = |subject: &str, configured: bool| {
        let mut c = Command::new(BIN);
        c.args([
            "personnel",
            "oidc-subject",
            "--org",
            org,
            "--personnel",
            &person,
        ])
        .args(["--subject", subject, "--data-dir", d.to_str().unwrap()])
        .env_remove("RUST_LOG");
        if configured {
            c.env("TRYGG_PERSONNEL_OIDC_ISSUER", "https://login.example.no")
                .env("TRYGG_PERSONNEL_OIDC_CLIENT_ID", "c")
                .env("TRYGG_PERSONNEL_OIDC_CLIENT_SECRET", "s");
        }
        c.output().unwrap()
    };
    let none = link("entra-1", false);
    assert_eq!(none.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&none.stderr).contains("personnel_oidc_issuer"));
    let bad = link("entra\u{7}", true);
    assert_eq!(bad.status.code(), Some(1));
    assert_eq!(log_of(d, org).await, after);
    let ok = link("entra-1", true);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert_eq!(
        log_of(d, org).await.last(),
        Some(&entry("personnel.oidc-subject-set"))
    );
}

/// Issue #18 (no secrets at start): `trygg org create` shows the first administrator's set-up
/// link once; `trygg serve` prints no set-up or enrolment link, on stdout or in its logs;
/// `trygg org setup-link` issues a new one and the previous no longer opens; a second server on
/// the same data directory is refused (the lock `trygg org delete` also asks).
#[tokio::test]
async fn serve_prints_no_set_up_link_and_the_operator_gets_one_once() {
    let dir = crate::common::private_tempdir();
    let d = dir.path();
    let out = trygg_in(
        d,
        &["org", "create", "--name", "Normland legesenter", "--json"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let org: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let first = org["setup_link"].as_str().unwrap().to_owned();
    assert!(first.contains("/enrol/normland-legesenter."), "{first}");
    let token = |url: &str| url.rsplit('/').next().unwrap().to_owned();

    // The server's whole output (stdout and the logs on stderr) holds no link.
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--data-dir",
            d.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ])
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut base = None;
    let mut printed = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if line.contains("listening on") {
            base = line
                .split_whitespace()
                .find(|w| w.starts_with("http"))
                .map(|u| u.trim_end_matches('/').replace("127.0.0.1", "localhost"));
            printed.push(line);
            break;
        }
        printed.push(line);
    }
    assert!(base.is_some(), "no URL: {printed:?}");
    // A second server on the same data directory is refused.
    let second = trygg_in(d, &["serve", "--listen", "127.0.0.1:0"]);
    assert_eq!(second.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&second.stderr).contains("another Trygg server"));

    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let all = format!(
        "{}\n{}\n{}",
        printed.join("\n"),
        rest.join("\n"),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !all.contains(&token(&first)),
        "a link token in the server's output"
    );
    assert!(!all.contains("/enrol/"), "{all}");
    // A new link from the console; the first no longer opens, the new one does.
    let out = trygg_in(d, &["org", "setup-link", "--org", "normland-legesenter"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let again = text
        .split_whitespace()
        .find(|w| w.contains("/enrol/"))
        .unwrap_or_else(|| panic!("{text}"))
        .to_owned();
    assert_ne!(token(&again), token(&first));
    // The console writes while no server runs; then a server serves the links.
    let r = serve_in(d, &[]);
    let base = r.base.replace("127.0.0.1", "localhost");
    let status = |t: String| http_status(&format!("{base}/enrol/{t}"));
    assert_eq!(status(token(&first)), 410, "the previous link is revoked");
    assert_eq!(status(token(&again)), 200);
    let bad = trygg_in(d, &["org", "setup-link", "--org", "nobody"]);
    assert_eq!(bad.status.code(), Some(1));

    drop(r);
}
