//! The signalling WebSocket (issue #10, `docs/signalling.md`): one socket per participant at
//! `/signalling`. This module only moves frames between the socket and the participant's room
//! (`trygg_app::rooms`); what a frame may do is decided there.
//!
//! The edge's own duties: the upgrade is same-origin only (no other site's page can open a
//! socket with a participant's cookie); the invitation token comes in the first frame (`hello`),
//! never in the URL, so it stays out of logs; an enrolled device that names itself in `hello` is
//! sent a fresh nonce (`device-challenge`) and must answer with its signature (`device-proof`)
//! before anything else (VC-DEV-1); every phase has a timeout ([`HELLO_TIMEOUT`] for
//! the `hello` and for the device's proof, [`IDLE_TIMEOUT`] between frames, which the client's heartbeat keeps open); frames
//! are at most [`MAX_FRAME`] bytes (the socket is closed on a larger one); each socket has a
//! frame budget ([`RATE`] a second, burst [`BURST`]) and is closed when it floods; a signed-in
//! participant's session is checked again before every act of authority (admit, deny, lock,
//! unlock, end), so a logout or a timed-out session stops them at once.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use trygg_app::devices::DeviceProof;
use trygg_app::rooms::{self, Outbound};
use trygg_app::sessions::Current;
use trygg_core::signalling::{
    device_challenge_frame, error_frame, parse_client, ClientMessage, MAX_FRAME,
};

use crate::app::AppState;
use crate::auth::origin::same_origin;
use crate::auth::session::read_cookie;
use crate::auth::ClientIp;

/// How long a new socket has to send its `hello`.
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a socket may stay silent (the client pings every 15 seconds).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(45);
/// Frames a second a socket may send on average.
pub const RATE: f64 = 10.0;
/// Frames a socket may send at once.
pub const BURST: f64 = 30.0;
/// The read buffer of a socket, bytes (a frame is at most `MAX_FRAME`).
pub const BUFFER: usize = 8 * 1024;
/// Refused frames after which a socket is closed.
pub const MAX_REFUSED: u32 = 20;

/// The socket's route (not under `/api/`: its answers are frames, not problems).
pub fn routes() -> Router<AppState> {
    Router::new().route("/signalling", get(upgrade))
}

async fn upgrade(
    State(state): State<AppState>,
    axum::Extension(rt): axum::Extension<std::sync::Arc<crate::auth::AuthRuntime>>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    // Cross-site WebSocket hijacking: a socket carries the participant's cookie, so only a page
    // of this site may open one.
    if !same_origin(&state.config, &headers) {
        return (StatusCode::FORBIDDEN, "cross-origin socket refused").into_response();
    }
    let cookie = read_cookie(&state.config, &headers);
    let patient_cookie = crate::portal_pages::read_cookie(&state.config, &headers);
    // Small buffers (the library's 128 KiB read buffer per socket made a participant cost
    // about 140 KiB of memory); a session description is the largest frame (MAX_FRAME).
    ws.max_message_size(MAX_FRAME)
        .max_frame_size(MAX_FRAME)
        .read_buffer_size(BUFFER)
        .write_buffer_size(0)
        .max_write_buffer_size(BUFFER * 16)
        .on_upgrade(move |socket| drive(state, rt, socket, cookie, patient_cookie, ip))
}

async fn close(socket: &mut WebSocket, code: u16, reason: &'static str) {
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        })))
        .await;
}

async fn send_text(socket: &mut WebSocket, text: String) -> bool {
    socket.send(Message::Text(text.into())).await.is_ok()
}

/// The personnel session named by the socket's cookie, if it is live now.
async fn session(
    state: &AppState,
    cookie: &Option<(trygg_core::OrgSlug, trygg_store::Secret)>,
    ip: Option<std::net::IpAddr>,
) -> Option<trygg_app::sessions::Session> {
    let cur = trygg_app::sessions::current(state, cookie.clone(), ip, state.now())
        .await
        .ok()?;
    match cur {
        Current::Live(s) => Some(*s),
        _ => None,
    }
}

