//! The signalling protocol's messages: what a participant's WebSocket carries, as versioned JSON.
//!
//! Issue #10: one WebSocket per participant; the server's room ([`crate::consultation::Room`]) is
//! the authority, so a client only asks (admit, deny, lock, leave, end) and is told (roster,
//! waiting room, joined, left, ended). [`parse_client`] checks a client's frame before anything
//! else sees it: its size ([`MAX_FRAME`]), that it is one JSON object with a known `type` and the
//! protocol version `v` ([`VERSION`]), and no unknown fields. Every refusal is a typed
//! [`ProtocolError`] with a stable code for the error frame, never a panic. The protocol is
//! documented in `docs/signalling.md`.

use crate::consultation::{
    ConsultationKind, Event, IdentityAssurance, ParticipantId, Role, RosterEntry,
};
use serde::{Deserialize, Serialize};

/// Why a clinician denies someone entry: the codes a `deny` may carry. Shown to the denied
/// person and logged (`deny-reason:<code>`).
pub const DENY_REASONS: [&str; 4] = ["identity-not-confirmed", "wrong-person", "not-now", "other"];

/// The protocol version this server speaks.
pub const VERSION: u32 = 1;

/// The largest client frame accepted, in bytes: room for a session description (issue #11: a
/// browser's offer with simulcast, or its answer to a group's offer). Anything larger is
/// refused before it is parsed; every other message is small and its fields are bounded.
pub const MAX_FRAME: usize = 32 * 1024;

/// The largest session description (SDP) accepted in a `media-offer` or `media-answer`.
pub const MAX_SDP: usize = 30 * 1024;

/// The largest end-to-end encryption field (a public key, or a key wrapped for one
/// participant), base64url. The server only relays these; it cannot read them (VC-ENC-2).
pub const MAX_E2EE_FIELD: usize = 512;

/// A message from a participant's client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientMessage {
    /// The first frame on a new socket: the invitation token (never in the socket's URL, so it
    /// stays out of logs), and whether the participant acknowledged the information about the
    /// consultation on the pre-join page (VC-INFO-1).
    Hello {
        /// The invitation token (`<org>.<secret>`).
        token: String,
        /// The information was acknowledged.
        acknowledged: bool,
        /// The resume secret this client was given when admitted, to come back within the
        /// grace period without a new admission.
        resume: Option<String>,
        /// The browser can encrypt media end to end (VC-ENC-2); where the organisation requires
        /// it, a browser that cannot is told why and not admitted.
        e2ee: bool,
        /// The organisation's enrolled device this browser holds the key of (VC-DEV-1): the
        /// server answers with a `device-challenge`, which the device signs (`device-proof`)
        /// before the participant arrives.
        device: Option<uuid::Uuid>,
    },
    /// The device's signature of the server's challenge (ECDSA P-256, base64url), the second
    /// frame of a device's join.
    DeviceProof {
        /// The signature.
        signature: String,
    },
    /// The browser's media offer (SDP), sent once admitted (issue #11).
    MediaOffer {
        /// The session description.
        sdp: String,
    },
    /// The browser's answer to the media server's offer.
    MediaAnswer {
        /// The session description.
        sdp: String,
    },
    /// The participant's microphone and camera state, shown to the others (no media is read
    /// to learn it: the browser says so).
    MediaState {
        /// Microphone on.
        audio: bool,
        /// Camera on.
        video: bool,
        /// Sharing their screen.
        screen: bool,
    },
    /// The browser's end-to-end encryption public key (ECDH P-256, base64url), relayed to the
    /// others in the room so that media keys can be agreed between browsers only (VC-ENC-2).
    E2eeIdentity {
        /// The public key.
        key: String,
    },
    /// A media key wrapped for one other participant (opaque to the server), relayed to them.
    E2eeKey {
        /// The participant it is for.
        to: ParticipantId,
        /// The wrapped key, base64url.
        payload: String,
    },
    /// Admit a waiting participant, recording how their identity was established.
    Admit {
        /// The waiting participant.
        who: ParticipantId,
        /// The identity assurance the clinician records.
        assurance: IdentityAssurance,
    },
    /// Deny a waiting participant entry, with a reason from a fixed list (never free text,
    /// which could carry health data into the log).
    Deny {
        /// The waiting participant.
        who: ParticipantId,
        /// Why ([`DENY_REASONS`]).
        reason: Option<&'static str>,
    },
    /// Lock the room.
    Lock,
    /// Unlock the room.
    Unlock,
    /// Leave the consultation.
    Leave,
    /// End the consultation for everyone (a host).
    End,
    /// A heartbeat.
    Ping,
}

