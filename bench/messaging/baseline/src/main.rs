//! Baseline for bench/messaging/api.sh: `POST /api/v1/orgs/{org}/threads/{thread}/messages`
//! with `{"body": "..."}` INSERTs one row (one autocommit transaction, so one durable commit per
//! request: WAL, `synchronous = FULL`) and answers 201 with the ids, nothing else.
//!
//! Usage: trygg-bench-baseline <listen addr, e.g. 127.0.0.1:0> <database file> [pool size = 1]
//! Prints `listening <addr>` on stdout once it accepts connections.
//! The pool size is the number of SQLite connections (1 by default: SQLite has one writer, so
//! more connections only contend for its lock through the busy handler).

use std::str::FromStr;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

#[derive(serde::Deserialize)]
struct MessageIn {
    body: String,
}

#[derive(serde::Serialize)]
struct Posted {
    thread: String,
    message: String,
}

async fn post_message(
    State(db): State<SqlitePool>,
    Path((org, thread)): Path<(String, String)>,
    Json(input): Json<MessageIn>,
) -> Result<(StatusCode, Json<Posted>), StatusCode> {
    let id = uuid::Uuid::new_v4().to_string();
    sqlx::query("INSERT INTO messages (id, org, thread, body, created_at) VALUES (?, ?, ?, ?, unixepoch('subsec'))")
        .bind(&id)
        .bind(&org)
        .bind(&thread)
        .bind(&input.body)
        .execute(&db)
        .await
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    Ok((StatusCode::CREATED, Json(Posted { thread, message: id })))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:0".into());
    let file = args.next().ok_or("usage: trygg-bench-baseline <listen> <database file> [pool size]")?;
    let pool_size: u32 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(1);
    let opts = SqliteConnectOptions::from_str(&format!("sqlite://{file}"))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(5));
    let db = SqlitePoolOptions::new()
        .max_connections(pool_size)
        .min_connections(pool_size)
        .connect_with(opts)
        .await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS messages (id TEXT PRIMARY KEY, org TEXT NOT NULL, \
         thread TEXT NOT NULL, body TEXT NOT NULL, created_at REAL NOT NULL)",
    )
    .execute(&db)
    .await?;
    let app = Router::new()
        .route("/api/v1/orgs/{org}/threads/{thread}/messages", post(post_message))
        .with_state(db);
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!("listening {}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
