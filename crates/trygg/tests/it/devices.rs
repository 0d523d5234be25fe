//! Organisation-owned devices end to end (issue #13; VC-DEV-1/2, VC-AUTH-4): an administrator
//! issues a single-use code, a device registers a P-256 key made for it (here by aws-lc-rs, in
//! the browser test by WebCrypto), signs the server's nonce at the join over the real WebSocket,
//! and is admitted with the identity assurance `device`; and the callers who must be refused: a
//! code used twice, mistyped or expired, a proof by another key, a person without
//! `credentials-manage`, another organisation, a home device used for another person's link, a
//! bad signature, a revoked device, and an admitter claiming `device` for someone without one.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_FIXED_SIGNING};
use base64::Engine as _;
use serde_json::{json, Value};
use trygg_core::BuiltinRole;

use crate::common::{Session, TestServer};
use crate::consultation::{audit_ops, plan, world, Client, ORG};

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// A device's key pair, as a browser's WebCrypto would make it.
struct Device {
    key: EcdsaKeyPair,
    id: String,
}

fn new_key() -> EcdsaKeyPair {
    let rng = SystemRandom::new();
    let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref()).unwrap()
}

fn sign(key: &EcdsaKeyPair, m: &[u8]) -> String {
    b64(key.sign(&SystemRandom::new(), m).unwrap().as_ref())
}