/// Sends a device its challenge and reads its proof (the next frame, within [`HELLO_TIMEOUT`]);
/// `None` when none came, with an error frame sent.
async fn device_proof(socket: &mut WebSocket, id: uuid::Uuid) -> Option<DeviceProof> {
    let nonce = trygg_store::Secret::generate().ok()?;
    let nonce = nonce.expose().to_owned();
    if !send_text(socket, device_challenge_frame(&nonce)).await {
        return None;
    }
    let frame = match tokio::time::timeout(HELLO_TIMEOUT, socket.recv()).await {
        Ok(Some(Ok(Message::Text(t)))) => t,
        _ => return None,
    };
    match parse_client(frame.as_str()) {
        Ok(ClientMessage::DeviceProof { signature }) => Some(DeviceProof {
            id,
            nonce,
            signature,
        }),
        Ok(_) => {
            let _ = send_text(socket, error_frame("out-of-order", "send device-proof")).await;
            None
        }
        Err(e) => {
            let _ = send_text(socket, error_frame(e.code(), &e.to_string())).await;
            None
        }
    }
}

async fn drive(
    state: AppState,
    rt: std::sync::Arc<crate::auth::AuthRuntime>,
    mut socket: WebSocket,
    cookie: Option<(trygg_core::OrgSlug, trygg_store::Secret)>,
    patient_cookie: Option<(trygg_core::OrgSlug, trygg_store::Secret)>,
    ip: Option<std::net::IpAddr>,
) {
    // Phase 1: the hello, within HELLO_TIMEOUT.
    let first = match tokio::time::timeout(HELLO_TIMEOUT, socket.recv()).await {
        Ok(Some(Ok(Message::Text(t)))) => t,
        Ok(Some(Ok(_))) => {
            let _ = send_text(&mut socket, error_frame("malformed", "text frames only")).await;
            return close(&mut socket, 1003, "text frames only").await;
        }
        Err(_) => return close(&mut socket, 1008, "no hello").await,
        _ => return,
    };
    let (token, acknowledged, resume, e2ee, device) = match parse_client(first.as_str()) {
        Ok(ClientMessage::Hello {
            token,
            acknowledged,
            resume,
            e2ee,
            device,
        }) => (token, acknowledged, resume, e2ee, device),
        Ok(_) => {
            let _ = send_text(&mut socket, error_frame("out-of-order", "send hello first")).await;
            return close(&mut socket, 1008, "hello first").await;
        }
        Err(e) => {
            let _ = send_text(&mut socket, error_frame(e.code(), &e.to_string())).await;
            return close(&mut socket, 1008, "bad hello").await;
        }
    };
    // Phase 1b (VC-DEV-1): a device that named itself signs a fresh nonce, within HELLO_TIMEOUT.
    // A device's proof is a login: it spends the client's request budget like one, so guessing
    // (and the security event each refusal writes) is throttled.
    if device.is_some() && trygg_app::login::rate_limit(&rt, ip, state.now()).is_err() {
        let _ = send_text(&mut socket, error_frame("rate-limited", "too many logins")).await;
        return close(&mut socket, 1008, "rate limited").await;
    }
    let device = match device {
        None => None,
        Some(id) => match device_proof(&mut socket, id).await {
            Some(p) => Some(p),
            None => return close(&mut socket, 1008, "no device proof").await,
        },
    };
    let login = session(&state, &cookie, ip).await.map(|s| s.caller());
    // A patient signed in to the portal (issue #13) comes with their eID level.
    let patient_login = match &patient_cookie {
        Some((org, secret)) => trygg_app::portal::current(&state, org, secret, ip)
            .await
            .ok()
            .flatten(),
        None => None,
    };
    // VC-ENC-2: `e2ee` is checked against the organisation's policy once the invitation names
    // the organisation (an unknown token is refused the same way whatever it says).
    let joined = rooms::join(
        &state,
        &token,
        acknowledged,
        resume,
        e2ee,
        login,
        patient_login,
        device,
        ip,
        state.now(),
    )
    .await;
    drop(token);
    let rooms::Joined {
        connection,
        mut outbox,
    } = match joined {
        Ok(j) => j,
        Err(e) => {
            let _ = send_text(&mut socket, error_frame(e.code(), &e.to_string())).await;
            return close(&mut socket, 1008, "refused").await;
        }
    };
    // Phase 2: frames both ways until either side ends.
    let mut tokens = BURST;
    let mut last = tokio::time::Instant::now();
    let mut refused = 0u32;
    loop {
        tokio::select! {
            out = outbox.recv() => match out {
                Some(Outbound::Frame(f)) => {
                    if !send_text(&mut socket, f).await {
                        break;
                    }
                }
                Some(Outbound::Refused(f)) => {
                    if !send_text(&mut socket, f).await {
                        break;
                    }
                    refused += 1;
                    if refused >= MAX_REFUSED {
                        close(&mut socket, 1008, "too many errors").await;
                        break;
                    }
                }
                Some(Outbound::Close) | None => {
                    // Frames queued before the close are sent first (the `ended` screen).
                    while let Ok(Outbound::Frame(f) | Outbound::Refused(f)) = outbox.try_recv() {
                        let _ = send_text(&mut socket, f).await;
                    }
                    close(&mut socket, 1000, "closed").await;
                    break;
                }
            },
            frame = tokio::time::timeout(IDLE_TIMEOUT, socket.recv()) => {
                // The frame budget, a token bucket per socket, counts every frame the client
                // sends, WebSocket pings included.
                if matches!(frame, Ok(Some(Ok(_)))) {
                    let now = tokio::time::Instant::now();
                    tokens = (tokens + now.duration_since(last).as_secs_f64() * RATE).min(BURST);
                    last = now;
                    if tokens < 1.0 {
                        let _ = send_text(&mut socket, error_frame("rate-limited", "too many frames")).await;
                        let _ = connection.refused("rate-limited");
                        close(&mut socket, 1008, "flood").await;
                        break;
                    }
                    tokens -= 1.0;
                }
                let text = match frame {
                    Err(_) => {
                        close(&mut socket, 1001, "idle").await;
                        break;
                    }
                    Ok(None) | Ok(Some(Err(_))) => break,
                    Ok(Some(Ok(Message::Close(_)))) => break,
                    Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
                    Ok(Some(Ok(Message::Binary(_)))) => {
                        let _ = send_text(&mut socket, error_frame("malformed", "text frames only")).await;
                        refused += 1;
                        let _ = connection.refused("malformed");
                        if refused >= MAX_REFUSED { close(&mut socket, 1008, "too many errors").await; break; }
                        continue;
                    }
                    Ok(Some(Ok(Message::Text(t)))) => t,
                };
                let msg = match parse_client(text.as_str()) {
                    Ok(m) => m,
                    Err(e) => {
                        let _ = send_text(&mut socket, error_frame(e.code(), &e.to_string())).await;
                        refused += 1;
                        let _ = connection.refused(e.code());
                        if refused >= MAX_REFUSED { close(&mut socket, 1008, "too many errors").await; break; }
                        continue;
                    }
                };
                let authority = matches!(
                    msg,
                    ClientMessage::Admit { .. }
                        | ClientMessage::Deny { .. }
                        | ClientMessage::Lock
                        | ClientMessage::Unlock
                        | ClientMessage::End
                );
                // The session is asked again before every act of authority, and with every
                // heartbeat: a participant who signed out or whose session timed out is out of
                // the call within 15 seconds.
                let heartbeat = matches!(msg, ClientMessage::Ping);
                if (authority || heartbeat) && connection.signed_in && session(&state, &cookie, ip).await.is_none() {
                    // Signed out or timed out since joining: no more acts of authority.
                    let _ = send_text(&mut socket, error_frame("session-ended", "sign in again")).await;
                    let _ = connection.refused("session-ended");
                    close(&mut socket, 1008, "session ended").await;
                    break;
                }
                if !connection.send(msg) {
                    let _ = send_text(&mut socket, error_frame("busy", "the room is busy")).await;
                    close(&mut socket, 1013, "busy").await;
                    break;
                }
            }
        }
    }
    // Dropping the connection tells the room the participant is gone.
    drop(connection);
}
