//! Consultations end to end over the real server and real WebSockets (issue #10): planning with
//! invitations through the API, the waiting room, admission one by one by a signed-in clinician
//! with a recorded identity assurance (VC-AUTH-1/2, VC-CONF-1), the roster (VC-CONF-2), joins
//! and leaves announced (VC-INFO-3), end for everyone (risk 1e), the journal note (VC-LOG-1),
//! the audit trail (VC-LOG-2) and the patient's access log, and the callers who must be refused:
//! a revoked or forged link, a participant not yet admitted, a participant without the right,
//! a clinician whose grant was revoked mid-call, a cross-site socket, and bad or flooding frames.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use trygg_core::BuiltinRole;

use crate::common::{Session, TestServer};

pub(crate) const ORG: &str = "normland-legesenter";

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A participant's socket.
pub(crate) struct Client {
    ws: Ws,
}

impl Client {
    pub(crate) async fn open(
        s: &TestServer,
        cookie: Option<&str>,
        origin: Option<&str>,
    ) -> Result<Self, String> {
        let url = s.base.replace("http://", "ws://") + "/signalling";
        let mut req = url.into_client_request().unwrap();
        if let Some(c) = cookie {
            req.headers_mut().insert("cookie", c.parse().unwrap());
        }
        let origin = origin.map_or_else(|| s.base.clone(), str::to_owned);
        req.headers_mut().insert("origin", origin.parse().unwrap());
        match tokio_tungstenite::connect_async(req).await {
            Ok((ws, _)) => Ok(Self { ws }),
            Err(e) => Err(e.to_string()),
        }
    }

    pub(crate) async fn join(s: &TestServer, token: &str, cookie: Option<&str>) -> Self {
        let mut c = Self::open(s, cookie, None).await.unwrap();
        c.send(
            json!({"v": 1, "type": "hello", "e2ee": true, "token": token, "acknowledged": true}),
        )
        .await;
        c
    }

    pub(crate) async fn send(&mut self, v: Value) {
        self.ws
            .send(Message::Text(v.to_string().into()))
            .await
            .unwrap();
    }

    async fn send_raw(&mut self, text: &str) {
        let _ = self.ws.send(Message::Text(text.to_owned().into())).await;
    }

    /// The next text frame, or `None` when the socket closed (within 10 s).
    pub(crate) async fn next(&mut self) -> Option<Value> {
        loop {
            let m = tokio::time::timeout(Duration::from_secs(10), self.ws.next())
                .await
                .expect("a frame within 10 s")?;
            match m {
                Ok(Message::Text(t)) => return Some(serde_json::from_str(t.as_str()).unwrap()),
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => continue,
            }
        }
    }

    /// Frames until one of type `ty` (which is returned); panics if the socket closes first.
    pub(crate) async fn until(&mut self, ty: &str) -> Value {
        loop {
            match self.next().await {
                Some(v) if v["type"] == ty => return v,
                Some(v) if v["type"] == "error" => eprintln!("while waiting for {ty}: {v}"),
                Some(_) => continue,
                None => panic!("socket closed while waiting for {ty}"),
            }
        }
    }

    /// Whether the socket is closed within 5 s (frames before the close are skipped).
    pub(crate) async fn closed(&mut self) -> bool {
        self.closed_within(Duration::from_secs(5)).await
    }

    /// Whether the socket is closed within `wait`, however quiet it is meanwhile.
    pub(crate) async fn closed_within(&mut self, wait: Duration) -> bool {
        let end = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(end, self.ws.next()).await {
                Err(_) => return false,
                Ok(None | Some(Err(_)) | Some(Ok(Message::Close(_)))) => return true,
                Ok(Some(Ok(_))) => continue,
            }
        }
    }
}

pub(crate) struct Plan {
    pub(crate) id: String,
    /// role → (participant id, token, invitation id)
    links: Vec<(String, String, String, String)>,
}

impl Plan {
    pub(crate) fn link(&self, role: &str) -> (String, String, String) {
        let l = self.links.iter().find(|l| l.0 == role).unwrap();
        (l.1.clone(), l.2.clone(), l.3.clone())
    }
}

pub(crate) async fn world() -> (TestServer, Session, uuid::Uuid, uuid::Uuid, uuid::Uuid) {
    world_with(&[]).await
}