async fn post(s: &TestServer, who: Option<&Session>, path: &str, body: Value) -> (u16, Value) {
    let res = s.send(who, reqwest::Method::POST, path, Some(&body)).await;
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// The organisation's administrator, signed in with a passkey (substantial).
async fn admin(s: &TestServer) -> Session {
    let id = s.person(ORG, BuiltinRole::OrgAdmin).await;
    let passkey = trygg_server::auth::AuthMethod::Passkey;
    s.login_with(ORG, id, passkey, trygg_audit::Assurance::Substantial)
        .await
}

async fn list(s: &TestServer, admin: &Session) -> Vec<Value> {
    let path = format!("/api/v1/orgs/{ORG}/devices");
    let res = s.send(Some(admin), reqwest::Method::GET, &path, None).await;
    res.json().await.unwrap()
}

async fn issue(s: &TestServer, admin: &Session, body: Value) -> (u16, Value) {
    post(s, Some(admin), &format!("/api/v1/orgs/{ORG}/devices"), body).await
}

async fn enrol(
    s: &TestServer,
    code: &str,
    key: &EcdsaKeyPair,
    signer: &EcdsaKeyPair,
) -> (u16, Value) {
    let normal = trygg_identity::device::normalize_code(code).unwrap_or_default();
    let proof = sign(signer, &trygg_identity::device::enrol_message(ORG, &normal));
    post(
        s,
        None,
        "/api/v1/device-enrolment",
        json!({"org": ORG, "code": code, "public_key": b64(key.public_key().as_ref()), "proof": proof}),
    )
    .await
}

/// Joins with `token` as `device`, signing the challenge with `signer`; the client after its
/// proof.
async fn join_as(s: &TestServer, token: &str, device: &Device, signer: &EcdsaKeyPair) -> Client {
    let mut c = Client::open(s, None, None).await.unwrap();
    c.send(json!({"v": 1, "type": "hello", "e2ee": true, "token": token, "acknowledged": true, "device": device.id}))
        .await;
    let ch = c.until("device-challenge").await;
    let nonce = ch["nonce"].as_str().unwrap();
    let id: uuid::Uuid = device.id.parse().unwrap();
    let sig = sign(
        signer,
        &trygg_identity::device::join_message(ORG, id, nonce),
    );
    c.send(json!({"v": 1, "type": "device-proof", "signature": sig}))
        .await;
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enrolled_device_joins_with_its_key_and_a_revoked_one_is_refused() {
    let (s, doctor_session, doctor, interpreter, patient) = world().await;
    let admin = admin(&s).await;

    // VC-DEV-2: only credentials-manage issues codes; bad labels and unknown patients change
    // nothing.
    let label = json!({"label": "Hjemme hos pasienten", "patient_id": patient});
    assert_eq!(issue(&s, &doctor_session, label.clone()).await.0, 403);
    for bad in [
        json!({"label": ""}),
        json!({"label": "Rom\u{202e}2"}),
        json!({"label": "x".repeat(81)}),
    ] {
        let (st, v) = issue(&s, &admin, bad).await;
        assert_eq!((st, v["code"].as_str()), (422, Some("TR-D003")), "{v}");
    }
    let (st, v) = issue(
        &s,
        &admin,
        json!({"label": "Rom", "patient_id": uuid::Uuid::new_v4()}),
    )
    .await;
    assert_eq!((st, v["code"].as_str()), (404, Some("TR-D004")));
    let (st, issued) = issue(&s, &admin, label).await;
    assert_eq!(st, 201, "{issued}");
    let code = issued["code"].as_str().unwrap().to_owned();
    assert_eq!(issued["device"]["state"], "waiting");

    // A proof by another key than the one registered spends nothing; then the right one
    // enrols; the code does not work twice (one answer for every bad code).
    let key = new_key();
    let (st, v) = enrol(&s, &code, &key, &new_key()).await;
    assert_eq!((st, v["code"].as_str()), (400, Some("TR-D002")), "{v}");
    let (st, v) = enrol(&s, &code.to_lowercase(), &key, &key).await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["label"], "Hjemme hos pasienten");
    let device = Device {
        key,
        id: v["device_id"].as_str().unwrap().to_owned(),
    };
    for bad in [code.as_str(), "AAAA-BBBB-CCCC", "ΑAAA-BBBB-CCCC"] {
        let (st, v) = enrol(&s, bad, &device.key, &device.key).await;
        assert_eq!(
            (st, v["code"].as_str()),
            (400, Some("TR-D001")),
            "{bad}: {v}"
        );
    }
    let (st, v) = post(
        &s,
        None,
        "/api/v1/device-enrolment",
        json!({"org": "no-such-org", "code": code, "public_key": "x", "proof": "y"}),
    )
    .await;
    assert_eq!((st, v["code"].as_str()), (400, Some("TR-D001")));

    // The patient's invitation joined on the device: the admitter sees `device` and may record
    // it (VC-AUTH-4).
    let p = plan(
        &s,
        &doctor_session,
        json!({"patient": patient.to_string(), "host": doctor, "interpreter": interpreter, "minutes": 30}),
    )
    .await;
    let (_, host_token, _) = p.link("clinician");
    let (patient_p, patient_token, _) = p.link("patient");
    let (interp_p, interp_token, _) = p.link("interpreter");
    let mut host = Client::join(&s, &host_token, Some(&doctor_session.cookie)).await;
    host.until("admitted").await;
    let mut pat = join_as(&s, &patient_token, &device, &device.key).await;
    pat.until("waiting").await;
    let wr = loop {
        let v = host.until("waiting-room").await;
        if !v["waiting"].as_array().unwrap().is_empty() {
            break v;
        }
    };
    assert_eq!(wr["waiting"][0]["id"], patient_p.as_str());
    assert_eq!(wr["waiting"][0]["login"], "device");

    // The interpreter came by link only: `device` cannot be recorded for them.
    let mut interp = Client::join(&s, &interp_token, None).await;
    interp.until("waiting").await;
    host.send(json!({"v": 1, "type": "admit", "who": interp_p, "assurance": "device"}))
        .await;
    assert_eq!(host.until("error").await["code"], "unproven-assurance");
    host.send(json!({"v": 1, "type": "admit", "who": patient_p, "assurance": "device"}))
        .await;
    pat.until("admitted").await;
    let roster = host.until("roster").await;
    let me = roster["participants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == patient_p.as_str())
        .cloned()
        .unwrap();
    assert_eq!(me["assurance"], "device");
    drop(interp);

    // The home device is this patient's: the interpreter's link on it is refused, as is a
    // signature by another key.
    let mut wrong = join_as(&s, &interp_token, &device, &device.key).await;
    assert_eq!(wrong.until("error").await["code"], "device-refused");
    assert!(wrong.closed().await);
    drop(pat);
    let mut forged = join_as(&s, &patient_token, &device, &new_key()).await;
    assert_eq!(forged.until("error").await["code"], "device-refused");

    // A device that names itself but sends no proof is closed; a device id nobody enrolled is
    // refused.
    let mut silent = Client::open(&s, None, None).await.unwrap();
    silent
        .send(json!({"v": 1, "type": "hello", "token": patient_token, "acknowledged": true, "device": device.id}))
        .await;
    silent.until("device-challenge").await;
    silent.send(json!({"v": 1, "type": "ping"})).await;
    assert_eq!(silent.until("error").await["code"], "out-of-order");
    let stranger = Device {
        key: new_key(),
        id: uuid::Uuid::new_v4().to_string(),
    };
    let mut unknown = join_as(&s, &patient_token, &stranger, &stranger.key).await;
    assert_eq!(unknown.until("error").await["code"], "device-refused");

    // Listing (never a key) and revoking: a revoked device is refused at once.
    let list = list(&s, &admin).await;
    let mine = list.iter().find(|d| d["id"] == device.id.as_str()).unwrap();
    assert_eq!(mine["state"], "enrolled");
    assert!(mine["last_used_at"].is_string());
    assert!(mine.get("public_key").is_none());
    let revoke = format!("/api/v1/orgs/{ORG}/devices/{}/revoke", device.id);
    assert_eq!(
        post(&s, Some(&doctor_session), &revoke, json!({})).await.0,
        403
    );
    let (st, v) = post(&s, Some(&admin), &revoke, json!({})).await;
    assert_eq!((st, v["state"].as_str()), (200, Some("revoked")), "{v}");
    let (st, v) = post(&s, Some(&admin), &revoke, json!({})).await;
    assert_eq!((st, v["code"].as_str()), (409, Some("TR-D006")));
    let mut revoked = join_as(&s, &patient_token, &device, &device.key).await;
    assert_eq!(revoked.until("error").await["code"], "device-refused");

    // The log: issued, enrolled and used in the patient's name; each refusal a security event
    // with its reason (no key, no code).
    let log = audit_ops(&s);
    let ops: Vec<(&str, &str)> = log
        .iter()
        .map(|e| {
            (
                e["operation"].as_str().unwrap_or(""),
                e["entity"]["detail"].as_str().unwrap_or(""),
            )
        })
        .collect();
    for want in [
        "device.code-issue",
        "device.enrol",
        "device.login",
        "device.revoke",
    ] {
        let e = log
            .iter()
            .find(|e| e["operation"] == want)
            .unwrap_or_else(|| panic!("{want}"));
        assert_eq!(e["patient"], patient.to_string(), "{want}: {e}");
    }
    for reason in [
        "device-other-patient",
        "device-signature",
        "device-unknown",
        "device-revoked",
    ] {
        assert!(
            ops.iter()
                .any(|(op, d)| *op == "device.refused" && d.contains(reason)),
            "{reason}: {ops:?}"
        );
    }
    let text = serde_json::to_string(&log).unwrap();
    assert!(!text.contains(&code) && !text.contains(&code.replace('-', "")));
    assert!(!text.contains(&b64(device.key.public_key().as_ref())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_code_enrols_nothing_and_another_organisation_cannot_see_devices() {
    let s = TestServer::start_with(&[("TRYGG_DEVICE_CODE_TTL_SECS", "60")]).await;
    s.seed_demo().await;
    let admin = admin(&s).await;
    let (st, issued) = issue(&s, &admin, json!({"label": "Behandlingsrom 2"})).await;
    assert_eq!(st, 201);
    let code = issued["code"].as_str().unwrap().to_owned();
    s.clock.advance(time::Duration::seconds(61));
    let key = new_key();
    let (st, v) = enrol(&s, &code, &key, &key).await;
    assert_eq!((st, v["code"].as_str()), (400, Some("TR-D001")), "{v}");
    let list = list(&s, &admin).await;
    assert_eq!(list[0]["state"], "expired");
    // An administrator of another organisation finds no such organisation (PC-VENDOR-4).
    let other = "normbakken-kommune-hjemmetjenesten";
    let other_admin = s
        .login(other, s.person(other, BuiltinRole::OrgAdmin).await)
        .await;
    let res = s
        .send(
            Some(&other_admin),
            reqwest::Method::GET,
            &format!("/api/v1/orgs/{ORG}/devices"),
            None,
        )
        .await;
    assert_eq!(res.status(), 404);

    // A device's proof is a login: a flood of them from one address is cut off (and so are the
    // security events each refusal would write).
    let id = uuid::Uuid::new_v4().to_string();
    let mut limited = false;
    for _ in 0..300 {
        let mut c = Client::open(&s, None, None).await.unwrap();
        c.send(json!({"v": 1, "type": "hello", "token": "x.y", "device": id}))
            .await;
        let v = c.next().await.unwrap_or(Value::Null);
        if v["code"] == "rate-limited" {
            limited = true;
            break;
        }
        assert_eq!(v["type"], "device-challenge", "{v}");
    }
    assert!(limited, "300 device logins in a row were all let through");
}