/// Why a client frame was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// The frame is larger than [`MAX_FRAME`].
    #[error("frame too large ({0} bytes; at most {MAX_FRAME})")]
    TooLarge(usize),
    /// The frame is not a JSON object of the expected shape.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// The frame names another protocol version.
    #[error("unsupported protocol version {0} (this server speaks {VERSION})")]
    Version(u32),
    /// The frame's `type` is not one this server knows.
    #[error("unknown message type")]
    UnknownType,
    /// A participant id or assurance code is not valid.
    #[error("invalid field {0}")]
    InvalidField(&'static str),
}

impl ProtocolError {
    /// The stable code sent in the error frame.
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooLarge(_) => "too-large",
            Self::Malformed(_) => "malformed",
            Self::Version(_) => "version",
            Self::UnknownType => "unknown-type",
            Self::InvalidField(_) => "invalid-field",
        }
    }
}

/// The wire shape of a client frame (checked, then turned into a [`ClientMessage`]).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    v: u32,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    who: Option<String>,
    #[serde(default)]
    assurance: Option<String>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    acknowledged: Option<bool>,
    #[serde(default)]
    resume: Option<String>,
    #[serde(default)]
    e2ee: Option<bool>,
    #[serde(default)]
    sdp: Option<String>,
    #[serde(default)]
    audio: Option<bool>,
    #[serde(default)]
    video: Option<bool>,
    #[serde(default)]
    screen: Option<bool>,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    payload: Option<String>,
    #[serde(default)]
    device: Option<String>,
    #[serde(default)]
    signature: Option<String>,
}

/// Whether `t` is base64url without padding, 1 to [`MAX_E2EE_FIELD`] bytes.
fn safe_b64(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= MAX_E2EE_FIELD
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
}

/// Whether `sdp` looks like a session description and is within bounds: it starts with
/// `v=0`, is at most [`MAX_SDP`] bytes, and has no control characters but line ends.
fn plausible_sdp(sdp: &str) -> bool {
    sdp.starts_with("v=0")
        && sdp.len() <= MAX_SDP
        && sdp
            .chars()
            .all(|c| c == '\r' || c == '\n' || (!c.is_control() && c.is_ascii()))
}

