//! Test harness: starts the real server in-process on an ephemeral loopback port with a temporary
//! data directory, and offers a small HTTP client.

use std::net::SocketAddr;
use std::sync::Arc;

use trygg_server::config::{Config, Overrides};

pub struct TestServer {
    pub base: String,
    pub token: String,
    pub dir: tempfile::TempDir,
    pub store: Arc<trygg_store::Store>,
    pub client: reqwest::Client,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    pub async fn start_with(env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect();
        let config = Config::load(
            None,
            env,
            &Overrides {
                data_dir: Some(dir.path().to_owned()),
                listen: Some("127.0.0.1:0".parse().unwrap()),
            },
        )
        .unwrap();
        let store = Arc::new(trygg_server::serve::open_store(&config).await.unwrap());
        let (_, token) = store
            .create_api_token("test", time::OffsetDateTime::now_utc())
            .await
            .unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<SocketAddr>();
        let s = store.clone();
        tokio::spawn(async move {
            trygg_server::serve::serve(
                config,
                s,
                Box::new(move |addr, _| {
                    let _ = tx.send(addr);
                }),
            )
            .await
            .unwrap();
        });
        let addr = rx.await.unwrap();
        Self {
            base: format!("http://{addr}"),
            token,
            dir,
            store,
            client: reqwest::Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
    }

    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn post_raw(&self, path: &str, body: impl Into<reqwest::Body>) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(&self.token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap()
    }
}

/// Asserts a problem+json response with the status and code, and returns its body.
pub async fn assert_problem(res: reqwest::Response, status: u16, code: &str) -> serde_json::Value {
    assert_eq!(res.status().as_u16(), status, "status");
    let ct = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    assert_eq!(ct, "application/problem+json");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], status);
    assert_eq!(body["code"], code, "{body}");
    assert!(body["title"].is_string() && body["detail"].is_string() && body["type"].is_string());
    body
}
