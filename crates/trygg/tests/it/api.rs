//! The HTTP API: health, OpenAPI, organisations and patients, and every kind of bad input getting
//! a problem+json answer with the right status (never a 500 or a panic).

use reqwest::Method;
use serde_json::json;
use trygg_core::BuiltinRole;

use crate::common::{assert_problem, Session, TestServer};

const ORG: &str = "normland-legesenter";

fn synthetic_nid() -> String {
    trygg_core::NationalId::synthetic(1, 2, 3, 400)
        .unwrap()
        .expose()
}

async fn secretary(s: &TestServer) -> Session {
    s.seed_demo().await;
    let id = s.person(ORG, BuiltinRole::Secretary).await;
    s.login(ORG, id).await
}

#[tokio::test]
async fn health_readiness_and_openapi_answer() {
    let s = TestServer::start().await;
    let r = s.client.get(s.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = s.client.get(s.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = s
        .client
        .get(s.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let doc: serde_json::Value = r.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/orgs",
        "/api/v1/orgs/{org}/patients",
        "/api/v1/orgs/{org}/patients/{id}",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from OpenAPI"
        );
    }
}

#[tokio::test]
async fn requests_carry_ids_and_security_headers() {
    let s = TestServer::start().await;
    let r = s.client.get(s.url("/api/v1/orgs")).send().await.unwrap();
    let h = r.headers();
    assert!(h.get("x-request-id").is_some());
    let csp = h.get("content-security-policy").unwrap().to_str().unwrap();
    assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"));
    assert!(!csp.contains("unsafe-inline"));
    assert_eq!(h.get("x-content-type-options").unwrap(), "nosniff");
    assert_eq!(h.get("referrer-policy").unwrap(), "no-referrer");
    assert_eq!(h.get("cache-control").unwrap(), "no-store");
    // Plain HTTP (loopback): no HSTS, which only means something over TLS.
    assert!(h.get("strict-transport-security").is_none());
}

#[tokio::test]
async fn operators_create_organisations_with_a_token() {
    let s = TestServer::start().await;
    let res = s
        .post_json("/api/v1/orgs", &json!({"name": "Sørbyen legesenter"}))
        .await;
    assert_eq!(res.status(), 201);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["slug"], "sorbyen-legesenter");
    let list: Vec<serde_json::Value> = s.get("/api/v1/orgs").await.json().await.unwrap();
    assert_eq!(list.len(), 1);
}

#[tokio::test]
async fn patients_round_trip_with_redacted_national_id() {
    let s = TestServer::start().await;
    let sec = secretary(&s).await;
    let path = format!("/api/v1/orgs/{ORG}/patients");
    let nid = synthetic_nid();
    let r = s
        .send(
            Some(&sec),
            Method::POST,
            &path,
            Some(&json!({"name": "Kari Testesen", "national_id": nid, "phone": "912 34 567"})),
        )
        .await;
    assert_eq!(r.status(), 201);
    let p: serde_json::Value = r.json().await.unwrap();
    assert_eq!(p["name"], "Kari Testesen");
    assert_eq!(p["phone"], "+4791234567");
    assert_eq!(p["national_id"], format!("{}*****", &nid[..6]));
    let id = p["id"].as_str().unwrap();
    let r = s
        .send(Some(&sec), Method::GET, &format!("{path}/{id}"), None)
        .await;
    assert_eq!(r.status(), 200);
    let back: serde_json::Value = r.json().await.unwrap();
    assert_eq!(back, p);
    let r = s.send(Some(&sec), Method::GET, &path, None).await;
    let list: Vec<serde_json::Value> = r.json().await.unwrap();
    assert_eq!(list.len(), 4, "three demo patients and the new one");
    // The same national identity number again is a conflict, found through the keyed hash.
    let r = s
        .send(
            Some(&sec),
            Method::POST,
            &path,
            Some(&json!({"name": "Someone Else", "national_id": nid})),
        )
        .await;
    assert_problem(r, 409, "TR-S409").await;
}

