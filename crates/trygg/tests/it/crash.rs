//! The store under load (issue #8, PC-VENDOR-3). Crash safety of group commit: the real binary is
//! killed with SIGKILL at a random moment while 32 clients register patients, three times over
//! the same data directory. After each kill: every registration the server acknowledged (201) is
//! there, no registration is half-applied (every patient has its `patient.create` entry and every
//! entry its patient), and `trygg audit verify` passes; then the server starts again on the same
//! files. Back-pressure: a full write queue is a 503 problem with `Retry-After`, never a wait
//! without end or another error.

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

/// With `store_write_queue = 1`, concurrent registrations that find the queue full get a 503
/// problem with `Retry-After` and leave nothing behind; the others succeed; nothing else fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_write_queue_is_a_503_with_retry_after_and_leaves_nothing() {
    let s = crate::common::TestServer::start_with(&[("TRYGG_STORE_WRITE_QUEUE", "1")]).await;
    s.seed_demo().await;
    let id = s.person(ORG, BuiltinRole::Secretary).await;
    let who = s.login(ORG, id).await;
    let path = format!("/api/v1/orgs/{ORG}/patients");
    let mut created = 0;
    let mut busy = None;
    for round in 0..20u32 {
        let mut requests = Vec::new();
        for i in 0..40u32 {
            let nid = NationalId::synthetic(
                u8::try_from(1 + i % 28).unwrap(),
                u8::try_from(1 + round % 12).unwrap(),
                u8::try_from(20 + i / 28).unwrap(),
                600,
            )
            .unwrap();
            let body = serde_json::json!({"name": "Kari Testesen", "national_id": nid.expose()});
            let (client, url, who) = (s.client.clone(), s.url(&path), who.clone());
            requests.push(tokio::spawn(async move {
                client
                    .post(url)
                    .header("cookie", &who.cookie)
                    .header("x-csrf-token", &who.csrf)
                    .header("origin", &who.origin)
                    .json(&body)
                    .send()
                    .await
                    .unwrap()
            }));
        }
        for r in requests {
            let res = r.await.unwrap();
            match res.status().as_u16() {
                201 => created += 1,
                503 => busy = Some(res),
                // The same number drawn again in another round.
                409 => {}
                other => panic!("unexpected {other}: {:?}", res.text().await),
            }
        }
        if busy.is_some() {
            break;
        }
    }
    let res = busy.expect("forty concurrent writes never found the queue of one full");
    assert_eq!(res.headers()["retry-after"], "1");
    let problem = crate::common::assert_problem(res, 503, "TR-S503").await;
    assert_eq!(problem["retry_after"], 1);
    // Exactly the acknowledged registrations are there (besides the demo's three).
    let list: Vec<serde_json::Value> = s
        .send(Some(&who), reqwest::Method::GET, &path, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list.len(), created + 3);
}