/// Whether `t` is a token or secret of the safe alphabet, 1 to 128 bytes.
fn safe_token(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 128
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Parses and checks one client frame.
pub fn parse_client(frame: &str) -> Result<ClientMessage, ProtocolError> {
    if frame.len() > MAX_FRAME {
        return Err(ProtocolError::TooLarge(frame.len()));
    }
    let raw: serde_json::Value =
        serde_json::from_str(frame).map_err(|e| ProtocolError::Malformed(e.to_string()))?;
    // A field set to null is a field present: refused like any field a type does not use,
    // rather than read as absent.
    if raw
        .as_object()
        .is_some_and(|o| o.values().any(serde_json::Value::is_null))
    {
        return Err(ProtocolError::Malformed("a field is null".into()));
    }
    let wire: Wire =
        serde_json::from_value(raw).map_err(|e| ProtocolError::Malformed(e.to_string()))?;
    if wire.v != VERSION {
        return Err(ProtocolError::Version(wire.v));
    }
    let who = || {
        wire.who
            .as_deref()
            .and_then(parse_participant)
            .ok_or(ProtocolError::InvalidField("who"))
    };
    let msg = match wire.kind.as_str() {
        "admit" => ClientMessage::Admit {
            who: who()?,
            assurance: wire
                .assurance
                .as_deref()
                .and_then(IdentityAssurance::from_code)
                .ok_or(ProtocolError::InvalidField("assurance"))?,
        },
        "deny" => ClientMessage::Deny {
            who: who()?,
            reason: match wire.reason.as_deref() {
                None => None,
                Some(r) => Some(
                    DENY_REASONS
                        .iter()
                        .copied()
                        .find(|x| *x == r)
                        .ok_or(ProtocolError::InvalidField("reason"))?,
                ),
            },
        },
        "hello" => ClientMessage::Hello {
            token: wire
                .token
                .clone()
                .filter(|t| safe_token(t))
                .ok_or(ProtocolError::InvalidField("token"))?,
            acknowledged: wire.acknowledged.unwrap_or(false),
            resume: match wire.resume.clone() {
                None => None,
                Some(r) if safe_token(&r) => Some(r),
                Some(_) => return Err(ProtocolError::InvalidField("resume")),
            },
            e2ee: wire.e2ee.unwrap_or(false),
            device: match wire.device.as_deref() {
                None => None,
                Some(d) => Some(
                    uuid::Uuid::try_parse(d)
                        .ok()
                        .filter(|u| u.hyphenated().to_string() == d)
                        .ok_or(ProtocolError::InvalidField("device"))?,
                ),
            },
        },
        "device-proof" => ClientMessage::DeviceProof {
            signature: wire
                .signature
                .clone()
                .filter(|k| safe_b64(k) && k.len() <= 128)
                .ok_or(ProtocolError::InvalidField("signature"))?,
        },
        "media-offer" | "media-answer" => {
            let sdp = wire
                .sdp
                .clone()
                .filter(|s| plausible_sdp(s))
                .ok_or(ProtocolError::InvalidField("sdp"))?;
            if wire.kind == "media-offer" {
                ClientMessage::MediaOffer { sdp }
            } else {
                ClientMessage::MediaAnswer { sdp }
            }
        }
        "media-state" => ClientMessage::MediaState {
            audio: wire.audio.ok_or(ProtocolError::InvalidField("audio"))?,
            video: wire.video.ok_or(ProtocolError::InvalidField("video"))?,
            screen: wire.screen.unwrap_or(false),
        },
        "e2ee-identity" => ClientMessage::E2eeIdentity {
            key: wire
                .key
                .clone()
                .filter(|k| safe_b64(k))
                .ok_or(ProtocolError::InvalidField("key"))?,
        },
        "e2ee-key" => ClientMessage::E2eeKey {
            to: wire
                .to
                .as_deref()
                .and_then(parse_participant)
                .ok_or(ProtocolError::InvalidField("to"))?,
            payload: wire
                .payload
                .clone()
                .filter(|k| safe_b64(k))
                .ok_or(ProtocolError::InvalidField("payload"))?,
        },
        "lock" => ClientMessage::Lock,
        "unlock" => ClientMessage::Unlock,
        "leave" => ClientMessage::Leave,
        "end" => ClientMessage::End,
        "ping" => ClientMessage::Ping,
        _ => return Err(ProtocolError::UnknownType),
    };
    // Fields that belong to no message of this type are refused too.
    let takes_who = matches!(
        msg,
        ClientMessage::Admit { .. } | ClientMessage::Deny { .. }
    );
    let hello = matches!(msg, ClientMessage::Hello { .. });
    if (wire.who.is_some() && !takes_who)
        || (wire.assurance.is_some() && !matches!(msg, ClientMessage::Admit { .. }))
        || ((wire.token.is_some()
            || wire.acknowledged.is_some()
            || wire.resume.is_some()
            || wire.e2ee.is_some()
            || wire.device.is_some())
            && !hello)
        || (wire.signature.is_some() && !matches!(msg, ClientMessage::DeviceProof { .. }))
        || (wire.sdp.is_some()
            && !matches!(
                msg,
                ClientMessage::MediaOffer { .. } | ClientMessage::MediaAnswer { .. }
            ))
        || ((wire.audio.is_some() || wire.video.is_some() || wire.screen.is_some())
            && !matches!(msg, ClientMessage::MediaState { .. }))
        || (wire.key.is_some() && !matches!(msg, ClientMessage::E2eeIdentity { .. }))
        || ((wire.to.is_some() || wire.payload.is_some())
            && !matches!(msg, ClientMessage::E2eeKey { .. }))
        || (wire.reason.is_some() && !matches!(msg, ClientMessage::Deny { .. }))
    {
        return Err(ProtocolError::Malformed(
            "field not used by this type".into(),
        ));
    }
    Ok(msg)
}

/// A participant id on the wire: `p` and a number without leading zeros (`p3`).
pub fn parse_participant(s: &str) -> Option<ParticipantId> {
    let digits = s.strip_prefix('p')?;
    // One spelling per id: no sign, no leading zeros.
    let canonical = digits == "0" || !digits.starts_with('0');
    if digits.is_empty()
        || digits.len() > 10
        || !canonical
        || !digits.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    digits.parse().ok().map(ParticipantId)
}

/// A roster line on the wire.
#[derive(Debug, Serialize)]
struct WireRosterEntry<'a> {
    id: String,
    role: &'static str,
    name: &'a str,
    assurance: &'static str,
    host: bool,
}

