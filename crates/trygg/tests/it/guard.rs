//! The confidentiality guard through the CLI and the API (PC-CONF-1).

use std::io::Write as _;
use std::process::{Command, Stdio};

use reqwest::Method;
use serde_json::json;
use trygg_core::BuiltinRole;

use crate::binary::BIN;
use crate::common::{assert_problem, TestServer};

const BLOCKED: &str = "Hei! Husk timen på psykiatrisk poliklinikk tirsdag kl. 10.";
const ALLOWED: &str = "Hei Kari! Du har time tirsdag 5. mars kl. 14.30. Hilsen Normland legesenter";

#[test]
fn check_prints_a_verdict_and_json_and_jsonl_in_order() {
    let out = Command::new(BIN)
        .args(["guard", "check", "--channel", "sms", BLOCKED])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("block"), "{text}");
    assert!(text.contains("revealing-unit"), "{text}");

    let out = Command::new(BIN)
        .args(["guard", "check", "--channel", "email", "--json", ALLOWED])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["verdict"], "allow");
    assert_eq!(v["findings"], json!([]));

    let nid = trygg_core::NationalId::synthetic(9, 9, 99, 100)
        .unwrap()
        .expose();
    let lines = [
        json!({"channel": "sms", "text": ALLOWED}),
        json!({"channel": "sms", "text": BLOCKED}),
        json!({"channel": "sms", "text": format!("Referanse {nid}")}),
        json!({"channel": "email", "text": format!("Referanse {nid}")}),
    ];
    let mut child = Command::new(BIN)
        .args(["guard", "check", "--jsonl"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut stdin = child.stdin.take().unwrap();
        for l in &lines {
            writeln!(stdin, "{l}").unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let verdicts: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["verdict"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(verdicts, ["allow", "block", "review", "block"]);

    // Bad input: a clear message, not a panic.
    let mut child = Command::new(BIN)
        .args(["guard", "check", "--jsonl"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"{\"channel\":\"fax\",\"text\":\"x\"}\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown channel"));
}

#[test]
fn eval_reports_precision_and_recall_on_the_dev_corpus() {
    let corpus = std::env::var("TRYGG_GUARD_CORPUS").unwrap_or_else(|_| {
        format!(
            "{}/../guard/corpus/guard-dev.jsonl",
            env!("CARGO_MANIFEST_DIR")
        )
    });
    assert!(
        std::path::Path::new(&corpus).is_file(),
        "the guard corpus is needed at {corpus} (crates/guard/corpus, or TRYGG_GUARD_CORPUS)"
    );
    let out = Command::new(BIN)
        .args(["guard", "eval", &corpus, "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["messages"], 161, "{r}");
    let text = String::from_utf8_lossy(
        &Command::new(BIN)
            .args(["guard", "eval", &corpus])
            .output()
            .unwrap()
            .stdout,
    )
    .to_string();
    assert!(
        text.contains("precision") && text.contains("recall") && text.contains("health-info"),
        "{text}"
    );
}

#[tokio::test]
async fn personnel_screen_drafts_through_the_api() {
    let s = TestServer::start().await;
    s.seed_demo().await;
    let who = s
        .login(
            "normland-legesenter",
            s.person("normland-legesenter", BuiltinRole::Nurse).await,
        )
        .await;
    let r = s
        .send(
            Some(&who),
            Method::POST,
            "/api/v1/guard/screen",
            Some(&json!({"channel": "sms", "text": BLOCKED})),
        )
        .await;
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["verdict"], "block");
    assert!(v["reasons"]
        .as_array()
        .unwrap()
        .contains(&json!("revealing-unit")));
    assert!(
        !v.to_string().contains("poliklinikk tirsdag"),
        "the answer does not repeat the text"
    );
    let r = s
        .send(
            Some(&who),
            Method::POST,
            "/api/v1/guard/screen",
            Some(&json!({"channel": "fax", "text": "x"})),
        )
        .await;
    assert_problem(r, 422, "TR-G001").await;
    let r = s
        .send(
            None,
            Method::POST,
            "/api/v1/guard/screen",
            Some(&json!({"channel": "sms", "text": "x"})),
        )
        .await;
    assert_eq!(r.status(), 401);
}

#[test]
fn an_organisations_own_numbers_and_domains_inform_the_guard() {
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
    let out = run(&[
        "org",
        "messaging",
        "--org",
        "normland-legesenter",
        "--phone",
        "22 11 33 44",
        "--domain",
        "normland.no",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(m["domains"], json!(["normland.no"]));
    let text = "Hei! Du har time tirsdag kl. 10. Normland legesenter | 22 11 33 44";
    let verdict = |org: bool, text: &str| {
        let mut args = vec!["guard", "check", "--channel", "sms", "--json"];
        if org {
            args.extend(["--org", "normland-legesenter"]);
        }
        args.push(text);
        let out = run(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    // Without the organisation's context the bare number is not known to be the sender's.
    assert_eq!(verdict(false, text)["verdict"], "allow");
    let v = verdict(true, text);
    assert_eq!(v["verdict"], "review");
    assert!(v["reasons"]
        .as_array()
        .unwrap()
        .contains(&json!("sender-phone")));
    // A link to a domain the organisation does not own.
    let v = verdict(true, "Hei! Les mer på https://normland-helse.com/login");
    assert!(
        v["reasons"]
            .as_array()
            .unwrap()
            .contains(&json!("foreign-link")),
        "{v}"
    );
    let v = verdict(
        true,
        "Hei! Logg inn på https://normland.no for å lese meldingen.",
    );
    assert_eq!(v["verdict"], "allow", "{v}");
    // A bad setting is refused with a plain message.
    let out = run(&[
        "org",
        "messaging",
        "--org",
        "normland-legesenter",
        "--phone",
        "12",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("phone number"));
}