async fn world_with(
    env: &[(&str, &str)],
) -> (TestServer, Session, uuid::Uuid, uuid::Uuid, uuid::Uuid) {
    let s = TestServer::start_with(env).await;
    s.seed_demo().await;
    let doctor = s.person(ORG, BuiltinRole::Doctor).await;
    let interpreter = s.person(ORG, BuiltinRole::Interpreter).await;
    let session = s
        .login_with(
            ORG,
            doctor,
            trygg_server::auth::AuthMethod::Passkey,
            trygg_audit::Assurance::Substantial,
        )
        .await;
    let list: Vec<Value> = s
        .send(
            Some(&session),
            reqwest::Method::GET,
            &format!("/api/v1/orgs/{ORG}/patients"),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    let patient = list[0]["id"].as_str().unwrap().parse().unwrap();
    (s, session, doctor, interpreter, patient)
}

pub(crate) async fn plan(s: &TestServer, who: &Session, body: Value) -> Plan {
    let res = s
        .send(
            Some(who),
            reqwest::Method::POST,
            &format!("/api/v1/orgs/{ORG}/consultations"),
            Some(&body),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let v: Value = res.json().await.unwrap();
    let links = v["invitations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let url = i["url"].as_str().unwrap();
            assert!(url.contains("/join/"), "{url}");
            (
                i["role"].as_str().unwrap().to_owned(),
                i["participant"].as_str().unwrap().to_owned(),
                url.rsplit('/').next().unwrap().to_owned(),
                i["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    Plan {
        id: v["id"].as_str().unwrap().to_owned(),
        links,
    }
}

pub(crate) fn audit_ops(s: &TestServer) -> Vec<Value> {
    // The organisation's whole log, as the operator exports it.
    let o = s.store.clone();
    let rt = tokio::runtime::Handle::current();
    tokio::task::block_in_place(|| {
        rt.block_on(async move {
            let org = o
                .org_by_slug(&trygg_core::OrgSlug::parse(ORG).unwrap())
                .await
                .unwrap()
                .unwrap();
            let h = o.org(&org).await.unwrap();
            h.audit_events(None)
                .await
                .unwrap()
                .into_iter()
                .map(|(_, e)| serde_json::to_value(e).unwrap())
                .collect()
        })
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_people_wait_are_admitted_one_by_one_and_the_end_reaches_everyone() {
    let (s, doctor_session, doctor, interpreter, patient) = world().await;
    let plan = plan(
        &s,
        &doctor_session,
        json!({"patient": patient.to_string(), "host": doctor, "interpreter": interpreter, "minutes": 30}),
    )
    .await;
    let (host_p, host_token, _) = plan.link("clinician");
    let (patient_p, patient_token, _) = plan.link("patient");
    let (interp_p, interp_token, _) = plan.link("interpreter");

    // The host, signed in at substantial, enters at once (VC-CONF-1).
    let mut host = Client::join(&s, &host_token, Some(&doctor_session.cookie)).await;
    let w = host.until("welcome").await;
    assert_eq!(w["you"], host_p.as_str());
    assert_eq!(w["kind"], "with-interpreter");
    host.until("admitted").await;

    // A patient who did not acknowledge the information is refused (VC-INFO-1).
    let mut unack = Client::open(&s, None, None).await.unwrap();
    unack
        .send(json!({"v": 1, "type": "hello", "e2ee": true, "token": patient_token, "acknowledged": false}))
        .await;
    assert_eq!(unack.until("error").await["code"], "acknowledge-first");

    // Patient and interpreter wait; the host sees both, with how they came.
    let mut pat = Client::join(&s, &patient_token, None).await;
    pat.until("waiting").await;
    let mut interp = Client::join(&s, &interp_token, None).await;
    interp.until("waiting").await;
    let wr = loop {
        let v = host.until("waiting-room").await;
        if v["waiting"].as_array().unwrap().len() == 2 {
            break v;
        }
    };
    let names: Vec<&str> = wr["waiting"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["name"].as_str().unwrap())
        .collect();
    assert!(
        names.iter().any(|n| n.contains("Test interpreter")),
        "{names:?}"
    );
    assert!(wr["waiting"]
        .as_array()
        .unwrap()
        .iter()
        .all(|w| w["login"].is_null()));

    // A waiting participant cannot admit anyone, nor end (not admitted).
    pat.send(json!({"v": 1, "type": "admit", "who": interp_p, "assurance": "known-visually"}))
        .await;
    assert_eq!(pat.until("error").await["code"], "not-allowed");
    pat.send(json!({"v": 1, "type": "end"})).await;
    let e = pat.until("error").await;
    assert!(
        e["code"] == "not-allowed" || e["code"] == "not-admitted",
        "{e}"
    );

    // Admitted one by one, each with an identity assurance (VC-AUTH-1/2).
    host.send(json!({"v": 1, "type": "admit", "who": patient_p, "assurance": "id-document-shown"}))
        .await;
    pat.until("admitted").await;
    let roster = pat.until("roster").await;
    assert_eq!(roster["participants"].as_array().unwrap().len(), 2);
    // The interpreter still waits and has seen no roster.
    host.send(json!({"v": 1, "type": "admit", "who": interp_p, "assurance": "known-visually"}))
        .await;
    interp.until("admitted").await;

    // All three rosters agree (VC-CONF-2): three people, each with role and assurance.
    let mut rosters = Vec::new();
    for c in [&mut host, &mut pat, &mut interp] {
        let r = loop {
            let r = c.until("roster").await;
            if r["participants"].as_array().unwrap().len() == 3 {
                break r;
            }
        };
        rosters.push(r["participants"].clone());
    }
    assert_eq!(rosters[0], rosters[1]);
    assert_eq!(rosters[1], rosters[2]);
    let by_role = |role: &str| {
        rosters[0]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["role"] == role)
            .unwrap()
            .clone()
    };
    assert_eq!(by_role("patient")["assurance"], "id-document-shown");
    assert_eq!(by_role("interpreter")["assurance"], "known-visually");
    assert_eq!(by_role("clinician")["assurance"], "eid-substantial");
    assert_eq!(by_role("clinician")["host"], true);

    // A second socket with the patient's link replaces the first (no hidden second presence).
    // The host ends: everyone is told at once and every socket closes (risk 1e).
    host.send(json!({"v": 1, "type": "end"})).await;
    for c in [&mut pat, &mut interp, &mut host] {
        c.until("ended").await;
        assert!(c.closed().await);
    }
    // The links no longer open anything: the same refusal as for a forged one.
    let mut late = Client::join(&s, &patient_token, None).await;
    assert_eq!(late.until("error").await["code"], "invitation-refused");
    let mut forged = Client::join(
        &s,
        &format!("{ORG}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        None,
    )
    .await;
    assert_eq!(forged.until("error").await["code"], "invitation-refused");

    // The journal note (VC-LOG-1): participants, roles, assurance, interpreter. Health data:
    // the doctor needs a care relationship with the patient and a login of assurance high.
    let nurse = s.login(ORG, s.person(ORG, BuiltinRole::Nurse).await).await;
    let r = s
        .send(Some(&nurse), reqwest::Method::POST, &format!("/api/v1/orgs/{ORG}/care-relationships"),
            Some(&json!({"personnel_id": doctor, "patient_id": patient, "reason": "fastlege", "days": 30})))
        .await;
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let refused = s
        .send(
            Some(&doctor_session),
            reqwest::Method::GET,
            &format!("/api/v1/orgs/{ORG}/consultations/{}/journal", plan.id),
            None,
        )
        .await;
    assert_eq!(
        refused.status(),
        403,
        "substantial is too weak for health data"
    );
    let doctor_session = s.login(ORG, doctor).await;
    let mut note = None;
    for _ in 0..50 {
        let res = s
            .send(
                Some(&doctor_session),
                reqwest::Method::GET,
                &format!("/api/v1/orgs/{ORG}/consultations/{}/journal", plan.id),
                None,
            )
            .await;
        if res.status() == 200 {
            note = Some(res.json::<Value>().await.unwrap());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let note = note.expect("the journal note after the end");
    let text = note["text"].as_str().unwrap();
    assert!(text.contains("Tolk deltok"), "{text}");
    assert!(
        text.contains("id-document-shown") && text.contains("known-visually"),
        "{text}"
    );
    assert_eq!(note["fhir"]["resourceType"], "Encounter");

    // The audit log holds every step with its actor and assurance (VC-LOG-2).
    let events = audit_ops(&s);
    let ops: Vec<&str> = events
        .iter()
        .map(|e| e["operation"].as_str().unwrap())
        .collect();
    for op in [
        "consultation.create",
        "consultation.invite",
        "consultation.host-enter",
        "consultation.acknowledge",
        "consultation.arrive",
        "consultation.admit",
        "consultation.end",
        "consultation.refused",
    ] {
        assert!(ops.contains(&op), "{op} missing from {ops:?}");
    }
    let admit = events
        .iter()
        .find(|e| {
            e["operation"] == "consultation.admit"
                && e["entity"]["detail"] == "identity-assurance:id-document-shown"
        })
        .expect("the admission with its assurance");
    assert_eq!(admit["agent"]["id"], format!("personnel:{doctor}"));
    assert_eq!(admit["agent"]["authentication"]["assurance"], "substantial");
    assert_eq!(admit["patient"], patient.to_string());

    // The patient's access log shows the consultation's participants.
    let high = s.login(ORG, doctor).await;
    let log: Value = s
        .send(
            Some(&high),
            reqwest::Method::GET,
            &format!("/api/v1/orgs/{ORG}/patients/{patient}/access-log"),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    let lines = log.as_array().unwrap();
    let line = |who: &str, what: &str| {
        lines
            .iter()
            .any(|l| l["who"] == who && l["what"].as_str().unwrap().contains(what))
    };
    assert!(line("Test doctor", "Slapp en deltaker inn"), "{log}");
    assert!(line("Test doctor", "Åpnet videokonsultasjonen"), "{log}");
    assert!(line("Du", "Bekreftet informasjonen"), "{log}");
    assert!(line("Test interpreter", "Kom inn på venterommet"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_joins_unseen_or_is_admitted_without_the_right() {
    let (s, doctor_session, doctor, interpreter, patient) = world().await;
    let nurse = s.person(ORG, BuiltinRole::Nurse).await;
    let plan = plan(
        &s,
        &doctor_session,
        json!({"patient": patient.to_string(), "host": doctor, "interpreter": interpreter,
               "participants": [{"role": "clinician", "person": nurse.to_string()}]}),
    )
    .await;
    let (_, host_token, _) = plan.link("clinician");
    let (patient_p, patient_token, patient_inv) = plan.link("patient");
    let (interp_p, interp_token, _) = plan.link("interpreter");

    // A socket from another site is refused before any frame (cross-site hijacking).
    assert!(Client::open(
        &s,
        Some(&doctor_session.cookie),
        Some("https://evil.example")
    )
    .await
    .is_err());

    // The host's link without the host's login: they wait like anyone else.
    let mut anon_host = Client::join(&s, &host_token, None).await;
    anon_host.until("waiting").await;
    anon_host.send(json!({"v": 1, "type": "leave"})).await;
    assert!(anon_host.closed().await);

    // The interpreter signed in as someone else's session (the doctor's cookie on the
    // interpreter's link) gains nothing: the login is not theirs, they wait.
    let mut host = Client::join(&s, &host_token, Some(&doctor_session.cookie)).await;
    host.until("admitted").await;
    let mut interp = Client::join(&s, &interp_token, Some(&doctor_session.cookie)).await;
    interp.until("waiting").await;
    let mut pat = Client::join(&s, &patient_token, None).await;
    pat.until("waiting").await;
    // Nothing of the roster reaches those who wait.
    host.send(json!({"v": 1, "type": "admit", "who": interp_p, "assurance": "known-visually"}))
        .await;
    interp.until("admitted").await;
    // The interpreter, admitted, may not admit (not a clinician; and no login of their own).
    interp
        .send(json!({"v": 1, "type": "admit", "who": patient_p, "assurance": "known-visually"}))
        .await;
    assert_eq!(interp.until("error").await["code"], "not-allowed");
    // The doctor's grant is revoked mid-call: the next admission is refused by the live rule.
    let grants: Value = {
        let admin = s.person(ORG, BuiltinRole::OrgAdmin).await;
        let a = s.login(ORG, admin).await;
        let g: Value = s
            .send(
                Some(&a),
                reqwest::Method::GET,
                &format!("/api/v1/orgs/{ORG}/personnel/{doctor}/grants"),
                None,
            )
            .await
            .json()
            .await
            .unwrap();
        for grant in g.as_array().unwrap() {
            let r = s
                .send(
                    Some(&a),
                    reqwest::Method::POST,
                    &format!(
                        "/api/v1/orgs/{ORG}/grants/{}/revoke",
                        grant["id"].as_str().unwrap()
                    ),
                    Some(&json!({"reason": "left"})),
                )
                .await;
            assert!(r.status().is_success(), "{}", r.text().await.unwrap());
        }
        g
    };
    assert!(!grants.as_array().unwrap().is_empty());
    host.send(json!({"v": 1, "type": "admit", "who": patient_p, "assurance": "known-visually"}))
        .await;
    assert_eq!(host.until("error").await["code"], "not-allowed");
    // The patient is still waiting, not admitted.
    pat.send(json!({"v": 1, "type": "ping"})).await;
    assert_eq!(pat.until("pong").await["type"], "pong");

    // Revoking the patient's invitation disconnects them and the link is refused.
    let a = s.login(ORG, s.person(ORG, BuiltinRole::Nurse).await).await;
    let r = s
        .send(
            Some(&a),
            reqwest::Method::POST,
            &format!(
                "/api/v1/orgs/{ORG}/consultations/{}/invitations/{patient_inv}/revoke",
                plan.id
            ),
            None,
        )
        .await;
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    assert!(pat.closed().await);
    let mut again = Client::join(&s, &patient_token, None).await;
    assert_eq!(again.until("error").await["code"], "invitation-refused");
}

/// Issue #11: media and end-to-end encryption frames. A browser that cannot encrypt end to end
/// is refused (VC-ENC-2); nobody in the waiting room can offer media or send keys; keys and
/// states are relayed only within the call, a wrapped key only to its addressee; a bad offer is
/// refused and the room goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_frames_only_within_the_call_and_keys_only_to_their_addressee() {
    let (s, doctor_session, doctor, _, patient) = world().await;
    let plan = plan(
        &s,
        &doctor_session,
        json!({"patient": patient.to_string(), "host": doctor}),
    )
    .await;
    let (host_p, host_token, _) = plan.link("clinician");
    let (patient_p, patient_token, _) = plan.link("patient");

    // VC-ENC-2: without end-to-end encryption, not even the waiting room.
    let mut plain = Client::open(&s, None, None).await.unwrap();
    plain
        .send(json!({"v": 1, "type": "hello", "token": patient_token, "acknowledged": true}))
        .await;
    assert_eq!(plain.until("error").await["code"], "e2ee-required");
    assert!(plain.closed().await);

    let mut host = Client::join(&s, &host_token, Some(&doctor_session.cookie)).await;
    host.until("admitted").await;
    let config = host.until("media-config").await;
    assert_eq!(config["e2eeRequired"], true);
    assert_eq!(config["media"], true);
    assert_eq!(
        config["iceServers"],
        json!([]),
        "no TURN configured, none given"
    );
    let mut pat = Client::join(&s, &patient_token, None).await;
    pat.until("waiting").await;

    // From the waiting room: no media, no keys.
    let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n";
    for frame in [
        json!({"v": 1, "type": "media-offer", "sdp": sdp}),
        json!({"v": 1, "type": "e2ee-identity", "key": "AAAA"}),
        json!({"v": 1, "type": "e2ee-key", "to": host_p, "payload": "AAAA"}),
        json!({"v": 1, "type": "media-state", "audio": true, "video": true}),
    ] {
        pat.send(frame.clone()).await;
        assert_eq!(pat.until("error").await["code"], "not-admitted", "{frame}");
    }
    // The host cannot send a key to someone who waits.
    host.send(json!({"v": 1, "type": "e2ee-key", "to": patient_p, "payload": "AAAA"}))
        .await;
    assert_eq!(host.until("error").await["code"], "not-admitted");
    // The host's identity, sent before the patient is in, reaches the patient on admission.
    host.send(json!({"v": 1, "type": "e2ee-identity", "key": "host-key_1"}))
        .await;
    host.send(json!({"v": 1, "type": "admit", "who": patient_p, "assurance": "id-document-shown"}))
        .await;
    pat.until("admitted").await;
    let id = pat.until("e2ee-identity").await;
    assert_eq!(
        (id["who"].as_str(), id["key"].as_str()),
        (Some(host_p.as_str()), Some("host-key_1"))
    );
    // A wrapped key goes to its addressee, marked with its sender.
    host.send(json!({"v": 1, "type": "e2ee-key", "to": patient_p, "payload": "wrapped-for-you"}))
        .await;
    let k = pat.until("e2ee-key").await;
    assert_eq!(
        (k["from"].as_str(), k["payload"].as_str()),
        (Some(host_p.as_str()), Some("wrapped-for-you"))
    );
    // Nobody sends a key to themselves through the server.
    pat.send(json!({"v": 1, "type": "e2ee-key", "to": patient_p, "payload": "AAAA"}))
        .await;
    assert_eq!(pat.until("error").await["code"], "not-admitted");
    // Camera off is shown to the others.
    pat.send(json!({"v": 1, "type": "media-state", "audio": true, "video": false}))
        .await;
    let st = host.until("media-state").await;
    assert_eq!(
        (st["who"].as_str(), st["video"].as_bool()),
        (Some(patient_p.as_str()), Some(false))
    );
    // An offer that is no session description the media server can use: refused; and one
    // right after: too soon.
    pat.send(json!({"v": 1, "type": "media-offer", "sdp": sdp}))
        .await;
    assert_eq!(pat.until("error").await["code"], "media-refused");
    pat.send(json!({"v": 1, "type": "media-offer", "sdp": sdp}))
        .await;
    assert_eq!(pat.until("error").await["code"], "too-soon");
    // The call goes on.
    pat.send(json!({"v": 1, "type": "ping"})).await;
    pat.until("pong").await;
}

/// VC-ENC-2: an organisation that allows browsers without end-to-end encryption lets them in,
/// and everyone in that call is told it is not end-to-end encrypted; the organisation's policy
/// decides, not the deployment's default; an unknown token is refused the same way whatever it
/// says about encryption.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organisation_decides_whether_calls_must_be_end_to_end_encrypted() {
    let (s, doctor_session, doctor, _, patient) = world().await;
    let o = s
        .store
        .org_by_slug(&trygg_core::OrgSlug::parse(ORG).unwrap())
        .await
        .unwrap()
        .unwrap();
    let h = s.store.org(&o).await.unwrap();
    let mut tx = h.begin().await.unwrap();
    tx.set_e2ee_required(false, "test", time::OffsetDateTime::now_utc())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let plan = plan(
        &s,
        &doctor_session,
        json!({"patient": patient.to_string(), "host": doctor}),
    )
    .await;
    let (patient_p, patient_token, _) = plan.link("patient");
    let (_, host_token, _) = plan.link("clinician");
    let mut host = Client::join(&s, &host_token, Some(&doctor_session.cookie)).await;
    host.until("admitted").await;
    let config = host.until("media-config").await;
    assert_eq!(
        (config["e2eeRequired"].as_bool(), config["e2ee"].as_bool()),
        (Some(false), Some(true))
    );
    // A browser that cannot encrypt is let in to wait.
    let mut plain = Client::open(&s, None, None).await.unwrap();
    plain
        .send(json!({"v": 1, "type": "hello", "token": patient_token, "acknowledged": true}))
        .await;
    plain.until("waiting").await;
    host.send(json!({"v": 1, "type": "admit", "who": patient_p, "assurance": "known-visually"}))
        .await;
    plain.until("admitted").await;
    assert_eq!(plain.until("media-config").await["e2ee"], false);
    // Everyone in the call is told: not end to end any more.
    assert_eq!(host.until("e2ee-mode").await["on"], false);
    // When they leave, the call is end to end again.
    plain.send(json!({"v": 1, "type": "leave"})).await;
    assert_eq!(host.until("e2ee-mode").await["on"], true);

    // A refused second socket on a live participant's link changes nothing of the call's
    // encryption (review of #11: it used to switch everyone to per-hop only).
    let mut enc = Client::join(&s, &patient_token, None).await;
    enc.until("waiting").await;
    host.send(json!({"v": 1, "type": "admit", "who": patient_p, "assurance": "known-visually"}))
        .await;
    enc.until("admitted").await;
    let mut thief = Client::open(&s, None, None).await.unwrap();
    thief
        .send(json!({"v": 1, "type": "hello", "token": patient_token, "acknowledged": true}))
        .await;
    assert_eq!(thief.until("error").await["code"], "already-connected");
    host.send(json!({"v": 1, "type": "ping"})).await;
    loop {
        let f = host.next().await.expect("the host's socket stays open");
        assert_ne!(f["type"], "e2ee-mode", "no change of encryption: {f}");
        if f["type"] == "pong" {
            break;
        }
    }

    // The organisation requires it again: the same browser is refused, told why.
    let mut tx = h.begin().await.unwrap();
    tx.set_e2ee_required(true, "test", time::OffsetDateTime::now_utc())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut again = Client::open(&s, None, None).await.unwrap();
    again
        .send(json!({"v": 1, "type": "hello", "token": patient_token, "acknowledged": true}))
        .await;
    assert_eq!(again.until("error").await["code"], "e2ee-required");
    // An unknown token: the invitation's answer, not the encryption's.
    let mut unknown = Client::open(&s, None, None).await.unwrap();
    unknown
        .send(json!({"v": 1, "type": "hello", "token": format!("{ORG}.{}", "A".repeat(43)), "acknowledged": true}))
        .await;
    assert_eq!(unknown.until("error").await["code"], "invitation-refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_frames_get_an_error_or_a_closed_socket_and_the_room_goes_on() {
    let (s, doctor_session, doctor, _, patient) = world().await;
    let plan = plan(
        &s,
        &doctor_session,
        json!({"patient": patient.to_string(), "host": doctor}),
    )
    .await;
    let (_, host_token, _) = plan.link("clinician");
    let (patient_p, patient_token, _) = plan.link("patient");

    // No hello at all, or something else first: refused and closed.
    let mut c = Client::open(&s, None, None).await.unwrap();
    c.send(json!({"v": 1, "type": "ping"})).await;
    assert_eq!(c.until("error").await["code"], "out-of-order");
    assert!(c.closed().await);
    let mut c = Client::open(&s, None, None).await.unwrap();
    c.send_raw("{\"v\":1,\"type\":\"hello\",\"token\":").await;
    assert_eq!(c.until("error").await["code"], "malformed");

    let mut host = Client::join(&s, &host_token, Some(&doctor_session.cookie)).await;
    host.until("admitted").await;
    let mut pat = Client::join(&s, &patient_token, None).await;
    pat.until("waiting").await;

    // Malformed, unknown, wrong version, invalid field, out of order: an error each.
    for (frame, code) in [
        ("not json", "malformed"),
        (r#"{"v":1,"type":"teleport"}"#, "unknown-type"),
        (r#"{"v":2,"type":"ping"}"#, "version"),
        (
            r#"{"v":1,"type":"admit","who":"p01","assurance":"eid-high"}"#,
            "invalid-field",
        ),
        (
            r#"{"v":1,"type":"admit","who":"p2","assurance":"vibes"}"#,
            "invalid-field",
        ),
        (r#"{"v":1,"type":"hello","token":"x.y"}"#, "out-of-order"),
        (
            r#"{"v":1,"type":"admit","who":"p99","assurance":"eid-high"}"#,
            "not-waiting",
        ),
    ] {
        host.send_raw(frame).await;
        let e = host.until("error").await;
        assert_eq!(e["code"], code, "{frame}");
    }
    // An eID level for someone who came with the link only: refused (VC-AUTH-1).
    host.send(json!({"v": 1, "type": "admit", "who": patient_p, "assurance": "eid-high"}))
        .await;
    assert_eq!(host.until("error").await["code"], "unproven-assurance");
    // Hostile Unicode in a field is just an invalid field.
    host.send_raw(r#"{"v":1,"type":"deny","who":"p\u202e2"}"#)
        .await;
    assert_eq!(host.until("error").await["code"], "invalid-field");
    // A second socket on the waiting patient's link is refused while the first lives.
    let mut second = Client::join(&s, &patient_token, None).await;
    assert_eq!(second.until("error").await["code"], "already-connected");
    assert!(second.closed().await);
    // An oversized frame closes that socket only.
    let mut big = pat;
    big.send_raw(&format!(
        "{{\"v\":1,\"type\":\"ping\",\"x\":\"{}\"}}",
        "a".repeat(40_000)
    ))
    .await;
    assert!(big.closed().await);
    tokio::time::sleep(Duration::from_millis(300)).await;

    // A flood from the patient's socket closes it; the room goes on for the host.
    let mut flood = Client::join(&s, &patient_token, None).await;
    for _ in 0..200 {
        flood.send_raw(r#"{"v":1,"type":"ping"}"#).await;
    }
    let mut saw_limit = false;
    while let Some(v) = flood.next().await {
        if v["code"] == "rate-limited" {
            saw_limit = true;
        }
    }
    assert!(
        saw_limit,
        "the flood is answered with rate-limited before the close"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut pat = Client::join(&s, &patient_token, None).await;
    pat.until("waiting").await;
    host.send(json!({"v": 1, "type": "admit", "who": patient_p, "assurance": "known-visually"}))
        .await;
    pat.until("admitted").await;
    assert_eq!(
        host.until("roster").await["participants"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let events = audit_ops(&s);
    assert!(events
        .iter()
        .any(|e| e["operation"] == "consultation.refused"
            && e["entity"]["detail"] == "refused:unknown-type"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_ends_for_everyone_when_its_invitations_expire_or_the_console_ends_it() {
    let (s, doctor_session, doctor, _, patient) = world().await;
    let first = plan(
        &s,
        &doctor_session,
        json!({"patient": patient.to_string(), "host": doctor, "minutes": 30}),
    )
    .await;
    let second = plan(
        &s,
        &doctor_session,
        json!({"patient": patient.to_string(), "host": doctor, "minutes": 30}),
    )
    .await;
    let mut rooms = Vec::new();
    for p in [&first, &second] {
        let (_, host_token, _) = p.link("clinician");
        let (patient_p, patient_token, _) = p.link("patient");
        let mut host = Client::join(&s, &host_token, Some(&doctor_session.cookie)).await;
        host.until("admitted").await;
        let mut pat = Client::join(&s, &patient_token, None).await;
        pat.until("waiting").await;
        host.send(
            json!({"v": 1, "type": "admit", "who": patient_p, "assurance": "known-visually"}),
        )
        .await;
        pat.until("admitted").await;
        rooms.push((host, pat));
    }
    // The second is ended the way the console does it (another process: only the database
    // says so); its room learns within a tick and ends for everyone, keeping the journal note.
    let org = s
        .store
        .org_by_slug(&trygg_core::OrgSlug::parse(ORG).unwrap())
        .await
        .unwrap()
        .unwrap();
    let h = s.store.org(&org).await.unwrap();
    {
        let mut tx = h.begin().await.unwrap();
        tx.finish_consultation(
            second.id.parse().unwrap(),
            "cancelled",
            "trygg:cli",
            None,
            time::OffsetDateTime::now_utc(),
        )
        .await
        .unwrap();
        tx.audit(&crate::common::test_event(ORG)).await.unwrap();
        tx.commit().await.unwrap();
    }
    let (mut host2, mut pat2) = rooms.pop().unwrap();
    for c in [&mut host2, &mut pat2] {
        tokio::time::timeout(Duration::from_secs(8), c.until("ended"))
            .await
            .expect("ended within a tick");
    }
    let mut tx = h.begin().await.unwrap();
    let note = tx
        .consultation_journal(second.id.parse().unwrap())
        .await
        .unwrap();
    drop(tx);
    assert!(
        note.is_some_and(|n| n.contains("known-visually")),
        "the note is kept"
    );
    // The first outlives its invitations (two hours after the planned end): it ends too.
    s.clock.advance(time::Duration::hours(3));
    let (mut host1, mut pat1) = rooms.pop().unwrap();
    for c in [&mut host1, &mut pat1] {
        tokio::time::timeout(Duration::from_secs(8), c.until("ended"))
            .await
            .expect("ended within a tick");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_is_open_while_people_wait_and_a_denial_carries_its_reason() {
    let (s, doctor_session, doctor, interpreter, patient) = world().await;
    let plan = plan(
        &s,
        &doctor_session,
        json!({"patient": patient.to_string(), "host": doctor, "interpreter": interpreter}),
    )
    .await;
    let (_, host_token, _) = plan.link("clinician");
    let (patient_p, patient_token, _) = plan.link("patient");
    let state = |list: &Value| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == plan.id.as_str())
            .unwrap()["state"]
            .clone()
    };
    async fn list(s: &TestServer, who: &Session) -> Value {
        let path = format!("/api/v1/orgs/{ORG}/consultations");
        s.send(Some(who), reqwest::Method::GET, &path, None)
            .await
            .json()
            .await
            .unwrap()
    }
    assert_eq!(state(&list(&s, &doctor_session).await), "scheduled");
    let mut pat = Client::join(&s, &patient_token, None).await;
    pat.until("waiting").await;
    assert_eq!(
        state(&list(&s, &doctor_session).await),
        "open",
        "people wait, no host yet"
    );
    let mut host = Client::join(&s, &host_token, Some(&doctor_session.cookie)).await;
    host.until("admitted").await;
    assert_eq!(state(&list(&s, &doctor_session).await), "in-progress");
    // A reason outside the fixed list is refused (free text could carry health data).
    host.send(json!({"v": 1, "type": "deny", "who": patient_p, "reason": "has the flu"}))
        .await;
    assert_eq!(host.until("error").await["code"], "invalid-field");
    host.send(
        json!({"v": 1, "type": "deny", "who": patient_p, "reason": "identity-not-confirmed"}),
    )
    .await;
    assert_eq!(
        pat.until("denied").await["reason"],
        "identity-not-confirmed"
    );
    assert!(pat.closed().await);
    // Denied stays denied: the same link does not get back in.
    let mut again = Client::join(&s, &patient_token, None).await;
    assert_eq!(again.until("error").await["code"], "not-arrivable");
    let events = audit_ops(&s);
    let deny = events
        .iter()
        .find(|e| e["operation"] == "consultation.deny")
        .expect("the denial is logged");
    assert_eq!(
        deny["entity"]["detail"],
        "deny-reason:identity-not-confirmed"
    );
    assert_eq!(deny["agent"]["id"], format!("personnel:{doctor}"));
}

/// Review findings (issue #10, outside attack): a leaked link cannot take an admitted person's
/// seat, nor the host's; only the client that was admitted (its resume secret) comes back within
/// the grace period without a new admission.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leaked_link_cannot_take_an_admitted_seat() {
    let (s, doctor_session, doctor, _, patient) = world().await;
    let plan = plan(
        &s,
        &doctor_session,
        json!({"patient": patient.to_string(), "host": doctor}),
    )
    .await;
    let (_, host_token, _) = plan.link("clinician");
    let (patient_p, patient_token, _) = plan.link("patient");
    let mut host = Client::join(&s, &host_token, Some(&doctor_session.cookie)).await;
    host.until("admitted").await;
    let host_resume = host.until("resume").await["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut pat = Client::join(&s, &patient_token, None).await;
    pat.until("waiting").await;
    host.send(json!({"v": 1, "type": "admit", "who": patient_p, "assurance": "id-document-shown"}))
        .await;
    pat.until("admitted").await;
    let resume = pat.until("resume").await["secret"]
        .as_str()
        .unwrap()
        .to_owned();

    // Another socket with the patient's link, or the host's without the host's login: refused.
    for token in [&patient_token, &host_token] {
        let mut thief = Client::join(&s, token, None).await;
        assert_eq!(thief.until("error").await["code"], "already-connected");
        assert!(thief.closed().await);
    }
    // A guessed resume secret does not help.
    let mut thief = Client::open(&s, None, None).await.unwrap();
    thief.send(json!({"v": 1, "type": "hello", "e2ee": true, "token": patient_token, "acknowledged": true, "resume": "0".repeat(64)})).await;
    assert_eq!(thief.until("error").await["code"], "already-connected");
    // Each attempt is in the log, naming the invitation (a leaked link's clearest sign).
    let attempts = audit_ops(&s)
        .iter()
        .filter(|e| e["entity"]["detail"] == "refused:already-connected")
        .count();
    assert!(attempts >= 3, "{attempts}");
    // The real ones are still there, and the roster has not changed.
    pat.send(json!({"v": 1, "type": "ping"})).await;
    pat.until("pong").await;
    host.send(json!({"v": 1, "type": "ping"})).await;
    host.until("pong").await;

    // The patient's connection drops. Whoever comes with the link alone waits to be admitted.
    drop(pat);
    loop {
        let v = host.until("roster").await;
        if v["participants"].as_array().unwrap().len() == 1 {
            break;
        }
    }
    let mut thief = Client::join(&s, &patient_token, None).await;
    thief.until("waiting").await;
    drop(thief);
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The grace period was forfeited by the socket without proof: even the real client waits.
    let mut back = Client::open(&s, None, None).await.unwrap();
    back.send(json!({"v": 1, "type": "hello", "e2ee": true, "token": patient_token, "acknowledged": true, "resume": resume})).await;
    back.until("waiting").await;
    host.send(json!({"v": 1, "type": "admit", "who": patient_p, "assurance": "id-document-shown"}))
        .await;
    back.until("admitted").await;
    let resume = back.until("resume").await["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    // A dropped connection and the real client back within the grace period, with its proof:
    // admitted again at once, no new admission.
    drop(back);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut again = Client::open(&s, None, None).await.unwrap();
    again.send(json!({"v": 1, "type": "hello", "e2ee": true, "token": patient_token, "acknowledged": true, "resume": resume})).await;
    again.until("admitted").await;
    let events = audit_ops(&s);
    assert!(events
        .iter()
        .any(|e| e["operation"] == "consultation.rejoin"));
    assert!(events
        .iter()
        .any(|e| e["operation"] == "consultation.grace-over"));
    // The host's own proof takes over the host's seat (the same client on a new socket).
    let mut host2 = Client::open(&s, Some(&doctor_session.cookie), None)
        .await
        .unwrap();
    host2.send(json!({"v": 1, "type": "hello", "e2ee": true, "token": host_token, "acknowledged": true, "resume": host_resume})).await;
    host2.until("admitted").await;
    assert!(host.closed().await);
}

/// Review findings: the host's entry asks the live rule; a participant invited during the call
/// gets in; refusals by the room count toward the socket's limit; WebSocket pings count toward
/// its frame budget.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_entry_asks_the_live_rule_and_refusals_and_pings_are_bounded() {
    let (s, doctor_session, doctor, interpreter, patient) = world().await;
    let plan = plan(
        &s,
        &doctor_session,
        json!({"patient": patient.to_string(), "host": doctor}),
    )
    .await;
    let (_, host_token, _) = plan.link("clinician");
    let (_, patient_token, _) = plan.link("patient");
    let mut host = Client::join(&s, &host_token, Some(&doctor_session.cookie)).await;
    host.until("admitted").await;
    // Invited during the call: they get in (and wait).
    let res = s
        .send(
            Some(&doctor_session),
            reqwest::Method::POST,
            &format!("/api/v1/orgs/{ORG}/consultations/{}/invitations", plan.id),
            Some(&json!({"role": "interpreter", "person": interpreter.to_string()})),
        )
        .await;
    assert_eq!(res.status(), 201);
    let url: Value = res.json().await.unwrap();
    let late = url["url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let mut interp = Client::join(&s, &late, None).await;
    interp.until("waiting").await;
    let wr = loop {
        let v = host.until("waiting-room").await;
        if !v["waiting"].as_array().unwrap().is_empty() {
            break v;
        }
    };
    assert!(wr.to_string().contains("Test interpreter"), "{wr}");

    // A waiting patient asking for what they may not do is disconnected after 20 refusals.
    let mut pat = Client::join(&s, &patient_token, None).await;
    pat.until("waiting").await;
    for _ in 0..25 {
        pat.send_raw(r#"{"v":1,"type":"lock"}"#).await;
        tokio::time::sleep(Duration::from_millis(110)).await;
    }
    assert!(pat.closed().await, "20 refusals close the socket");
    // WebSocket pings count toward the frame budget.
    let mut pinger = Client::join(&s, &patient_token, None).await;
    pinger.until("waiting").await;
    for _ in 0..200 {
        let _ = pinger.ws.send(Message::Ping(vec![1].into())).await;
    }
    assert!(pinger.closed().await, "a ping flood closes the socket");

    // The doctor's grants are revoked; opening the host link signed in, they wait (the live
    // rule refuses, and says so in the log) and see nobody waiting.
    host.send(json!({"v": 1, "type": "leave"})).await;
    assert!(host.closed().await);
    let admin = s
        .login(ORG, s.person(ORG, BuiltinRole::OrgAdmin).await)
        .await;
    let g: Value = s
        .send(
            Some(&admin),
            reqwest::Method::GET,
            &format!("/api/v1/orgs/{ORG}/personnel/{doctor}/grants"),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    for grant in g.as_array().unwrap() {
        let r = s
            .send(
                Some(&admin),
                reqwest::Method::POST,
                &format!(
                    "/api/v1/orgs/{ORG}/grants/{}/revoke",
                    grant["id"].as_str().unwrap()
                ),
                Some(&json!({"reason": "left"})),
            )
            .await;
        assert!(r.status().is_success());
    }
    let denied_before = audit_ops(&s)
        .iter()
        .filter(|e| e["operation"] == "access.denied")
        .count();
    let mut host = Client::join(&s, &host_token, Some(&doctor_session.cookie)).await;
    let first = loop {
        let v = host.next().await.unwrap();
        if v["type"] != "welcome" {
            break v;
        }
    };
    assert_eq!(first["type"], "waiting", "{first}");
    let denied_after = audit_ops(&s)
        .iter()
        .filter(|e| e["operation"] == "access.denied")
        .count();
    assert!(denied_after > denied_before, "the refusal is in the log");
}

/// A link renewed elsewhere (the console, another node: only the database says so) disconnects
/// the old link's holder within a tick, and the new link waits to be admitted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_renewed_elsewhere_disconnects_its_old_holder() {
    let (s, doctor_session, doctor, _, patient) = world().await;
    let plan = plan(
        &s,
        &doctor_session,
        json!({"patient": patient.to_string(), "host": doctor}),
    )
    .await;
    let (_, host_token, _) = plan.link("clinician");
    let (patient_p, patient_token, patient_inv) = plan.link("patient");
    let mut host = Client::join(&s, &host_token, Some(&doctor_session.cookie)).await;
    host.until("admitted").await;
    let mut pat = Client::join(&s, &patient_token, None).await;
    pat.until("waiting").await;
    host.send(json!({"v": 1, "type": "admit", "who": patient_p, "assurance": "known-visually"}))
        .await;
    pat.until("admitted").await;
    let org = s
        .store
        .org_by_slug(&trygg_core::OrgSlug::parse(ORG).unwrap())
        .await
        .unwrap()
        .unwrap();
    let h = s.store.org(&org).await.unwrap();
    let fresh = {
        let mut tx = h.begin().await.unwrap();
        let later = time::OffsetDateTime::now_utc() + time::Duration::hours(3);
        let secret = tx
            .reissue_invitation(
                patient_inv.parse().unwrap(),
                later,
                time::OffsetDateTime::now_utc(),
            )
            .await
            .unwrap();
        tx.audit(&crate::common::test_event(ORG)).await.unwrap();
        tx.commit().await.unwrap();
        format!("{ORG}.{}", secret.expose())
    };
    assert!(
        pat.closed_within(Duration::from_secs(12)).await,
        "the old link's holder is disconnected within a tick (or two, on a busy machine)"
    );
    let mut new = Client::join(&s, &fresh, None).await;
    new.until("waiting").await;
    // The new link's holder stays (the next tick does not take them for the old link's).
    tokio::time::sleep(Duration::from_secs(6)).await;
    new.send(json!({"v": 1, "type": "ping"})).await;
    new.until("pong").await;
}

/// A clinician whose employment ends during the call is taken out of it within a minute: the
/// live rule is asked again for everyone who came signed in (PC-ACL-1), not only at their next
/// act of authority.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clinician_whose_employment_ends_during_the_call_is_taken_out() {
    let (s, doctor_session, doctor, _, patient) = world().await;
    let (mut host, mut n) = nurse_in_call(&s, &doctor_session, doctor, patient).await;
    end_employment(&s, nurse_of(&s).await).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(75);
    let mut told = false;
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "still in the call after 75 s"
        );
        // The client's heartbeat, as the page sends it.
        match tokio::time::timeout(Duration::from_secs(10), n.ws.next()).await {
            Err(_) => {
                let _ =
                    n.ws.send(Message::Text(r#"{"v":1,"type":"ping"}"#.into()))
                        .await;
                let _ = host
                    .ws
                    .send(Message::Text(r#"{"v":1,"type":"ping"}"#.into()))
                    .await;
            }
            // The ended employment ends the session (the next heartbeat says so) or the
            // minute's re-check of the rule does.
            Ok(Some(Ok(Message::Text(t)))) => {
                told |= t.as_str().contains("not-allowed") || t.as_str().contains("session-ended")
            }
            Ok(Some(Ok(_))) => {}
            Ok(_) => break,
        }
    }
    assert!(told, "told why");
    let roster = loop {
        let v = host.until("roster").await;
        if v["participants"].as_array().unwrap().len() == 1 {
            break v;
        }
    };
    assert_eq!(roster["participants"][0]["host"], true);
}

/// Second review: a host who signs out is out of the call at their next heartbeat; a host whose
/// grants were revoked while their connection was down does not get the seat back through the
/// resume secret, but waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_or_losing_the_right_ends_a_hosts_seat() {
    let (s, doctor_session, doctor, _, patient) = world().await;
    let plan = plan(
        &s,
        &doctor_session,
        json!({"patient": patient.to_string(), "host": doctor}),
    )
    .await;
    let (_, host_token, _) = plan.link("clinician");
    // Signing out: the next heartbeat ends the socket.
    let mut host = Client::join(&s, &host_token, Some(&doctor_session.cookie)).await;
    host.until("admitted").await;
    let other = s
        .login_with(
            ORG,
            doctor,
            trygg_server::auth::AuthMethod::Passkey,
            trygg_audit::Assurance::Substantial,
        )
        .await;
    let r = s
        .send(
            Some(&doctor_session),
            reqwest::Method::POST,
            "/api/v1/auth/logout",
            None,
        )
        .await;
    assert!(r.status().is_success());
    host.send(json!({"v": 1, "type": "ping"})).await;
    assert_eq!(host.until("error").await["code"], "session-ended");
    assert!(host.closed().await);
    // Back with a live session, admitted, then the connection drops and the grants go.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut host = Client::join(&s, &host_token, Some(&other.cookie)).await;
    let first = loop {
        let v = host.next().await.unwrap();
        if v["type"] != "welcome" {
            break v;
        }
    };
    assert_eq!(first["type"], "admitted", "{first}");
    let resume = host.until("resume").await["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    drop(host);
    let admin = s
        .login(ORG, s.person(ORG, BuiltinRole::OrgAdmin).await)
        .await;
    let g: Value = s
        .send(
            Some(&admin),
            reqwest::Method::GET,
            &format!("/api/v1/orgs/{ORG}/personnel/{doctor}/grants"),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    for grant in g.as_array().unwrap() {
        let path = format!(
            "/api/v1/orgs/{ORG}/grants/{}/revoke",
            grant["id"].as_str().unwrap()
        );
        let r = s
            .send(
                Some(&admin),
                reqwest::Method::POST,
                &path,
                Some(&json!({"reason": "left"})),
            )
            .await;
        assert!(r.status().is_success());
    }
    let mut back = Client::open(&s, Some(&other.cookie), None).await.unwrap();
    back.send(json!({"v": 1, "type": "hello", "e2ee": true, "token": host_token, "acknowledged": true, "resume": resume})).await;
    let first = loop {
        let v = back.next().await.unwrap();
        if v["type"] != "welcome" {
            break v;
        }
    };
    assert_eq!(
        first["type"], "waiting",
        "no seat back without the right: {first}"
    );
}

/// A browser's offer as Chromium makes it for one microphone (ICE and DTLS parameters are
/// syntactically valid; nobody connects with them).
const AUDIO_OFFER: &str = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
a=group:BUNDLE 0\r\na=msid-semantic: WMS\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n\
a=ice-ufrag:tRyG\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=ice-options:trickle\r\n\
a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\n\
a=setup:actpass\r\na=mid:0\r\na=sendonly\r\na=msid:- a0\r\na=rtcp-mux\r\n\
a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\na=ssrc:1111 cname:x\r\n";

/// The media server's participant count, from the operator's metrics endpoint.
async fn media_participants(metrics: &str) -> u64 {
    let text = reqwest::get(format!("http://{metrics}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("trygg_media_participants "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no participant gauge in {text}"))
}

/// Issue #11 ("removal stops forwarding at once"): a clinician whose employment ends during the
/// call loses their media session with their seat, at their next heartbeat, long before the media
/// server would have dropped an unconnected session by itself (20 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ended_employment_stops_the_media_at_once() {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let metrics = probe.local_addr().unwrap().to_string();
    drop(probe);
    let (s, doctor_session, doctor, _, patient) =
        world_with(&[("TRYGG_METRICS_LISTEN", metrics.as_str())]).await;
    let (mut host, mut n) = nurse_in_call(&s, &doctor_session, doctor, patient).await;
    assert_eq!(media_participants(&metrics).await, 0);
    n.send(json!({"v": 1, "type": "media-offer", "sdp": AUDIO_OFFER}))
        .await;
    let answer = n.until("media-answer").await;
    let offered = std::time::Instant::now();
    assert!(answer["sdp"].as_str().unwrap().contains("a=ice-lite"));
    assert_eq!(media_participants(&metrics).await, 1, "the nurse's session");

    end_employment(&s, nurse_of(&s).await).await;
    // The page's heartbeat: the ended employment ends the session, the seat and the media.
    n.send(json!({"v": 1, "type": "ping"})).await;
    assert!(n.closed().await, "the nurse's socket is closed");
    let mut left = media_participants(&metrics).await;
    while left != 0 && offered.elapsed() < Duration::from_secs(15) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        left = media_participants(&metrics).await;
    }
    assert_eq!(left, 0, "the media session outlived the seat");
    assert!(
        offered.elapsed() < Duration::from_secs(15),
        "stopped by the seat's end, not by the media server's connect timeout"
    );
    // The host's call goes on.
    host.send(json!({"v": 1, "type": "ping"})).await;
    host.until("pong").await;
}

/// The demo organisation's nurse.
async fn nurse_of(s: &TestServer) -> uuid::Uuid {
    s.person(ORG, BuiltinRole::Nurse).await
}

/// A consultation of the doctor (host, in the call) and a nurse signed in with a passkey,
/// admitted by the host: the host's and the nurse's sockets.
async fn nurse_in_call(
    s: &TestServer,
    doctor_session: &Session,
    doctor: uuid::Uuid,
    patient: uuid::Uuid,
) -> (Client, Client) {
    let nurse = nurse_of(s).await;
    let nurse_session = s
        .login_with(
            ORG,
            nurse,
            trygg_server::auth::AuthMethod::Passkey,
            trygg_audit::Assurance::Substantial,
        )
        .await;
    let plan = plan(
        s,
        doctor_session,
        json!({"patient": patient.to_string(), "host": doctor,
               "participants": [{"role": "clinician", "person": nurse.to_string()}]}),
    )
    .await;
    let (_, host_token, _) = plan.link("clinician");
    let nurse_link = plan
        .links
        .iter()
        .find(|l| l.0 == "clinician" && l.2 != host_token)
        .unwrap();
    let mut host = Client::join(s, &host_token, Some(&doctor_session.cookie)).await;
    host.until("admitted").await;
    let mut n = Client::join(s, &nurse_link.2, Some(&nurse_session.cookie)).await;
    n.until("waiting").await;
    host.send(
        json!({"v": 1, "type": "admit", "who": nurse_link.1, "assurance": "eid-substantial"}),
    )
    .await;
    n.until("admitted").await;
    (host, n)
}

/// An administrator ends `person`'s employment.
async fn end_employment(s: &TestServer, person: uuid::Uuid) {
    s.end_employment(ORG, person).await;
}

/// Issue #14: an interpreter (who joins but does not plan) sees their own consultations and goes
/// in with a fresh link for their own place; the form needs the session's CSRF token; another
/// consultation is not theirs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interpreter_finds_their_consultations_and_goes_in() {
    let (s, doctor_session, doctor, interpreter, patient) = world().await;
    let plan = plan(
        &s,
        &doctor_session,
        json!({"patient": patient.to_string(), "host": doctor, "interpreter": interpreter, "minutes": 30}),
    )
    .await;
    let other = crate::consultation::plan(
        &s,
        &doctor_session,
        json!({"patient": patient.to_string(), "host": doctor}),
    )
    .await;
    let (_, sent, _) = plan.link("interpreter");
    let me = s.login(ORG, interpreter).await;
    let r = s
        .send(
            Some(&me),
            reqwest::Method::GET,
            "/personell/mine-konsultasjoner?lang=en",
            None,
        )
        .await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(
        html.contains(&plan.id) && !html.contains(&other.id),
        "{html}"
    );
    assert!(
        html.contains("Interpreter") && html.contains("Go in"),
        "{html}"
    );
    let once = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let go = |id: String, csrf: String| {
        once.post(s.url(&format!("/personell/mine-konsultasjoner/{id}")))
            .header("cookie", &me.cookie)
            .header("origin", &me.origin)
            .form(&[("csrf", csrf)])
            .send()
    };
    assert_eq!(
        go(plan.id.clone(), "wrong".into()).await.unwrap().status(),
        403
    );
    assert_eq!(
        go(other.id.clone(), me.csrf.clone())
            .await
            .unwrap()
            .status(),
        404
    );
    let r = go(plan.id.clone(), me.csrf.clone()).await.unwrap();
    assert_eq!(r.status(), 303);
    let to = r.headers()["location"].to_str().unwrap().to_owned();
    let token = to.strip_prefix("/join/").unwrap();
    assert_ne!(token, sent);
    let mut c = Client::join(&s, token, None).await;
    c.until("welcome").await;
    let mut old = Client::join(&s, &sent, None).await;
    assert_eq!(old.until("error").await["code"], "invitation-refused");
}

/// Issue #14: the pre-join page shows the start as people read it, in the configured time zone
/// (`time_zone`; Norwegian time by default).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_start_reads_in_the_configured_time_zone() {
    for (zone, expected) in [
        (None, "10 January 2027, 10:00"),
        (Some("Asia/Tokyo"), "10 January 2027, 18:00"),
    ] {
        let env: Vec<(&str, &str)> = zone.map(|z| ("TRYGG_TIME_ZONE", z)).into_iter().collect();
        let (s, doctor_session, doctor, _, patient) = world_with(&env).await;
        let p = plan(
            &s,
            &doctor_session,
            json!({"patient": patient.to_string(), "host": doctor, "start": "2027-01-10T09:00:00Z"}),
        )
        .await;
        let (_, token, _) = p.link("patient");
        let r = s
            .send(
                None,
                reqwest::Method::GET,
                &format!("/join/{token}?lang=en"),
                None,
            )
            .await;
        let html = r.text().await.unwrap();
        assert!(html.contains(expected), "{zone:?}: {html}");
        assert!(
            !html.contains("2027-01-10T09:00"),
            "{zone:?}: a machine time shown"
        );
    }
}
