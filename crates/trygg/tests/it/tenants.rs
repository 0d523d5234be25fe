//! Issue #18 with the real binary: `trygg serve` on more organisations than its bound opens
//! none at start, opens an organisation on its first request, never holds more than the bound's
//! descriptors on organisations' files, closes them when idle and opens one again on its next
//! request; `trygg status` and `trygg migrate` tell the operator and act as documented
//! (PC-VENDOR-4).

use std::path::Path;
use std::time::{Duration, Instant};

use crate::binary::{http_status, run_in, serve_in, terminate};

/// A well-formed enrolment secret that no link has (43 characters).
const SECRET: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

/// The descriptors process `pid` holds on files under `dir`'s `orgs` directory.
fn org_descriptors(pid: u32, dir: &Path) -> usize {
    let orgs = dir.join("orgs");
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|t| t.starts_with(&orgs))
        .count()
}

/// `trygg status --json`, once the server has written one taken after `after` (RFC 3339).
fn status_after(d: &Path, after: time::OffsetDateTime) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = run_in(d, &["status", "--json"]);
        if out.status.success() {
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            let at = v["at"].as_str().and_then(|t| {
                time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
            });
            if at.is_some_and(|at| at > after) {
                return v;
            }
        }
        assert!(Instant::now() < deadline, "no fresh status: {out:?}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn a_server_opens_only_what_is_used_within_its_bound_and_closes_it_when_idle() {
    let dir = crate::common::private_tempdir();
    let d = dir.path();
    let slugs: Vec<String> = (0..8).map(|i| format!("klinikk-{i:02}")).collect();
    for s in &slugs {
        let out = run_in(d, &["org", "create", "--name", s, "--slug", s, "--json"]);
        assert!(out.status.success(), "{out:?}");
    }
    // Ahead of time, as an operator may before starting an upgraded server.
    let out = run_in(d, &["migrate", "--all"]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("8 organisation(s) migrated"),
        "{out:?}"
    );
    let bad = run_in(d, &["migrate", "--org", "nobody"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no organisation named nobody"));
    // No server: status says so, and counts the organisations.
    let out = run_in(d, &["status"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        text.contains("no server runs") && text.contains("8"),
        "{text}"
    );

    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let metrics = probe.local_addr().unwrap().to_string();
    drop(probe);
    let r = serve_in(
        d,
        &[
            ("TRYGG_STORE_MAX_OPEN_ORGS", "3"),
            ("TRYGG_STORE_IDLE_CLOSE_SECS", "1"),
            ("TRYGG_METRICS_LISTEN", metrics.as_str()),
        ],
    );
    let pid = r.pid();
    // Pages answer on `localhost` (127.0.0.1 is sent there).
    let base = r.base.replace("127.0.0.1", "localhost");
    let bound = 3 * trygg_store::FILES_PER_ORG;
    // Nothing opened at start.
    assert_eq!(org_descriptors(pid, d), 0, "no organisation open at start");
    let started = time::OffsetDateTime::now_utc();
    let s = status_after(d, started);
    assert_eq!(s["orgs"], 8, "{s}");
    assert_eq!(s["max_open"], 3, "{s}");
    assert_eq!(s["open"], 0, "{s}");
    assert!(s["descriptors"].as_u64().unwrap() > 0, "{s}");

    // A first request to each of the eight (an enrolment link with a wrong secret: refused,
    // after the organisation's database was opened to look it up), twice over: 16 wrong links
    // from one address, under the throttle's 20.
    let mut most = 0;
    for round in 0..2 {
        for slug in &slugs {
            let code = http_status(&format!("{}/enrol/{slug}.{SECRET}", base));
            assert!(
                [404, 410].contains(&code),
                "{slug}: {code} in round {round}"
            );
            let fds = org_descriptors(pid, d);
            most = most.max(fds);
            assert!(
                fds <= bound,
                "{fds} descriptors on organisations, bound {bound}"
            );
        }
    }
    assert!(most > 0, "the requests opened organisations");
    let after_requests = time::OffsetDateTime::now_utc();
    let s = status_after(d, after_requests);
    assert!(s["open"].as_u64().unwrap() <= 3, "{s}");
    assert!(s["opened"].as_u64().unwrap() >= 8, "{s}");
    assert!(s["closed"].as_u64().unwrap() >= 5, "{s}");
    let text = String::from_utf8_lossy(&run_in(d, &["status"]).stdout).into_owned();
    assert!(
        text.contains("open now:") && text.contains("at most 3"),
        "{text}"
    );
    // The metrics endpoint carries the same counts.
    let out = std::process::Command::new("curl")
        .args(["-s", &format!("http://{metrics}/metrics")])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let gauge = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or_else(|| panic!("no {name} in {text}"))
    };
    assert_eq!(gauge("trygg_orgs"), 8);
    assert_eq!(gauge("trygg_orgs_open_max"), 3);
    assert!(gauge("trygg_orgs_open") <= 3);
    assert!(gauge("trygg_open_files") > 0);
    assert!(gauge("trygg_open_files_bound") >= 3 * trygg_store::FILES_PER_ORG as u64);

    // Idle for longer than a second: every organisation is closed, holding no file.
    let deadline = Instant::now() + Duration::from_secs(15);
    while org_descriptors(pid, d) > 0 {
        assert!(Instant::now() < deadline, "still open after the idle time");
        std::thread::sleep(Duration::from_millis(100));
    }
    // And the next request opens one again, as if it had never been closed.
    let code = http_status(&format!("{}/enrol/{}.{SECRET}", base, slugs[0]));
    assert!([404, 410].contains(&code), "{code}");
    assert!(org_descriptors(pid, d) > 0, "reopened by the request");
    terminate(r);
    // Stopped: the status file is no longer taken as the server's.
    let out = run_in(d, &["status"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("no server runs"));
}