/// A waiting participant on the wire.
#[derive(Debug, Serialize)]
struct WireWaiting<'a> {
    id: String,
    role: &'static str,
    name: &'a str,
    since: u64,
    login: Option<&'static str>,
}

/// The server's challenge to a device that said in its `hello` which enrolled device it is: a
/// fresh random nonce, signed by the device in its `device-proof` (VC-DEV-1).
pub fn device_challenge_frame(nonce: &str) -> String {
    serde_json::json!({ "v": VERSION, "type": "device-challenge", "nonce": nonce }).to_string()
}

/// The server's frame for an event, as JSON.
pub fn server_frame(event: &Event) -> String {
    let v = VERSION;
    let value = match event {
        Event::Waiting => serde_json::json!({ "v": v, "type": "waiting" }),
        Event::Admitted => serde_json::json!({ "v": v, "type": "admitted" }),
        Event::Denied => serde_json::json!({ "v": v, "type": "denied" }),
        Event::Roster(entries) => {
            let entries: Vec<WireRosterEntry<'_>> = entries.iter().map(roster_entry).collect();
            serde_json::json!({ "v": v, "type": "roster", "participants": entries })
        }
        Event::Joined(who) => {
            serde_json::json!({ "v": v, "type": "joined", "who": who.to_string() })
        }
        Event::Left(who) => serde_json::json!({ "v": v, "type": "left", "who": who.to_string() }),
        Event::WaitingRoom(waiting) => {
            let waiting: Vec<WireWaiting<'_>> = waiting
                .iter()
                .map(|w| WireWaiting {
                    id: w.id.to_string(),
                    role: w.role.code(),
                    name: &w.name,
                    since: w.since,
                    login: w.login.map(IdentityAssurance::code),
                })
                .collect();
            serde_json::json!({ "v": v, "type": "waiting-room", "waiting": waiting })
        }
        Event::Locked(locked) => serde_json::json!({ "v": v, "type": "locked", "locked": locked }),
        Event::Ended => serde_json::json!({ "v": v, "type": "ended" }),
    };
    value.to_string()
}

fn roster_entry(e: &RosterEntry) -> WireRosterEntry<'_> {
    WireRosterEntry {
        id: e.id.to_string(),
        role: e.role.code(),
        name: &e.name,
        assurance: e.assurance.code(),
        host: e.host,
    }
}

/// The server's answer to a `hello`: who the participant is in this room, their role, and the
/// consultation's kind (shown in the call: a group is flagged, VC-INFO-2).
pub fn welcome_frame(you: ParticipantId, role: Role, host: bool, kind: ConsultationKind) -> String {
    serde_json::json!({
        "v": VERSION,
        "type": "welcome",
        "you": you.to_string(),
        "role": role.code(),
        "host": host,
        "kind": kind.code(),
    })
    .to_string()
}

