//! Crash safety of group commit (issue #8, PC-VENDOR-3): the real binary is killed with SIGKILL
//! at a random moment while 32 clients register patients, three times over the same data
//! directory. After each kill: every registration the server acknowledged (201) is there, no
//! registration is half-applied (every patient has its `patient.create` entry and every entry its
//! patient), and `trygg audit verify` passes; then the server starts again on the same files.

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use trygg_core::{BuiltinRole, NationalId, OrgSlug};

const ORG: &str = "normland-legesenter";

fn config_for(dir: &Path) -> trygg_server::config::Config {
    trygg_server::config::Config::load(
        None,
        Vec::<(String, String)>::new(),
        &trygg_server::config::Overrides {
            data_dir: Some(dir.to_owned()),
            listen: None,
        },
    )
    .unwrap()
}

/// Opens a secretary's session in the running server's data directory, as a login would (a
/// second process writing to the same files, like the CLI).
async fn secretary_session(dir: &Path, origin: &str) -> crate::common::Session {
    use trygg_app::sessions::{csrf_token, open_session};
    let store = trygg::startup::open_store(&config_for(dir)).await.unwrap();
    let slug = OrgSlug::parse(ORG).unwrap();
    let o = store.org_by_slug(&slug).await.unwrap().unwrap();
    let h = store.org(&o).await.unwrap();
    let mut tx = h.begin().await.unwrap();
    let person = tx
        .create_personnel(
            &trygg_store::NewPersonnel {
                name: trygg_core::PersonName::parse("Test Sekretær").unwrap(),
                email: None,
                role: BuiltinRole::Secretary,
                employment: trygg_core::Employment::Employee,
            },
            time::OffsetDateTime::now_utc(),
        )
        .await
        .unwrap();
    tx.audit(&crate::common::test_event(ORG)).await.unwrap();
    let (_, secret) = open_session(
        &mut tx,
        &slug,
        person.id,
        trygg_server::auth::AuthMethod::Passkey,
        trygg_audit::Assurance::High,
        None,
        time::OffsetDateTime::now_utc(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    store.close().await;
    crate::common::Session {
        cookie: format!("trygg_session={ORG}.{}", secret.expose()),
        csrf: csrf_token(&secret),
        origin: origin.to_owned(),
    }
}

/// Every patient in the organisation and every patient named by a `patient.create` entry,
/// read with the store after the server is gone.
async fn patients_and_creations(dir: &Path) -> (Vec<String>, Vec<String>) {
    let store = trygg::startup::open_store(&config_for(dir)).await.unwrap();
    let o = store
        .org_by_slug(&OrgSlug::parse(ORG).unwrap())
        .await
        .unwrap()
        .unwrap();
    let h = store.org(&o).await.unwrap();
    let mut tx = h.begin().await.unwrap();
    let mut patients: Vec<String> = tx
        .list_patients()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.id.to_string())
        .collect();
    tx.audit(&crate::common::test_event(ORG)).await.unwrap();
    tx.commit().await.unwrap();
    let mut created: Vec<String> = h
        .audit_events(None)
        .await
        .unwrap()
        .into_iter()
        .filter(|(_, e)| e.operation.as_str() == "patient.create")
        .filter_map(|(_, e)| e.patient.map(|p| p.as_str().to_owned()))
        .collect();
    store.close().await;
    patients.sort();
    created.sort();
    (patients, created)
}

/// A pseudo-random delay from the clock (no seed to keep: each run kills somewhere else).
fn random_ms(lo: u64, hi: u64) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::from(d.subsec_nanos()))
        .unwrap_or(0);
    lo + nanos % (hi - lo)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_load_keeps_every_acknowledged_write_and_half_applies_none() {
    let dir = crate::common::private_tempdir();
    let data = dir.path().join("data");
    let data_arg = data.to_str().unwrap().to_owned();
    let next_nid = Arc::new(AtomicU32::new(0));
    let mut acknowledged: Vec<String> = Vec::new();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    for round in 0..3 {
        let r = crate::binary::start(
            &["demo", "--data-dir", &data_arg, "--listen", "127.0.0.1:0"],
            &[],
        );
        let who = secretary_session(&data, &r.base).await;
        let acked = Arc::new(Mutex::new(Vec::<String>::new()));
        let path = format!("{}/api/v1/orgs/{ORG}/patients", r.base);
        let mut clients = Vec::new();
        for _ in 0..32 {
            let (client, who, path) = (client.clone(), who.clone(), path.clone());
            let (acked, next_nid) = (acked.clone(), next_nid.clone());
            clients.push(tokio::spawn(async move {
                loop {
                    let k = next_nid.fetch_add(1, Ordering::Relaxed);
                    let nid = NationalId::synthetic(
                        u8::try_from(1 + k % 28).unwrap(),
                        u8::try_from(1 + (k / 28) % 12).unwrap(),
                        u8::try_from(10 + (k / 336) % 80).unwrap(),
                        700,
                    )
                    .unwrap();
                    let res = client
                        .post(&path)
                        .header("cookie", &who.cookie)
                        .header("x-csrf-token", &who.csrf)
                        .header("origin", &who.origin)
                        .json(&serde_json::json!({"name": "Kari Testesen", "national_id": nid.expose()}))
                        .send()
                        .await;
                    let Ok(res) = res else {
                        // The server is gone: this request was never acknowledged.
                        return;
                    };
                    let status = res.status().as_u16();
                    let Ok(body) = res.json::<serde_json::Value>().await else {
                        return;
                    };
                    match status {
                        201 => acked
                            .lock()
                            .unwrap()
                            .push(body["id"].as_str().unwrap().to_owned()),
                        // A national ID the demo already holds, or a full queue: not acknowledged.
                        409 | 503 => {}
                        other => panic!("unexpected {other}: {body}"),
                    }
                }
            }));
        }
        // Let the load build up, then kill without warning.
        let started = Instant::now();
        while acked.lock().unwrap().len() < 20 {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "round {round}: the server acknowledged too few writes to test anything"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(random_ms(50, 600))).await;
        crate::binary::sigkill(r);
        for c in clients {
            c.await.unwrap();
        }
        acknowledged.extend(acked.lock().unwrap().drain(..));

        let (patients, created) = patients_and_creations(&data).await;
        for id in &acknowledged {
            assert!(
                patients.binary_search(id).is_ok(),
                "round {round}: acknowledged patient {id} is gone after SIGKILL"
            );
        }
        let orphans: Vec<&String> = patients.iter().filter(|p| !created.contains(p)).collect();
        assert!(
            orphans.is_empty(),
            "round {round}: patients without their creation entry (half-applied): {orphans:?}"
        );
        eprintln!(
            "round {round}: {} acknowledged in all, {} patients after the kill",
            acknowledged.len(),
            patients.len()
        );
        for id in &created {
            assert!(
                patients.binary_search(id).is_ok(),
                "round {round}: a creation entry for {id} without its patient (half-applied)"
            );
        }
        let v = crate::binary::run_in(&data, &["audit", "verify", "--org", ORG]);
        assert!(
            v.status.success(),
            "round {round}: audit verify after SIGKILL: {}{}",
            String::from_utf8_lossy(&v.stdout),
            String::from_utf8_lossy(&v.stderr)
        );
    }
    assert!(acknowledged.len() >= 60, "{}", acknowledged.len());
}