#[tokio::test]
async fn bad_input_gets_problems_not_500s() {
    let s = TestServer::start_with(&[("TRYGG_BODY_LIMIT_BYTES", "4096")]).await;
    let sec = secretary(&s).await;
    let path = format!("/api/v1/orgs/{ORG}/patients");
    let post = |body: serde_json::Value| {
        let (s, sec, path) = (&s, &sec, &path);
        async move { s.send(Some(sec), Method::POST, path, Some(&body)).await }
    };
    // Malformed JSON.
    let json_ct = "application/json";
    assert_problem(
        s.send_raw(&sec, &path, json_ct, "{\"name\": ").await,
        400,
        "TR-J001",
    )
    .await;
    // Well-formed JSON of the wrong shape.
    assert_problem(
        s.send_raw(&sec, &path, json_ct, "{\"name\": 5}").await,
        422,
        "TR-J002",
    )
    .await;
    // An unknown field is refused rather than ignored.
    let r = post(json!({"name": "A B", "national_id": synthetic_nid(), "diagnosis": "x"})).await;
    assert_problem(r, 422, "TR-J002").await;
    // Invalid national identity numbers: wrong control digit, wrong date, wrong length.
    let mut bad = synthetic_nid().into_bytes();
    bad[10] = if bad[10] == b'9' { b'0' } else { bad[10] + 1 };
    let bad = String::from_utf8(bad).unwrap();
    let body = assert_problem(
        post(json!({"name": "A B", "national_id": bad})).await,
        422,
        "TR-P002",
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("control digit"));
    assert!(
        !body.to_string().contains(&bad),
        "the error must not echo the number"
    );
    assert_problem(
        post(json!({"name": "A B", "national_id": "32138012345"})).await,
        422,
        "TR-P002",
    )
    .await;
    assert_problem(
        post(json!({"name": "A B", "national_id": "123"})).await,
        422,
        "TR-P002",
    )
    .await;
    // Bad phone.
    assert_problem(
        post(json!({"name": "A B", "national_id": synthetic_nid(), "phone": "12"})).await,
        422,
        "TR-P003",
    )
    .await;
    // Unknown organisation (and a slug that could never exist).
    let r = s
        .send(
            Some(&sec),
            Method::POST,
            "/api/v1/orgs/no-such-org/patients",
            Some(&json!({"name": "A B", "national_id": synthetic_nid()})),
        )
        .await;
    assert_problem(r, 404, "TR-O404").await;
    let r = s
        .send(
            Some(&sec),
            Method::GET,
            "/api/v1/orgs/..%2Fetc/patients",
            None,
        )
        .await;
    assert_problem(r, 404, "TR-O404").await;
    // Unknown patient id, and an id that is not a UUID.
    let r = s
        .send(
            Some(&sec),
            Method::GET,
            &format!("{path}/00000000-0000-4000-8000-000000000000"),
            None,
        )
        .await;
    assert_problem(r, 404, "TR-P404").await;
    let r = s
        .send(Some(&sec), Method::GET, &format!("{path}/not-a-uuid"), None)
        .await;
    assert_problem(r, 404, "TR-P404").await;
    // Oversized body.
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(10_000));
    assert_problem(s.send_raw(&sec, &path, json_ct, big).await, 413, "TR-H413").await;
    // Wrong content type.
    assert_problem(
        s.send_raw(&sec, &path, "text/plain", "hello").await,
        415,
        "TR-H415",
    )
    .await;
    // Unknown API path and wrong method.
    assert_problem(s.get("/api/v1/nothing-here").await, 404, "TR-H404").await;
    let r = s.client.delete(s.url("/api/v1/orgs")).send().await.unwrap();
    assert_problem(r, 405, "TR-H405").await;
    // Bad organisation name, and one that exists already.
    assert_problem(
        s.post_json("/api/v1/orgs", &json!({"name": "!!!"})).await,
        422,
        "TR-O001",
    )
    .await;
    assert_problem(
        s.post_json("/api/v1/orgs", &json!({"name": "Normland legesenter"}))
            .await,
        409,
        "TR-S409",
    )
    .await;
}

#[tokio::test]
async fn api_needs_a_valid_token_or_session() {
    let s = TestServer::start().await;
    let r = s.client.get(s.url("/api/v1/orgs")).send().await.unwrap();
    assert_problem(r, 401, "TR-A001").await;
    let r = s
        .client
        .get(s.url("/api/v1/orgs"))
        .bearer_auth("trygg_not-a-token")
        .send()
        .await
        .unwrap();
    assert_problem(r, 401, "TR-A002").await;
    assert_eq!(s.get("/api/v1/orgs").await.status(), 200);
    s.seed_demo().await;
    let r = s
        .send(
            None,
            Method::GET,
            &format!("/api/v1/orgs/{ORG}/patients"),
            None,
        )
        .await;
    assert_eq!(r.status(), 401);
    // A deployment token is not a person: it reaches no organisation's patients.
    let r = s.get(&format!("/api/v1/orgs/{ORG}/patients")).await;
    assert_eq!(r.status(), 401);
}