/// The server's error frame for a refused client frame or a refused action.
pub fn error_frame(code: &str, message: &str) -> String {
    serde_json::json!({ "v": VERSION, "type": "error", "code": code, "message": message })
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consultation::Role;

    #[test]
    fn client_messages_parse_and_bad_ones_are_refused_with_a_code() {
        assert_eq!(
            parse_client(r#"{"v":1,"type":"admit","who":"p3","assurance":"id-document-shown"}"#),
            Ok(ClientMessage::Admit {
                who: ParticipantId(3),
                assurance: IdentityAssurance::IdDocumentShown
            })
        );
        assert_eq!(
            parse_client(r#"{"v":1,"type":"end"}"#),
            Ok(ClientMessage::End)
        );
        let refused = [
            (r#"{"v":2,"type":"end"}"#, "version"),
            (r#"{"v":1,"type":"hide-me"}"#, "unknown-type"),
            (r#"{"v":1,"type":"admit","who":"p3"}"#, "invalid-field"),
            (
                r#"{"v":1,"type":"admit","who":"3","assurance":"eid-high"}"#,
                "invalid-field",
            ),
            (r#"{"v":1,"type":"end","who":"p3"}"#, "malformed"),
            (r#"{"v":1,"type":"end","hidden":true}"#, "malformed"),
            (r#"{"v":1,"type":"#, "malformed"),
            ("[]", "malformed"),
            (r#"{"v":1,"type":"hello"}"#, "invalid-field"),
            (r#"{"v":1,"type":"hello","token":""}"#, "invalid-field"),
            (r#"{"v":1,"type":"hello","token":"a b"}"#, "invalid-field"),
            (
                r#"{"v":1,"type":"hello","token":"a\u202eb"}"#,
                "invalid-field",
            ),
            (
                r#"{"v":1,"type":"hello","token":"x.y","acknowledged":"yes"}"#,
                "malformed",
            ),
            (r#"{"v":1,"type":"ping","token":"x.y"}"#, "malformed"),
            (r#"{"v":1,"type":"leave","acknowledged":true}"#, "malformed"),
            (r#"{"v":1,"type":"lock","who":null}"#, "malformed"),
            (r#"{"v":1,"type":"ping","resume":"abc"}"#, "malformed"),
            (
                r#"{"v":1,"type":"hello","token":"x.y","resume":"a b"}"#,
                "invalid-field",
            ),
        ];
        assert_eq!(
            parse_client(r#"{"v":1,"type":"hello","token":"org.abc_-9","acknowledged":true}"#),
            Ok(ClientMessage::Hello {
                token: "org.abc_-9".into(),
                acknowledged: true,
                resume: None,
                e2ee: false,
                device: None,
            })
        );
        let long = format!(r#"{{"v":1,"type":"hello","token":"{}"}}"#, "a".repeat(129));
        assert_eq!(
            parse_client(&long).map_err(|e| e.code()),
            Err("invalid-field")
        );
        for (frame, code) in refused {
            assert_eq!(
                parse_client(frame).map_err(|e| e.code()),
                Err(code),
                "{frame}"
            );
        }
        let big = format!(r#"{{"v":1,"type":"ping","x":"{}"}}"#, "a".repeat(MAX_FRAME));
        assert_eq!(parse_client(&big).map_err(|e| e.code()), Err("too-large"));
    }

    #[test]
    fn media_and_e2ee_messages_are_bounded_and_checked() {
        let sdp = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n";
        let offer = serde_json::json!({"v": 1, "type": "media-offer", "sdp": sdp}).to_string();
        assert_eq!(
            parse_client(&offer),
            Ok(ClientMessage::MediaOffer { sdp: sdp.into() })
        );
        let refused = [
            serde_json::json!({"v": 1, "type": "media-offer", "sdp": "hello"}),
            serde_json::json!({"v": 1, "type": "media-offer", "sdp": "v=0\u{0}"}),
            serde_json::json!({"v": 1, "type": "media-answer", "sdp": "v=0 ø"}),
            serde_json::json!({"v": 1, "type": "media-offer", "sdp": format!("v=0{}", "a".repeat(MAX_SDP))}),
            serde_json::json!({"v": 1, "type": "media-offer", "sdp": sdp, "key": "abc"}),
            serde_json::json!({"v": 1, "type": "media-state", "audio": true}),
            serde_json::json!({"v": 1, "type": "e2ee-identity", "key": "a+b/"}),
            serde_json::json!({"v": 1, "type": "e2ee-identity", "key": "a".repeat(MAX_E2EE_FIELD + 1)}),
            serde_json::json!({"v": 1, "type": "e2ee-key", "to": "p01", "payload": "abc"}),
            serde_json::json!({"v": 1, "type": "e2ee-key", "to": "p1"}),
            serde_json::json!({"v": 1, "type": "ping", "e2ee": true}),
        ];
        for f in refused {
            assert!(parse_client(&f.to_string()).is_err(), "{f}");
        }
        assert_eq!(
            parse_client(r#"{"v":1,"type":"e2ee-key","to":"p2","payload":"q-_0"}"#),
            Ok(ClientMessage::E2eeKey {
                to: ParticipantId(2),
                payload: "q-_0".into()
            })
        );
        assert_eq!(
            parse_client(r#"{"v":1,"type":"media-state","audio":false,"video":true}"#),
            Ok(ClientMessage::MediaState {
                audio: false,
                video: true,
                screen: false
            })
        );
        assert!(matches!(
            parse_client(r#"{"v":1,"type":"hello","token":"a.b","e2ee":true}"#),
            Ok(ClientMessage::Hello { e2ee: true, .. })
        ));
    }

    #[test]
    fn a_device_names_itself_in_hello_and_proves_itself_in_its_own_frame() {
        // VC-DEV-1: the device's id in `hello` (one spelling of a UUID), then its signature.
        let id = "0b0c2d6e-8a1f-4e0a-9a55-3b7c2f1d9e10";
        let hello = format!(r#"{{"v":1,"type":"hello","token":"a.b","device":"{id}"}}"#);
        assert!(matches!(
            parse_client(&hello),
            Ok(ClientMessage::Hello { device: Some(d), .. }) if d.to_string() == id
        ));
        assert_eq!(
            parse_client(r#"{"v":1,"type":"device-proof","signature":"q-_0"}"#),
            Ok(ClientMessage::DeviceProof {
                signature: "q-_0".into()
            })
        );
        let refused = [
            serde_json::json!({"v": 1, "type": "hello", "token": "a.b", "device": id.to_uppercase()}),
            serde_json::json!({"v": 1, "type": "hello", "token": "a.b", "device": "0b0c2d6e8a1f4e0a9a553b7c2f1d9e10"}),
            serde_json::json!({"v": 1, "type": "hello", "token": "a.b", "device": "x"}),
            serde_json::json!({"v": 1, "type": "ping", "device": id}),
            serde_json::json!({"v": 1, "type": "device-proof"}),
            serde_json::json!({"v": 1, "type": "device-proof", "signature": "a+b/"}),
            serde_json::json!({"v": 1, "type": "device-proof", "signature": "a".repeat(129)}),
            serde_json::json!({"v": 1, "type": "ping", "signature": "abc"}),
        ];
        for f in refused {
            assert!(parse_client(&f.to_string()).is_err(), "{f}");
        }
        let c: serde_json::Value =
            serde_json::from_str(&device_challenge_frame("n0nce")).unwrap_or_default();
        assert_eq!(
            (c["type"].as_str(), c["nonce"].as_str()),
            (Some("device-challenge"), Some("n0nce"))
        );
    }

    #[test]
    fn server_frames_are_versioned_json() {
        let frame = server_frame(&Event::Roster(vec![RosterEntry {
            id: ParticipantId(2),
            role: Role::Patient,
            name: "Kari".into(),
            assurance: IdentityAssurance::EidHigh,
            host: false,
        }]));
        let v: serde_json::Value = serde_json::from_str(&frame).unwrap_or_default();
        assert_eq!(v["v"], 1);
        assert_eq!(v["type"], "roster");
        assert_eq!(v["participants"][0]["id"], "p2");
        assert_eq!(v["participants"][0]["assurance"], "eid-high");
        let ended: serde_json::Value =
            serde_json::from_str(&server_frame(&Event::Ended)).unwrap_or_default();
        assert_eq!(ended["type"], "ended");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        /// Any frame, however malformed, gives a message or a typed error, never a panic.
        #[test]
        fn any_frame_is_parsed_or_refused(frame in "\\PC{0,200}") {
            let _ = parse_client(&frame);
        }

        /// Frames built from the protocol's own pieces, in any combination.
        #[test]
        fn structured_frames_are_parsed_or_refused(
            v in 0u32..3,
            kind in proptest::sample::select(vec!["admit", "deny", "lock", "unlock", "leave", "end", "ping", "hello", "x"]),
            who in proptest::option::of("p[0-9]{0,12}|[a-z]{0,4}"),
            assurance in proptest::option::of(proptest::sample::select(vec!["eid-high", "device", "nope"])),
            token in proptest::option::of("[a-z-]{1,20}\\.[A-Za-z0-9_-]{0,50}|\\PC{0,140}"),
            acknowledged in proptest::option::of(proptest::bool::ANY),
        ) {
            let mut obj = serde_json::json!({ "v": v, "type": kind });
            if let Some(w) = &who { obj["who"] = serde_json::json!(w); }
            if let Some(a) = &assurance { obj["assurance"] = serde_json::json!(a); }
            if let Some(t) = &token { obj["token"] = serde_json::json!(t); }
            if let Some(a) = acknowledged { obj["acknowledged"] = serde_json::json!(a); }
            let frame = obj.to_string();
            if let Ok(msg) = parse_client(&frame) {
                proptest::prop_assert_eq!(v, VERSION);
                match msg {
                    ClientMessage::Admit { who: id, .. } | ClientMessage::Deny { who: id, .. } => {
                        proptest::prop_assert_eq!(Some(id.to_string()), who);
                    }
                    // A token is only ever the safe alphabet, at most 128 bytes.
                    ClientMessage::Hello { token: t, acknowledged: a, .. } => {
                        proptest::prop_assert_eq!(Some(&t), token.as_ref());
                        proptest::prop_assert!(t.len() <= 128 && t.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)));
                        proptest::prop_assert_eq!(a, acknowledged.unwrap_or(false));
                    }
                    _ => proptest::prop_assert!(token.is_none() && acknowledged.is_none()),
                }
            }
        }
    }
}
