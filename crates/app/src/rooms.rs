//! The live consultation rooms (issue #10): the driver of `trygg_core::consultation::Room`, one
//! tokio task per room in progress, and the use case that lets a participant in by their
//! invitation ([`join`]). The socket (in `trygg-server`) only moves frames; everything a
//! participant may do is decided here and in the room.
//!
//! One task owns one room and handles its commands one at a time, so the room needs no lock.
//! For every input it: asks the access rule, live, when the input is an act of authority (admit,
//! deny, lock, unlock, end: `consultation-manage` with a live grant, employment not ended and the
//! organisation's minimum assurance, through [`crate::access::authorize`]; a stored role or a
//! flag in the plan is never enough); feeds the room; appends every audit record the room
//! returns (or, for a refusal, [`Input::refused`]'s record) in one unit of work, once for each
//! patient of the consultation so that each patient's access log shows who took part (VC-LOG-2,
//! PC-RIGHTS-1); and only after that commit sends the frames. If the audit cannot be written the
//! room is put back as it was and the sender is told, so nothing happens unlogged.
//!
//! Bounds: a participant's outgoing queue holds [`OUTBOX`] frames (a client that does not read
//! is disconnected, not buffered for); a room's command queue holds [`INBOX`] commands; a node
//! runs at most [`MAX_ROOMS`] rooms. A room's task ticks every [`TICK`] (grace periods) and ends
//! when the consultation ends, after storing the journal note (VC-LOG-1).

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};
use trygg_audit::{Action, AgentKind, Basis, Category, Outcome};
use trygg_core::access::Permission;
use trygg_core::consultation::{
    ConsultationKind, Effect, Event, IdentityAssurance, Input, ParticipantId, Planned, Record,
    Role, Room, RoomError, State,
};
use trygg_core::signalling::{error_frame, server_frame, welcome_frame, ClientMessage};
use trygg_core::{Operation, OrgSlug};
use trygg_store::consultations::{ConsultationRow, ParticipantRow, Person};
use trygg_store::{OrgStore, Secret};
use uuid::Uuid;

use crate::access::{authorize, Caller};
use crate::audit::{event, Actor, Did};
use crate::context::App;
use crate::error::AppError;

/// Frames waiting to be sent to one participant; a client this far behind is disconnected.
pub const OUTBOX: usize = 64;
/// Commands waiting for one room.
pub const INBOX: usize = 256;
/// The most rooms one node runs at once.
pub const MAX_ROOMS: usize = 20_000;
/// How often a room looks at the time (grace periods of dropped participants).
pub const TICK: Duration = Duration::from_secs(5);
/// Every how many ticks the rights of signed-in participants are asked again (a minute).
pub const RIGHTS_EVERY: u64 = 12;
/// A participant may offer media at most this often (each offer starts a new media session,
/// with its own DTLS key, on the media thread).
pub const OFFER_EVERY: Duration = Duration::from_secs(2);
/// Whether the organisation requires end-to-end encrypted media: its own policy, or the
/// deployment's default.
async fn e2ee_policy(app: &App, org: &OrgStore) -> Result<bool, JoinError> {
    Ok(org
        .e2ee_required()
        .await
        .map_err(unavailable)?
        .unwrap_or(app.config.e2ee_required))
}

/// The media server's name for a room.
fn media_key(key: Key) -> trygg_media::RoomKey {
    (key.0.as_u128(), key.1.as_u128())
}

fn identity_frame(who: ParticipantId, key: &str) -> String {
    serde_json::json!({
        "v": trygg_core::signalling::VERSION,
        "type": "e2ee-identity",
        "who": who.to_string(),
        "key": key,
    })
    .to_string()
}

fn state_frame(who: ParticipantId, (audio, video, screen): (bool, bool, bool)) -> String {
    serde_json::json!({
        "v": trygg_core::signalling::VERSION,
        "type": "media-state",
        "who": who.to_string(),
        "audio": audio,
        "video": video,
        "screen": screen,
    })
    .to_string()
}

/// A consultation in progress that nobody has been connected to for this long is over: it ends,
/// with its journal note, and its room stops.
pub const IDLE_END: time::Duration = time::Duration::minutes(15);

/// What the socket sends to its client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outbound {
    /// A text frame.
    Frame(String),
    /// An error frame answering something the room refused (the socket counts these toward
    /// its limit of refusals).
    Refused(String),
    /// Close the socket (after the frames before it).
    Close,
}

type Key = (Uuid, Uuid);

/// A live room as the registry knows it: its queue, and whether a host is in (`true`: in
/// progress) or people only wait (`false`: open), which the room's task keeps current.
#[derive(Clone)]
struct Live {
    tx: mpsc::Sender<Command>,
    in_progress: Arc<std::sync::atomic::AtomicBool>,
}

/// The rooms of this node.
#[derive(Clone, Default)]
pub struct Rooms {
    inner: Arc<Mutex<HashMap<Key, Live>>>,
}

impl std::fmt::Debug for Rooms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rooms")
            .field("live", &self.live_count())
            .finish()
    }
}

enum Command {
    Connect {
        row: Box<ParticipantRow>,
        caller: Option<Caller>,
        login: Option<IdentityAssurance>,
        auth: Option<(&'static str, trygg_audit::Assurance)>,
        may_admit: bool,
        resume: Option<String>,
        e2ee: bool,
        acknowledgement: Option<Actor>,
        out: mpsc::Sender<Outbound>,
        reply: oneshot::Sender<Result<u64, JoinError>>,
    },
    Client {
        who: ParticipantId,
        conn: u64,
        msg: ClientMessage,
    },
    Refused {
        who: ParticipantId,
        conn: u64,
        code: &'static str,
    },
    Disconnect {
        who: ParticipantId,
        conn: u64,
    },
    Kick {
        number: u32,
    },
    Terminate,
}

impl Rooms {
    /// No rooms.
    pub fn new() -> Self {
        Self::default()
    }

    fn get(&self, key: Key) -> Option<mpsc::Sender<Command>> {
        let map = self.inner.lock().ok()?;
        map.get(&key)
            .filter(|l| !l.tx.is_closed())
            .map(|l| l.tx.clone())
    }

    /// The live state of a consultation on this node: `None` (no live room), `open` (people
    /// wait, no host yet) or `in-progress` (a host is in).
    pub fn live_state(&self, org: Uuid, id: Uuid) -> Option<&'static str> {
        let map = self.inner.lock().ok()?;
        let l = map.get(&(org, id)).filter(|l| !l.tx.is_closed())?;
        Some(
            if l.in_progress.load(std::sync::atomic::Ordering::Relaxed) {
                "in-progress"
            } else {
                "open"
            },
        )
    }

    /// Whether the consultation has a live room on this node.
    pub fn is_live(&self, org: Uuid, id: Uuid) -> bool {
        self.get((org, id)).is_some()
    }

    /// How many rooms are live.
    pub fn live_count(&self) -> usize {
        self.inner.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// Disconnects participant `number` (their invitation was revoked or renewed).
    pub async fn kick(&self, org: Uuid, id: Uuid, number: u32) {
        if let Some(tx) = self.get((org, id)) {
            let _ = tx.send(Command::Kick { number }).await;
        }
    }

    /// Ends the room for everyone, on the organisation's word.
    pub async fn terminate(&self, org: Uuid, id: Uuid) {
        if let Some(tx) = self.get((org, id)) {
            let _ = tx.send(Command::Terminate).await;
        }
    }

    fn remove(&self, key: Key) {
        if let Ok(mut m) = self.inner.lock() {
            m.remove(&key);
        }
    }
}

/// Why a participant cannot come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JoinError {
    /// The invitation is unknown, expired, revoked or its consultation is over: one answer for
    /// all (VC-CONF-1).
    #[error("this invitation is not valid")]
    Refused,
    /// A patient or companion must acknowledge the information first (VC-INFO-1).
    #[error("the information about the consultation must be acknowledged first")]
    NotAcknowledged,
    /// The room refused the arrival (locked, already connected, denied).
    #[error("{0}")]
    Room(RoomError),
    /// The invitation is in use on another connection, and this one did not prove to be the
    /// same client (its resume secret): a leaked link cannot take an admitted person's place.
    #[error("this invitation is in use on another connection")]
    AlreadyConnected,
    /// The organisation requires end-to-end encrypted media and this browser cannot do it
    /// (VC-ENC-2).
    #[error("this browser cannot encrypt the call end to end, which this organisation requires")]
    E2eeRequired,
    /// The device this browser says it is could not prove itself: unknown, revoked, a bad
    /// signature, or a patient's home device used for someone else's invitation (VC-DEV-1).
    #[error("this device is not approved for this consultation")]
    DeviceRefused,
    /// The node is at its limit of rooms, or the room's queue is full.
    #[error("the service is busy; try again in a moment")]
    Busy,
    /// The audit log could not be written.
    #[error("the consultation cannot be reached just now")]
    Unavailable,
}

impl JoinError {
    /// The stable code for the error frame.
    pub fn code(self) -> &'static str {
        match self {
            Self::Refused => "invitation-refused",
            Self::NotAcknowledged => "acknowledge-first",
            Self::AlreadyConnected => "already-connected",
            Self::E2eeRequired => "e2ee-required",
            Self::DeviceRefused => "device-refused",
            Self::Room(e) => e.code(),
            Self::Busy => "busy",
            Self::Unavailable => "unavailable",
        }
    }
}

/// A participant's connection to their room, held by the socket.
#[derive(Debug)]
pub struct Connection {
    tx: mpsc::Sender<Command>,
    who: ParticipantId,
    conn: u64,
    /// Whether the participant is on the staff and signed in as themselves (their socket must
    /// check that the session still holds before an act of authority).
    pub signed_in: bool,
}

impl Connection {
    /// Hands a checked client frame to the room. `false` if the room's queue is full (the
    /// socket should close: a client that floods loses its connection, the room goes on).
    pub fn send(&self, msg: ClientMessage) -> bool {
        self.tx
            .try_send(Command::Client {
                who: self.who,
                conn: self.conn,
                msg,
            })
            .is_ok()
    }

    /// Tells the room that a frame from this participant was refused (`code`), so that the
    /// refusal is in the audit log.
    pub fn refused(&self, code: &'static str) -> bool {
        self.tx
            .try_send(Command::Refused {
                who: self.who,
                conn: self.conn,
                code,
            })
            .is_ok()
    }

    /// The participant's id in the room.
    pub fn participant(&self) -> ParticipantId {
        self.who
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        // The socket is gone, however it ended: the room shows the participant as gone at once.
        let tx = self.tx.clone();
        let cmd = Command::Disconnect {
            who: self.who,
            conn: self.conn,
        };
        if let Err(mpsc::error::TrySendError::Full(cmd)) = tx.try_send(cmd) {
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move {
                    let _ = tx.send(cmd).await;
                });
            }
        }
    }
}

/// What a socket gets on a successful `hello`.
#[derive(Debug)]
pub struct Joined {
    /// The handle to send the participant's frames to the room.
    pub connection: Connection,
    /// The frames for the participant.
    pub outbox: mpsc::Receiver<Outbound>,
}

/// A failure of the store or the log while letting someone in: the operator's log says which
/// (error codes and kinds, no personal data), the participant is told `unavailable`.
fn unavailable(e: impl std::fmt::Display) -> JoinError {
    tracing::warn!(event = "consultation", error = %e, "a consultation room could not be reached");
    JoinError::Unavailable
}

/// A failure to write a room's audit entries: logged for the operator; the room is put back
/// and the sender told.
fn step_unavailable(e: impl std::fmt::Display) -> StepError {
    tracing::warn!(event = "consultation", error = %e, "a consultation room's log could not be written");
    StepError::Unavailable
}

/// Who a participant is, for the audit log.
/// Who a participant is, for the audit log: a signed-in person on the staff as their session
/// says; anyone else by their invitation, with how they came (`auth`: their own portal login,
/// or an enrolled device's key) when they proved more than the link.
fn actor_of(
    row: &ParticipantRow,
    caller: Option<&Caller>,
    auth: Option<(&'static str, trygg_audit::Assurance)>,
) -> Actor {
    if let Some(c) = caller {
        return c.actor();
    }
    let (kind, id) = match row.person {
        Person::Personnel(u) => (AgentKind::Personnel, format!("personnel:{u}")),
        Person::Patient(u) if row.role == Role::Patient.code() => {
            (AgentKind::Patient, format!("patient:{u}"))
        }
        Person::Patient(u) => (AgentKind::RelatedPerson, format!("patient:{u}")),
    };
    Actor {
        kind,
        id,
        role: Some(row.role.clone()),
        authentication: Some(auth.unwrap_or(("invitation", trygg_audit::Assurance::Low))),
        address: None,
    }
}

fn millis(t: OffsetDateTime) -> u64 {
    u64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}

/// The identity assurance a login gives a participant who came signed in (a host enters with
/// it). A login below *substantial* gives none: they wait to be admitted like anyone else.
fn login_assurance(a: trygg_audit::Assurance) -> Option<IdentityAssurance> {
    match a {
        trygg_audit::Assurance::High => Some(IdentityAssurance::EidHigh),
        trygg_audit::Assurance::Substantial => Some(IdentityAssurance::EidSubstantial),
        trygg_audit::Assurance::Low => None,
    }
}

/// An invitation found by its token and usable now.
struct Found {
    org: Arc<OrgStore>,
    participant: ParticipantRow,
    consultation: ConsultationRow,
}

/// Looks an invitation up and applies the one rule for using it; every failure is
/// [`JoinError::Refused`].
async fn find(app: &App, token: &str, now: OffsetDateTime) -> Result<Found, JoinError> {
    let (slug, secret) =
        trygg_identity::invitation::parse_invitation_token(token).ok_or(JoinError::Refused)?;
    let org = app
        .store
        .org_by_slug(&slug)
        .await
        .map_err(unavailable)?
        .ok_or(JoinError::Refused)?;
    let org = app.store.org(&org).await.map_err(unavailable)?;
    // Ids, roles and times only: read outside a unit of work, so it does not wait for writes.
    let found = org
        .invitation_by_token(&Secret::from_client(secret))
        .await
        .map_err(unavailable)?;
    let state = found
        .as_ref()
        .map(|(p, c)| trygg_identity::invitation::InvitationState {
            expires_at: p.expires_at,
            revoked_at: p.revoked_at,
            consultation_over: c.state != "scheduled",
        });
    trygg_identity::invitation::check(state, now).map_err(|_| JoinError::Refused)?;
    let (participant, consultation) = found.ok_or(JoinError::Refused)?;
    Ok(Found {
        org,
        participant,
        consultation,
    })
}

/// What the pre-join page shows (VC-INFO-1..3): the organisation, the kind (a group is flagged),
/// the planned participants by role, the time, and who the invitee is.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Preview {
    /// The organisation's name.
    pub organisation: String,
    /// The organisation's slug (for its information text).
    pub org: OrgSlug,
    /// The kind.
    pub kind: String,
    /// Planned start.
    #[serde(with = "time::serde::rfc3339")]
    pub start: OffsetDateTime,
    /// Planned length.
    pub minutes: u32,
    /// The invitee's role.
    pub role: String,
    /// Whether the invitee is on the staff (they may sign in first).
    pub personnel: bool,
    /// Whether the invitee leads the consultation (a host enters at once, signed in).
    pub host: bool,
    /// The planned roles, in order (VC-INFO-3).
    pub planned: Vec<String>,
    /// The organisation's information text in the page's language (VC-INFO-1).
    pub info: String,
}

/// An entry about a consultation itself (its plan read, an acknowledgement, its end), naming
/// its patient.
fn about(c: &ConsultationRow, operation: Operation, action: Action) -> Did {
    Did::new(
        Category::Access,
        operation,
        action,
        ("Encounter", Some(c.id.to_string())),
    )
    .patient(Some(c.patient))
}

/// An entry about the consultation itself (its plan read, the information acknowledged, the
/// room started), naming its patient, committed in `tx`.
async fn log_about(
    mut tx: trygg_store::OrgTx<'_>,
    f: &Found,
    actor: &Actor,
    operation: Operation,
    action: Action,
    now: OffsetDateTime,
) -> Result<(), JoinError> {
    let did = about(&f.consultation, operation, action);
    let e = event(&f.org.organisation().slug, actor, did, now).map_err(unavailable)?;
    tx.audit(&e).await.map_err(unavailable)?;
    tx.commit().await.map_err(unavailable)
}

/// The pre-join page's facts for an invitation; opening it is an audited read of the plan
/// (VC-INFO-1). A bad token is [`JoinError::Refused`], the same for every reason.
pub async fn preview(
    app: &App,
    token: &str,
    lang: trygg_core::Lang,
    now: OffsetDateTime,
) -> Result<Preview, JoinError> {
    let f = find(app, token, now).await?;
    let mut tx = f.org.begin().await.map_err(unavailable)?;
    let rows = tx
        .participants(f.consultation.id)
        .await
        .map_err(unavailable)?;
    let actor = actor_of(&f.participant, None, None);
    let slug = f.org.organisation().slug.clone();
    log_about(
        tx,
        &f,
        &actor,
        Operation::ConsultationRead,
        Action::Read,
        now,
    )
    .await?;
    Ok(Preview {
        organisation: f.org.organisation().name.clone(),
        org: slug,
        kind: f.consultation.kind.clone(),
        start: f.consultation.starts_at,
        minutes: f.consultation.minutes,
        role: f.participant.role.clone(),
        personnel: matches!(f.participant.person, Person::Personnel(_)),
        host: f.participant.host,
        planned: rows
            .iter()
            .filter(|r| r.revoked_at.is_none())
            .map(|r| r.role.clone())
            .collect(),
        info: info_text(&f.org, lang).await,
    })
}

/// Lets a participant in by their invitation token (the socket's `hello`). `login` is the
/// socket's personnel session, if any: it counts only if it is the invited person's own (a host
/// who is signed in enters at once; anyone else waits to be admitted). A patient or companion
/// must have acknowledged the information (VC-INFO-1; logged).
#[allow(clippy::too_many_arguments)]
pub async fn join(
    app: &App,
    token: &str,
    acknowledged: bool,
    resume: Option<String>,
    e2ee: bool,
    login: Option<Caller>,
    patient_login: Option<crate::messages::PatientCaller>,
    device: Option<crate::devices::DeviceProof>,
    address: Option<IpAddr>,
    now: OffsetDateTime,
) -> Result<Joined, JoinError> {
    let f = find(app, token, now).await?;
    // VC-DEV-1, VC-AUTH-4: a browser that says it is an enrolled device proves it now, or is
    // refused (a revoked device never joins, with or without its link).
    let device_level = match &device {
        None => None,
        Some(proof) => {
            let patient = match (f.participant.person, f.participant.role.as_str()) {
                (Person::Patient(p), r) if r == Role::Patient.code() => Some(p),
                _ => None,
            };
            crate::devices::prove(&f.org, proof, patient, f.consultation.patient, address, now)
                .await
                .map_err(|_| JoinError::DeviceRefused)?;
            Some(IdentityAssurance::Device)
        }
    };
    // VC-ENC-2: where the organisation requires end-to-end encrypted media, a browser that
    // cannot do it is told why before it reaches the waiting room.
    if !e2ee && e2ee_policy(app, &f.org).await? {
        return Err(JoinError::E2eeRequired);
    }
    let is_personnel = matches!(f.participant.person, Person::Personnel(_));
    let caller = match (f.participant.person, login) {
        (Person::Personnel(p), Some(c))
            if c.personnel_id == p && c.org == f.org.organisation().slug =>
        {
            Some(c)
        }
        _ => None,
    };
    if !is_personnel && !acknowledged {
        return Err(JoinError::NotAcknowledged);
    }
    let host = f.participant.host;
    // VC-AUTH-2, issue #13: a patient or companion signed in to this organisation's portal as
    // this very person comes with their eID level (a host must still sign in as staff).
    let own_login = patient_login.filter(|pc| {
        pc.org == f.org.organisation().slug
            && f.participant.person == Person::Patient(pc.patient)
            && !host
    });
    let own_level = own_login
        .as_ref()
        .and_then(|pc| login_assurance(pc.assurance));
    let own_auth = match (&own_login, own_level, device_level) {
        (Some(pc), Some(_), _) => Some((pc.method, pc.assurance)),
        (_, _, Some(_)) => Some(("device-key", trygg_audit::Assurance::Low)),
        _ => None,
    };
    let key = (f.org.organisation().id, f.consultation.id);
    let room = match app.rooms.get(key) {
        Some(r) => r,
        None => start(app, &f, now).await?,
    };
    // VC-INFO-1: the acknowledgement goes into the log with the arrival, in its unit of work.
    let acknowledgement = (!is_personnel).then(|| {
        let mut actor = actor_of(&f.participant, None, own_auth);
        actor.address = address;
        actor
    });
    let who = ParticipantId(f.participant.number);
    let (out_tx, out_rx) = mpsc::channel(OUTBOX);
    let (reply, answer) = oneshot::channel();
    let mut caller = caller;
    if let Some(c) = caller.as_mut() {
        c.address = address.or(c.address);
    }
    // The live rights of a signed-in person (PC-ACL-1): without `consultation-join` their login
    // counts for nothing (they wait like anyone with a link); a clinician seat admits, and a
    // host enters at once, only with `consultation-manage` at the organisation's minimum
    // assurance now (a refusal is logged by `authorize`).
    let clinician = f.participant.role == Role::Clinician.code();
    let (may_join, may_manage) = match &caller {
        Some(c) => live_rights(&f, c, clinician, now).await?,
        None => (false, false),
    };
    if !may_join {
        caller = None;
    }
    // A patient's own eID, else a device, stands in for a login only for someone admitted by a
    // clinician: a host must sign in to lead.
    let login_level = caller
        .as_ref()
        .and_then(|c| login_assurance(c.assurance))
        .filter(|_| !host || may_manage)
        .or(own_level.filter(|_| caller.is_none()))
        .or(device_level.filter(|_| !host && caller.is_none()));
    let own_auth = own_auth.filter(|_| caller.is_none());
    let signed_in = caller.is_some();
    let sent = room.try_send(Command::Connect {
        row: Box::new(f.participant.clone()),
        caller,
        login: login_level,
        auth: own_auth,
        may_admit: may_manage,
        resume,
        e2ee,
        acknowledgement,
        out: out_tx,
        reply,
    });
    if sent.is_err() {
        // The room closed between the lookup and the send: it ended (its end is stored before
        // it closes), so the link is asked again and answers as an ended one does; a room that
        // is only full is busy.
        if room.is_closed() {
            find(app, token, app.now()).await?;
        }
        return Err(JoinError::Busy);
    }
    let conn = answer.await.map_err(unavailable)??;
    Ok(Joined {
        connection: Connection {
            tx: room,
            who,
            conn,
            signed_in,
        },
        outbox: out_rx,
    })
}

/// What a signed-in person may do in this consultation now: take part (`consultation-join`) and,
/// in a clinician's seat, admit (`consultation-manage`); both through [`authorize`], which also
/// asks the minimum assurance and logs a refusal.
async fn live_rights(
    f: &Found,
    c: &Caller,
    clinician: bool,
    now: OffsetDateTime,
) -> Result<(bool, bool), JoinError> {
    let p = Some(f.consultation.patient);
    let join = authorize(&f.org, c, Permission::ConsultationJoin, p, now)
        .await
        .is_ok();
    if !join || !clinician {
        return Ok((join, false));
    }
    let manage = authorize(&f.org, c, Permission::ConsultationManage, p, now)
        .await
        .is_ok();
    Ok((join, manage))
}

/// A participant row as the room plans them. Nobody may admit until the live rule says so
/// when they arrive ([`Room::set_may_admit`]).
fn planned_of(row: &ParticipantRow, name: String) -> Planned {
    Planned {
        id: ParticipantId(row.number),
        role: Role::from_code(&row.role).unwrap_or(Role::OtherPersonnel),
        name,
        host: row.host,
        may_admit: false,
    }
}

/// Whether `who` is the room's host.
fn row_host(room: &Room, who: ParticipantId) -> bool {
    room.planned().any(|p| p.id == who && p.host)
}

/// Compares two secrets in time independent of where they differ.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Starts the room of a consultation on this node (or finds the one another caller started
/// meanwhile).
async fn start(
    app: &App,
    f: &Found,
    now: OffsetDateTime,
) -> Result<mpsc::Sender<Command>, JoinError> {
    let mut tx = f.org.begin().await.map_err(unavailable)?;
    let rows = tx
        .participants(f.consultation.id)
        .await
        .map_err(unavailable)?;
    let names = crate::consultations::names(&mut tx, &rows)
        .await
        .map_err(unavailable)?;
    // Reading the names is an access to personal data; the room's start is its record.
    let room = Actor::system("room");
    log_about(tx, f, &room, Operation::ConsultationRead, Action::Read, now).await?;
    let kind =
        ConsultationKind::from_code(&f.consultation.kind).unwrap_or(ConsultationKind::OneToOne);
    let mut planned = Vec::new();
    let mut parts = BTreeMap::new();
    let mut patients = vec![f.consultation.patient];
    for (row, name) in rows.into_iter().zip(names) {
        let role = Role::from_code(&row.role).unwrap_or(Role::OtherPersonnel);
        let id = ParticipantId(row.number);
        if let (Role::Patient, Person::Patient(p)) = (role, row.person) {
            if !patients.contains(&p) {
                patients.push(p);
            }
        }
        planned.push(planned_of(&row, name));
        parts.insert(
            id,
            Part {
                row,
                caller: None,
                conn: None,
                resume: None,
                e2ee: false,
                auth: None,
            },
        );
    }
    let key = (f.org.organisation().id, f.consultation.id);
    let (tx, rx) = mpsc::channel(INBOX);
    let (media_tx, media_rx) = mpsc::channel(INBOX);
    let in_progress = Arc::new(std::sync::atomic::AtomicBool::new(false));
    {
        let mut map = app.rooms.inner.lock().map_err(unavailable)?;
        if let Some(existing) = map.get(&key).filter(|l| !l.tx.is_closed()) {
            return Ok(existing.tx.clone());
        }
        map.retain(|_, l| !l.tx.is_closed());
        if map.len() >= MAX_ROOMS {
            return Err(JoinError::Busy);
        }
        map.insert(
            key,
            Live {
                tx: tx.clone(),
                in_progress: in_progress.clone(),
            },
        );
    }
    let task = Task {
        app: app.clone(),
        org: f.org.clone(),
        consultation: f.consultation.clone(),
        patients,
        room: Room::new(kind, planned),
        parts,
        next_conn: 1,
        rx,
        key,
        dropped: Vec::new(),
        in_progress,
        deny_reason: None,
        last_connected: now,
        acknowledgement: None,
        media_tx,
        media_rx,
        media_on: BTreeMap::new(),
        last_offer: HashMap::new(),
        identities: BTreeMap::new(),
        media_states: BTreeMap::new(),
        e2ee_required: e2ee_policy(app, &f.org).await?,
        // An empty call is end to end; `media-config` tells each newcomer, `e2ee-mode` tells
        // everyone of a change.
        e2ee_mode: Some(true),
    };
    tokio::spawn(task.run());
    Ok(tx)
}

struct Part {
    row: ParticipantRow,
    caller: Option<Caller>,
    conn: Option<(u64, mpsc::Sender<Outbound>)>,
    /// The secret the client was given when last admitted: only with it does a new socket
    /// come back within the grace period, or take over a live one.
    resume: Option<String>,
    /// The participant's browser encrypts media end to end.
    e2ee: bool,
    /// How they proved who they are beyond the link, if they did: their own portal login
    /// (`idporten` at its level) or an enrolled device's key (`device-key`; VC-DEV-1).
    auth: Option<(&'static str, trygg_audit::Assurance)>,
}

struct Task {
    app: App,
    org: Arc<OrgStore>,
    consultation: ConsultationRow,
    patients: Vec<Uuid>,
    room: Room,
    parts: BTreeMap<ParticipantId, Part>,
    next_conn: u64,
    rx: mpsc::Receiver<Command>,
    key: Key,
    /// Participants whose connection was dropped while sending, for the room to learn.
    dropped: Vec<ParticipantId>,
    /// Published for listings: a host is in.
    in_progress: Arc<std::sync::atomic::AtomicBool>,
    /// The reason of the `deny` being handled, for its audit detail and the denied frame.
    deny_reason: Option<&'static str>,
    /// When someone was last seen connected (a tick's precision).
    last_connected: OffsetDateTime,
    /// The acknowledgement of the arrival being handled, logged in the arrival's unit.
    acknowledgement: Option<Actor>,
    /// Signals from the media server about this room's participants (issue #11).
    media_tx: mpsc::Sender<trygg_media::RoomSignal>,
    media_rx: mpsc::Receiver<trygg_media::RoomSignal>,
    /// Participants with a media session, and its number (signals about an earlier session
    /// of theirs are stale).
    media_on: BTreeMap<ParticipantId, u64>,
    /// When each participant last offered media.
    last_offer: HashMap<ParticipantId, std::time::Instant>,
    /// Each participant's end-to-end encryption public key, relayed to the others (VC-ENC-2).
    identities: BTreeMap<ParticipantId, String>,
    /// Each participant's microphone, camera and screen-sharing state.
    media_states: BTreeMap<ParticipantId, (bool, bool, bool)>,
    /// The organisation requires end-to-end encryption (read when the room starts).
    e2ee_required: bool,
    /// Whether the call is end-to-end encrypted, as last told to the participants.
    e2ee_mode: Option<bool>,
}

/// Why a step failed, for the sender.
enum StepError {
    Room(RoomError),
    Forbidden,
    Unavailable,
}

impl StepError {
    fn code(&self) -> &'static str {
        match self {
            Self::Room(e) => e.code(),
            Self::Forbidden => "not-allowed",
            Self::Unavailable => "unavailable",
        }
    }
}

impl Task {
    async fn run(mut self) {
        // The first tick one period on (an interval's first tick is at once, which would find
        // the room idle before its first arrival is handled).
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + TICK, TICK);
        let mut ticks: u64 = 0;
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let cmd = tokio::select! {
                c = self.rx.recv() => c,
                Some((who, session, signal)) = self.media_rx.recv() => {
                    self.media_signal(ParticipantId(who), session, signal);
                    continue;
                }
                _ = tick.tick() => {
                    let now = self.app.now();
                    let _ = self.step(Input::Tick, None, now).await;
                    ticks += 1;
                    if ticks.is_multiple_of(RIGHTS_EVERY) {
                        self.recheck_rights(now).await;
                    }
                    // Ended elsewhere (the console, another node): end here for everyone.
                    let ended = self.org.consultation_state(self.consultation.id).await;
                    if matches!(ended, Ok(Some(s)) if s != "scheduled") {
                        let _ = self.step(Input::Terminate, None, now).await;
                        break;
                    }
                    // The invitations have expired (two hours after the planned end): the
                    // consultation ends for everyone, so no room outlives its links.
                    let expiry = trygg_identity::invitation::expiry(
                        self.consultation.starts_at,
                        self.consultation.minutes,
                    );
                    if now >= expiry {
                        let _ = self.step(Input::Terminate, None, now).await;
                        break;
                    }
                    // In progress with nobody connected for IDLE_END: it is over.
                    if self.parts.values().any(|p| p.conn.is_some()) {
                        self.last_connected = now;
                    } else if self.room.state() == State::InProgress
                        && now - self.last_connected >= IDLE_END
                    {
                        let _ = self.step(Input::Terminate, None, now).await;
                        break;
                    }
                    // Revoked or renewed elsewhere: the old link's holder is disconnected.
                    if let Ok(states) = self.org.invitation_states(self.consultation.id).await {
                        for (number, invited_at, revoked) in states {
                            let Some(part) = self.parts.get_mut(&ParticipantId(number)) else {
                                continue;
                            };
                            let renewed = part.row.invited_at != invited_at;
                            part.row.invited_at = invited_at;
                            // A dropped holder too: their grace period is forfeited.
                            if revoked || renewed {
                                self.command(Command::Kick { number }).await;
                            }
                        }
                        self.flush_dropped().await;
                    }
                    self.sync_media().await;
                    if self.idle() {
                        break;
                    }
                    continue;
                }
            };
            let Some(cmd) = cmd else { break };
            self.command(cmd).await;
            self.flush_dropped().await;
            self.sync_media().await;
            if self.over() {
                break;
            }
        }
        // Out of the registry first, so that an arrival from now on starts afresh (and is
        // refused if the consultation is over) instead of waiting on this task.
        self.app.rooms.remove(self.key);
        // Arrivals that reached the queue in the meantime get an answer: over (the same
        // refusal as any spent invitation), or try again (a fresh room starts).
        self.rx.close();
        while let Ok(cmd) = self.rx.try_recv() {
            if let Command::Connect { reply, .. } = cmd {
                let e = if self.over() {
                    JoinError::Refused
                } else {
                    JoinError::Unavailable
                };
                let _ = reply.send(Err(e));
            }
        }
        // Nothing of the room's media is kept (VC-STORE-1).
        if let Some(media) = &self.app.media {
            media.end_room(media_key(self.key)).await;
        }
        // Anyone still connected (a refused arrival's socket) is closed.
        for part in self.parts.values_mut() {
            if let Some((_, out)) = part.conn.take() {
                let _ = out.try_send(Outbound::Close);
            }
        }
    }

    /// Tells the room of participants whose sockets were found gone while sending.
    async fn flush_dropped(&mut self) {
        while let Some(who) = self.dropped.pop() {
            let now = self.app.now();
            let _ = self.step(Input::Disconnect { who }, None, now).await;
        }
    }

    fn over(&self) -> bool {
        matches!(self.room.state(), State::Ended { .. } | State::Cancelled)
    }

    /// Nobody connected for a whole tick and nobody within a grace period: the task ends; the
    /// next arrival starts the room again from the plan.
    fn idle(&self) -> bool {
        self.rx.is_empty()
            && self.parts.values().all(|p| p.conn.is_none())
            && self.room.roster().is_empty()
            && self.room.planned().all(|p| {
                !matches!(
                    self.room.presence(p.id),
                    Some(
                        trygg_core::consultation::Presence::Dropped { .. }
                            | trygg_core::consultation::Presence::Waiting { .. }
                    )
                )
            })
            && !matches!(self.room.state(), State::InProgress)
    }

    fn current(&self, who: ParticipantId, conn: u64) -> bool {
        self.parts
            .get(&who)
            .and_then(|p| p.conn.as_ref())
            .is_some_and(|(c, _)| *c == conn)
    }

    fn send_to(&mut self, who: ParticipantId, frame: String) {
        self.push(who, Outbound::Frame(frame));
    }

    /// Answers a refused frame: the socket counts these toward its limit (a client that keeps
    /// asking for what it may not do is disconnected, and stops filling the log).
    fn refuse_to(&mut self, who: ParticipantId, frame: String) {
        self.push(who, Outbound::Refused(frame));
    }

    fn push(&mut self, who: ParticipantId, out: Outbound) {
        let full = match self.parts.get(&who).and_then(|p| p.conn.as_ref()) {
            Some((_, tx)) => tx.try_send(out).is_err(),
            None => false,
        };
        if full {
            // A client that does not read its frames (or whose socket is gone) is disconnected
            // rather than buffered for; the room learns it after this command.
            if let Some(p) = self.parts.get_mut(&who) {
                if let Some((_, out)) = p.conn.take() {
                    let _ = out.try_send(Outbound::Close);
                    self.dropped.push(who);
                }
            }
        }
    }

    /// A participant's socket arrives. A participant the room does not know (invited after it
    /// started) is added from their row. A socket may take over a live connection, or come back
    /// within the grace period without a new admission, only with the resume secret the client
    /// was given when admitted; anyone else with the link is refused while the connection lives,
    /// and waits to be admitted once it is gone (VC-CONF-1).
    #[allow(clippy::too_many_arguments)]
    async fn connect(
        &mut self,
        row: ParticipantRow,
        caller: Option<Caller>,
        login: Option<IdentityAssurance>,
        auth: Option<(&'static str, trygg_audit::Assurance)>,
        may_admit: bool,
        resume: Option<String>,
        out: mpsc::Sender<Outbound>,
        now: OffsetDateTime,
    ) -> Result<u64, JoinError> {
        let who = ParticipantId(row.number);
        match self.parts.get_mut(&who) {
            // The invitation as it is now (a renewed link's time), so that the tick's check
            // for renewals elsewhere does not take this connection for the old link's.
            Some(p) => p.row.invited_at = row.invited_at,
            None => self.add_participant(row).await?,
        }
        let mut proven = self
            .parts
            .get(&who)
            .and_then(|p| p.resume.as_deref())
            .zip(resume.as_deref())
            .is_some_and(|(mine, given)| same_secret(mine, given));
        // Someone who came signed in keeps their seat through the secret only while the live
        // rule still lets them take part (and a host, lead): a grant revoked while their
        // connection was down sends them to the waiting room.
        let had_login = self.parts.get(&who).is_some_and(|p| p.caller.is_some());
        let host = row_host(&self.room, who);
        if proven && had_login && (caller.is_none() || (host && login.is_none())) {
            proven = false;
        }
        let live = self.parts.get(&who).is_some_and(|p| p.conn.is_some());
        if live && !proven {
            // A leaked link's clearest sign: logged, naming the invitation.
            let r = Record {
                action: "consultation.refused",
                actor: Some(who),
                subject: Some(who),
                assurance: None,
                refused: None,
                at: millis(now),
            };
            let detail = Some("refused:already-connected".to_owned());
            let _ = self.append_with(&[r], None, detail, now).await;
            return Err(JoinError::AlreadyConnected);
        }
        let conn = self.next_conn;
        self.next_conn += 1;
        let old = self.parts.get_mut(&who).and_then(|p| {
            p.caller = caller;
            p.auth = auth;
            p.conn.replace((conn, out.clone()))
        });
        if let Some((_, old_out)) = old {
            // The same client on a new socket (proven): the old one closes.
            let _ = old_out.try_send(Outbound::Close);
            let _ = self.step(Input::Disconnect { who }, None, now).await;
        }
        if !proven {
            // Without proof, no grace: a dropped participant waits to be admitted again.
            let _ = self.step(Input::Forfeit { who }, None, now).await;
        }
        self.room.set_may_admit(who, may_admit);
        let (role, host) = self
            .room
            .planned()
            .find(|p| p.id == who)
            .map_or((Role::Patient, false), |p| (p.role, p.host));
        let _ = out.try_send(Outbound::Frame(welcome_frame(
            who,
            role,
            host,
            self.room.kind(),
        )));
        match self.step(Input::Arrive { who, login }, None, now).await {
            Ok(()) => Ok(conn),
            Err(e) => {
                if let Some(p) = self.parts.get_mut(&who) {
                    if p.conn.as_ref().is_some_and(|(c, _)| *c == conn) {
                        p.conn = None;
                    }
                }
                Err(match e {
                    StepError::Room(r) => JoinError::Room(r),
                    _ => JoinError::Unavailable,
                })
            }
        }
    }

    /// Adds a participant invited after the room started: their name is read (and the read
    /// logged) and they are planned like the others.
    async fn add_participant(&mut self, row: ParticipantRow) -> Result<(), JoinError> {
        let org = self.org.clone();
        let mut tx = org.begin().await.map_err(unavailable)?;
        let names = crate::consultations::names(&mut tx, std::slice::from_ref(&row))
            .await
            .map_err(unavailable)?;
        let name = names.into_iter().next().unwrap_or_default();
        let did = about(
            &self.consultation,
            Operation::ConsultationRead,
            Action::Read,
        );
        let e = event(
            &org.organisation().slug,
            &Actor::system("room"),
            did,
            self.app.now(),
        )
        .map_err(unavailable)?;
        tx.audit(&e).await.map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        if let (Some(Role::Patient), Person::Patient(p)) = (Role::from_code(&row.role), row.person)
        {
            if !self.patients.contains(&p) {
                self.patients.push(p);
            }
        }
        self.room.add_planned(planned_of(&row, name));
        self.parts.insert(
            ParticipantId(row.number),
            Part {
                row,
                caller: None,
                conn: None,
                resume: None,
                e2ee: false,
                auth: None,
            },
        );
        Ok(())
    }

    /// Asks the live rule again for every participant who came signed in (PC-ACL-1): one whose
    /// employment has ended or whose grant was revoked during the call is taken out of it
    /// (told `not-allowed`, disconnected, no grace), within a minute. Participants admitted by
    /// a clinician without a login of their own were vouched for and stay.
    async fn recheck_rights(&mut self, now: OffsetDateTime) {
        let signed_in: Vec<(ParticipantId, Caller)> = self
            .parts
            .iter()
            .filter(|(_, p)| p.conn.is_some())
            .filter_map(|(id, p)| p.caller.clone().map(|c| (*id, c)))
            .collect();
        let patient = Some(self.consultation.patient);
        for (who, caller) in signed_in {
            let join = authorize(
                &self.org,
                &caller,
                Permission::ConsultationJoin,
                patient,
                now,
            )
            .await
            .is_ok();
            if join {
                // The waiting room's names only to those who may admit now.
                let admits = self.room.planned().any(|p| p.id == who && p.may_admit);
                if admits {
                    let p = Permission::ConsultationManage;
                    let manage = authorize(&self.org, &caller, p, patient, now).await.is_ok();
                    self.room.set_may_admit(who, manage);
                }
                continue;
            }
            let out = self.parts.get_mut(&who).and_then(|p| {
                p.caller = None;
                p.resume = None;
                p.conn.take()
            });
            if let Some((_, out)) = out {
                let _ = out.try_send(Outbound::Frame(error_frame(
                    "not-allowed",
                    "your right to take part has ended",
                )));
                let _ = out.try_send(Outbound::Close);
                let _ = self.step(Input::Disconnect { who }, None, now).await;
                let _ = self.step(Input::Forfeit { who }, None, now).await;
            }
        }
    }

    /// Gives an admitted participant's client a fresh resume secret.
    fn issue_resume(&mut self, who: ParticipantId) {
        let secret = format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple());
        let frame = serde_json::json!({
            "v": trygg_core::signalling::VERSION,
            "type": "resume",
            "secret": secret,
        })
        .to_string();
        if let Some(p) = self.parts.get_mut(&who) {
            p.resume = Some(secret);
        }
        self.send_to(who, frame);
    }

    /// Whether a participant is in the call now: admitted and connected (the roster).
    fn in_call(&self, who: ParticipantId) -> bool {
        matches!(
            self.room.presence(who),
            Some(trygg_core::consultation::Presence::Admitted { .. })
        ) && self.parts.get(&who).is_some_and(|p| p.conn.is_some())
    }

    /// Sends a frame to everyone in the call but `except`.
    fn send_to_call(&mut self, except: ParticipantId, frame: &str) {
        let to: Vec<ParticipantId> = self
            .room
            .roster()
            .iter()
            .map(|e| e.id)
            .filter(|id| *id != except)
            .collect();
        for id in to {
            self.send_to(id, frame.to_owned());
        }
    }

    /// What a newly admitted participant's browser needs for media: the ICE servers (TURN
    /// with a time-limited credential, when configured), whether end-to-end encryption is
    /// required, and the others' encryption keys and microphone/camera states.
    fn media_welcome(&mut self, to: ParticipantId, now: OffsetDateTime) {
        let config = &self.app.config;
        let mut ice = Vec::new();
        if let (false, Some(secret)) = (config.turn_urls.is_empty(), &config.turn_secret) {
            // Valid for turn_ttl_secs, and at least until the invitations expire, so a long
            // call's relay can be refreshed (coturn checks the expiry on every refresh).
            let expiry = trygg_identity::invitation::expiry(
                self.consultation.starts_at,
                self.consultation.minutes,
            );
            let until_expiry = u64::try_from((expiry - now).whole_seconds()).unwrap_or(0);
            let turn = trygg_media::turn::TurnConfig {
                urls: config.turn_urls.clone(),
                secret: secret.clone(),
                ttl: config.turn_ttl_secs.max(until_expiry),
            };
            // An opaque label: no name or id in the TURN server's logs.
            let label = Uuid::new_v4().simple().to_string();
            let unix = u64::try_from(now.unix_timestamp()).unwrap_or(0);
            let c = trygg_media::turn::credential(&turn, unix, &label[..12]);
            ice.push(serde_json::json!({
                "urls": c.urls, "username": c.username, "credential": c.credential,
            }));
        }
        let frame = serde_json::json!({
            "v": trygg_core::signalling::VERSION,
            "type": "media-config",
            "iceServers": ice,
            "e2eeRequired": self.e2ee_required,
            "e2ee": self.e2ee_now(),
            "media": self.app.media.is_some(),
        });
        self.send_to(to, frame.to_string());
        let others: Vec<(ParticipantId, String)> = self
            .identities
            .iter()
            .filter(|(id, _)| **id != to)
            .map(|(id, k)| (*id, k.clone()))
            .collect();
        for (id, key) in others {
            self.send_to(to, identity_frame(id, &key));
        }
        let states: Vec<(ParticipantId, (bool, bool, bool))> = self
            .media_states
            .iter()
            .filter(|(id, _)| **id != to)
            .map(|(id, s)| (*id, *s))
            .collect();
        for (id, st) in states {
            self.send_to(to, state_frame(id, st));
        }
    }

    /// A media or end-to-end encryption message (issue #11): only from someone in the call,
    /// and relayed only to others in the call.
    async fn media_message(&mut self, who: ParticipantId, msg: ClientMessage, now: OffsetDateTime) {
        if !self.in_call(who) {
            self.refuse_to(who, error_frame("not-admitted", "not in the call"));
            let _ = self.refused_frame(who, "not-admitted", now).await;
            return;
        }
        let v = trygg_core::signalling::VERSION;
        match msg {
            ClientMessage::MediaOffer { sdp } => {
                let Some(media) = self.app.media.clone() else {
                    self.refuse_to(who, error_frame("no-media", "no media server"));
                    return;
                };
                let t = std::time::Instant::now();
                if self
                    .last_offer
                    .get(&who)
                    .is_some_and(|last| t.duration_since(*last) < OFFER_EVERY)
                {
                    self.refuse_to(who, error_frame("too-soon", "wait before offering again"));
                    return;
                }
                self.last_offer.insert(who, t);
                let r = media
                    .join(media_key(self.key), who.0, sdp, self.media_tx.clone())
                    .await;
                match r {
                    Ok((answer, session)) => {
                        self.media_on.insert(who, session);
                        let f = serde_json::json!({"v": v, "type": "media-answer", "sdp": answer});
                        self.send_to(who, f.to_string());
                    }
                    // A fixed message: the media server's parse error stays on the server.
                    Err(_) => self.refuse_to(
                        who,
                        error_frame("media-refused", "the media offer was refused"),
                    ),
                }
            }
            ClientMessage::MediaAnswer { sdp } => {
                let Some(media) = self.app.media.clone() else {
                    return;
                };
                if media.answer(media_key(self.key), who.0, sdp).await.is_err() {
                    self.refuse_to(
                        who,
                        error_frame("media-refused", "the media answer was refused"),
                    );
                }
            }
            ClientMessage::MediaState {
                audio,
                video,
                screen,
            } => {
                self.media_states.insert(who, (audio, video, screen));
                let f = state_frame(who, (audio, video, screen));
                self.send_to_call(who, &f);
            }
            ClientMessage::E2eeIdentity { key } => {
                self.identities.insert(who, key.clone());
                let f = identity_frame(who, &key);
                self.send_to_call(who, &f);
            }
            ClientMessage::E2eeKey { to, payload } => {
                if to == who || !self.in_call(to) {
                    self.refuse_to(who, error_frame("not-admitted", "not in the call"));
                    return;
                }
                let f = serde_json::json!({
                    "v": v, "type": "e2ee-key", "from": who.to_string(), "payload": payload,
                });
                self.send_to(to, f.to_string());
            }
            _ => {}
        }
    }

    /// A signal from the media server: a renegotiation offer for the browser, or its session
    /// closed (the browser offers again).
    fn media_signal(&mut self, who: ParticipantId, session: u64, signal: trygg_media::Signal) {
        // Only about the participant's current session: a signal about one they replaced is
        // stale (it would tell a live browser its session closed).
        if self.media_on.get(&who) != Some(&session) {
            return;
        }
        let v = trygg_core::signalling::VERSION;
        let f = match signal {
            trygg_media::Signal::Offer(sdp) => {
                serde_json::json!({"v": v, "type": "media-offer", "sdp": sdp})
            }
            trygg_media::Signal::Closed => {
                self.media_on.remove(&who);
                serde_json::json!({"v": v, "type": "media-closed"})
            }
        };
        self.send_to(who, f.to_string());
    }

    /// Whether everyone in the call encrypts end to end: then the browsers encrypt every frame;
    /// otherwise (only where the organisation allows browsers that cannot) they send it
    /// encrypted per hop only, and everyone is shown that the call is not end-to-end encrypted.
    fn e2ee_now(&self) -> bool {
        self.room
            .roster()
            .iter()
            .all(|e| self.parts.get(&e.id).is_some_and(|p| p.e2ee))
    }

    /// Keeps the media server to the roster: whoever is not in the call now (left, removed,
    /// dropped, denied, ended) has their media stopped at once, and their keys and states
    /// forgotten (VC-ENC-1, VC-CONF-1).
    async fn sync_media(&mut self) {
        let mode = self.e2ee_now();
        if self.e2ee_mode != Some(mode) {
            self.e2ee_mode = Some(mode);
            let f = serde_json::json!({
                "v": trygg_core::signalling::VERSION, "type": "e2ee-mode", "on": mode,
            })
            .to_string();
            let to: Vec<ParticipantId> = self.room.roster().iter().map(|e| e.id).collect();
            for id in to {
                self.send_to(id, f.clone());
            }
        }
        let gone: Vec<ParticipantId> = self
            .media_on
            .keys()
            .chain(self.identities.keys())
            .chain(self.media_states.keys())
            .copied()
            .filter(|id| !self.in_call(*id))
            .collect();
        for who in gone {
            self.identities.remove(&who);
            self.media_states.remove(&who);
            self.last_offer.remove(&who);
            // Always told (it is idempotent): a session the room lost track of is stopped too.
            self.media_on.remove(&who);
            if let Some(media) = &self.app.media {
                media.leave(media_key(self.key), who.0).await;
            }
        }
    }

    async fn command(&mut self, cmd: Command) {
        let now = self.app.now();
        match cmd {
            Command::Connect {
                row,
                caller,
                login,
                auth,
                may_admit,
                resume,
                e2ee,
                acknowledgement,
                out,
                reply,
            } => {
                self.acknowledgement = acknowledgement;
                let number = row.number;
                // Known before the arrival is handled, so an admission at once (a host) tells
                // the browser the call's encryption correctly.
                let before = self.parts.get_mut(&ParticipantId(number)).map(|p| {
                    let was = p.e2ee;
                    p.e2ee = e2ee;
                    was
                });
                let r = self
                    .connect(*row, caller, login, auth, may_admit, resume, out, now)
                    .await;
                // A refused arrival (a second socket on a live link) changes nothing of the
                // participant who is in the call.
                if let Some(p) = self.parts.get_mut(&ParticipantId(number)) {
                    p.e2ee = if r.is_ok() {
                        e2ee
                    } else {
                        before.unwrap_or(false)
                    };
                }
                self.acknowledgement = None;
                let _ = reply.send(r);
            }
            Command::Client { who, conn, msg } => {
                if !self.current(who, conn) {
                    return;
                }
                let input = match msg {
                    ClientMessage::Ping => {
                        self.send_to(who, serde_json::json!({"v": 1, "type": "pong"}).to_string());
                        return;
                    }
                    ClientMessage::Hello { .. } | ClientMessage::DeviceProof { .. } => {
                        self.refuse_to(who, error_frame("out-of-order", "already joined"));
                        let _ = self.refused_frame(who, "out-of-order", now).await;
                        return;
                    }
                    ClientMessage::MediaOffer { .. }
                    | ClientMessage::MediaAnswer { .. }
                    | ClientMessage::MediaState { .. }
                    | ClientMessage::E2eeIdentity { .. }
                    | ClientMessage::E2eeKey { .. } => {
                        self.media_message(who, msg, now).await;
                        return;
                    }
                    ClientMessage::Admit { who: w, assurance } => Input::Admit {
                        by: who,
                        who: w,
                        assurance,
                    },
                    ClientMessage::Deny { who: w, reason } => {
                        self.deny_reason = reason;
                        Input::Deny { by: who, who: w }
                    }
                    ClientMessage::Lock => Input::Lock { by: who },
                    ClientMessage::Unlock => Input::Unlock { by: who },
                    ClientMessage::Leave => Input::Leave { who },
                    ClientMessage::End => Input::End { by: who },
                };
                let authority = !matches!(input, Input::Leave { .. });
                let caller = if authority {
                    match self.parts.get(&who).and_then(|p| p.caller.clone()) {
                        Some(c) => Some(c),
                        None => {
                            // Not signed in as themselves: no act of authority, whatever the
                            // plan says (VC-CONF-1).
                            self.refuse_to(who, error_frame("not-allowed", "sign in to do this"));
                            let r = input.refused(RoomError::NotAllowed, millis(now));
                            let _ = self.append(&[r], None, now).await;
                            return;
                        }
                    }
                } else {
                    None
                };
                let r = self.step(input, caller.as_ref(), now).await;
                self.deny_reason = None;
                if let Err(e) = r {
                    if matches!(e, StepError::Forbidden) {
                        // The live rule refused: no more of the waiting room for them.
                        self.room.set_may_admit(who, false);
                    }
                    self.refuse_to(who, error_frame(e.code(), "refused"));
                }
            }
            Command::Refused { who, conn, code } => {
                if self.current(who, conn) {
                    let _ = self.refused_frame(who, code, now).await;
                }
            }
            Command::Disconnect { who, conn } => {
                if !self.current(who, conn) {
                    return;
                }
                if let Some(p) = self.parts.get_mut(&who) {
                    p.conn = None;
                }
                let _ = self.step(Input::Disconnect { who }, None, now).await;
            }
            Command::Kick { number } => {
                let who = ParticipantId(number);
                let out = self.parts.get_mut(&who).and_then(|p| p.conn.take());
                if let Some((_, out)) = out {
                    let _ = out.try_send(Outbound::Frame(error_frame(
                        "invitation-refused",
                        "this invitation is not valid",
                    )));
                    let _ = out.try_send(Outbound::Close);
                    let _ = self.step(Input::Disconnect { who }, None, now).await;
                }
                // Revoked or renewed: whoever comes back waits to be admitted again.
                let _ = self.step(Input::Forfeit { who }, None, now).await;
                if let Some(p) = self.parts.get_mut(&who) {
                    p.resume = None;
                }
            }
            Command::Terminate => {
                let _ = self.step(Input::Terminate, None, now).await;
            }
        }
    }

    /// Records a refused frame (VC-LOG-2: refusals leave a trace like transitions).
    async fn refused_frame(
        &mut self,
        who: ParticipantId,
        code: &'static str,
        now: OffsetDateTime,
    ) -> Result<(), StepError> {
        let r = Record {
            action: "consultation.refused",
            actor: Some(who),
            subject: Some(who),
            assurance: None,
            refused: None,
            at: millis(now),
        };
        self.append_with(&[r], None, Some(format!("refused:{code}")), now)
            .await
    }

    /// Feeds one input: asks the access rule for an act of authority (`caller` given), feeds
    /// the room, logs, and only then sends.
    async fn step(
        &mut self,
        input: Input,
        caller: Option<&Caller>,
        now: OffsetDateTime,
    ) -> Result<(), StepError> {
        let at = millis(now);
        let before = self.room.clone();
        let effects = match self.room.handle(input.clone(), at) {
            Ok(e) => e,
            Err(err) => {
                let _ = self.append(&[input.refused(err, at)], None, now).await;
                return Err(StepError::Room(err));
            }
        };
        let records: Vec<Record> = effects
            .iter()
            .filter_map(|e| match e {
                Effect::Audit(r) => Some(r.clone()),
                _ => None,
            })
            .collect();
        if let Some(c) = caller {
            // The live access rule, now (PC-ACL-1): a grant revoked or an employment ended a
            // minute ago refuses here, whatever the plan says.
            let auth = authorize(
                &self.org,
                c,
                Permission::ConsultationManage,
                Some(self.consultation.patient),
                now,
            )
            .await;
            let (mut tx, ok) = match auth {
                Ok(v) => v,
                Err(_) => {
                    self.room = before;
                    return Err(StepError::Forbidden);
                }
            };
            if self
                .write(&mut tx, &records, Some(&ok.actor), ok.basis, None, now)
                .await
                .is_err()
                || tx.commit().await.is_err()
            {
                self.room = before;
                return Err(StepError::Unavailable);
            }
        } else if self.append(&records, None, now).await.is_err() {
            self.room = before;
            return Err(StepError::Unavailable);
        }
        self.apply(effects, now).await;
        Ok(())
    }

    async fn append(
        &mut self,
        records: &[Record],
        actor: Option<&Actor>,
        now: OffsetDateTime,
    ) -> Result<(), StepError> {
        self.append_with(records, actor, None, now).await
    }

    async fn append_with(
        &mut self,
        records: &[Record],
        actor: Option<&Actor>,
        detail: Option<String>,
        now: OffsetDateTime,
    ) -> Result<(), StepError> {
        if records.is_empty() {
            return Ok(());
        }
        let org = self.org.clone();
        let mut tx = org.begin().await.map_err(step_unavailable)?;
        if let Some(a) = self.acknowledgement.take() {
            // The patient's acknowledgement of the information, with their arrival (VC-INFO-1).
            let op = Operation::ConsultationAcknowledge;
            let did = about(&self.consultation, op, Action::Execute);
            let e = event(&org.organisation().slug, &a, did, now).map_err(step_unavailable)?;
            tx.audit(&e).await.map_err(step_unavailable)?;
        }
        self.write(&mut tx, records, actor, Basis::None, detail, now)
            .await?;
        tx.commit().await.map_err(step_unavailable)
    }

    /// Writes the audit events of `records` into `tx`: one per patient of the consultation,
    /// so that each patient's access log shows who took part.
    async fn write(
        &self,
        tx: &mut trygg_store::OrgTx<'_>,
        records: &[Record],
        actor: Option<&Actor>,
        basis: Basis,
        detail: Option<String>,
        now: OffsetDateTime,
    ) -> Result<(), StepError> {
        let slug = &self.org.organisation().slug;
        for r in records {
            let op = Operation::from_code(r.action).unwrap_or(Operation::ConsultationRefused);
            let who = r
                .actor
                .and_then(|a| self.parts.get(&a))
                .map(|p| actor_of(&p.row, p.caller.as_ref(), p.auth));
            let actor = actor
                .cloned()
                .or(who)
                .unwrap_or_else(|| Actor::system("room"));
            let subject = r.subject.map_or_else(
                || self.consultation.id.to_string(),
                |s| format!("{}/{s}", self.consultation.id),
            );
            let deny = (r.action == "consultation.deny")
                .then_some(self.deny_reason)
                .flatten()
                .map(|why| format!("deny-reason:{why}"));
            let detail = detail.clone().or(deny).or_else(|| {
                r.refused
                    .map(|e| format!("refused:{}", e.code()))
                    .or_else(|| {
                        r.assurance
                            .map(|a| format!("identity-assurance:{}", a.code()))
                    })
            });
            let outcome = if r.refused.is_some() || r.action == "consultation.refused" {
                Outcome::Rejected
            } else {
                Outcome::Success
            };
            for p in &self.patients {
                let did = Did::new(
                    Category::Access,
                    op,
                    Action::Execute,
                    ("Encounter", Some(subject.clone())),
                )
                .patient(Some(*p))
                .basis(basis.clone())
                .detail(detail.clone())
                .outcome(outcome);
                let e = event(slug, &actor, did, now).map_err(step_unavailable)?;
                tx.audit(&e).await.map_err(step_unavailable)?;
            }
        }
        Ok(())
    }

    /// Sends the room's frames and closes what it closes; after the end, stores the journal.
    async fn apply(&mut self, effects: Vec<Effect>, now: OffsetDateTime) {
        for e in effects {
            match e {
                Effect::Send(to, Event::Denied) => {
                    let frame = serde_json::json!({
                        "v": trygg_core::signalling::VERSION,
                        "type": "denied",
                        "reason": self.deny_reason,
                    });
                    self.send_to(to, frame.to_string());
                }
                Effect::Send(to, Event::Admitted) => {
                    self.send_to(to, server_frame(&Event::Admitted));
                    self.issue_resume(to);
                    self.media_welcome(to, now);
                }
                Effect::Send(to, ev) => self.send_to(to, server_frame(&ev)),
                Effect::Close(to) => {
                    if let Some(p) = self.parts.get_mut(&to) {
                        if let Some((_, out)) = p.conn.take() {
                            let _ = out.try_send(Outbound::Close);
                        }
                    }
                }
                Effect::Audit(_) => {}
            }
        }
        self.in_progress.store(
            self.room.state() == State::InProgress,
            std::sync::atomic::Ordering::Relaxed,
        );
        if let State::Ended { .. } = self.room.state() {
            self.store_journal(now).await;
        }
    }

    async fn store_journal(&mut self, now: OffsetDateTime) {
        let note = self.room.journal().map(|j| {
            serde_json::json!({ "text": j.text(), "fhir": j.fhir_encounter() }).to_string()
        });
        let did = about(
            &self.consultation,
            Operation::ConsultationEnd,
            Action::Update,
        );
        let org = self.org.clone();
        let r: Result<(), AppError> = async {
            let mut tx = org.begin().await?;
            match tx
                .finish_consultation(self.consultation.id, "ended", "room", note.as_deref(), now)
                .await
            {
                // Ended elsewhere first (the console, which marks it over): the note is kept.
                Err(trygg_store::StoreError::Conflict(_)) => {
                    tx.attach_journal(self.consultation.id, note.as_deref())
                        .await?;
                }
                r => r?,
            }
            let e = event(&org.organisation().slug, &Actor::system("room"), did, now)?;
            tx.audit(&e).await?;
            tx.commit().await?;
            Ok(())
        }
        .await;
        if let Err(e) = r {
            tracing::error!(
                code = e.code,
                cause = e.log.as_deref().unwrap_or(""),
                "storing a consultation's end failed"
            );
        }
    }
}

/// Trygg's information text about video consultation, for an organisation that has not set its
/// own (VC-INFO-1): what a video consultation is, what is and is not kept, who can see what.
pub fn default_info(lang: trygg_core::Lang) -> &'static str {
    lang.pick(
        "Videokonsultasjonen er en samtale med helsepersonell over video, som en vanlig time. \
         Lyd og bilde blir ikke tatt opp eller lagret. \
         Før du slipper inn venter du på et venterom; den som leder samtalen slipper inn én og én \
         og noterer hvordan identiteten din ble bekreftet. Alle som deltar vises i deltakerlisten \
         hele tiden. Det blir ført logg over hvem som deltok og når, og helsepersonellet skriver \
         journalnotat som etter en vanlig konsultasjon. Du kan be virksomheten om å få se hvem \
         som har sett opplysningene dine. Sitt gjerne et sted der andre ikke hører samtalen.",
        "Videokonsultasjonen er ein samtale med helsepersonell over video, som ein vanleg time. \
         Lyd og bilete blir ikkje tekne opp eller lagra. \
         Før du slepp inn ventar du på eit venterom; den som leier samtalen slepp inn éin og éin \
         og noterer korleis identiteten din vart stadfesta. Alle som deltek, blir viste i \
         deltakarlista heile tida. Det blir ført logg over kven som deltok og når, og \
         helsepersonellet skriv journalnotat som etter ein vanleg konsultasjon. Du kan be \
         verksemda om å få sjå kven som har sett opplysningane dine. Sit gjerne ein stad der andre ikkje høyrer \
         samtalen.",
        "The video consultation is a conversation with health personnel over video, like an \
         ordinary appointment. Sound and picture are neither recorded nor stored. Before you are let in you wait in a waiting room; the \
         person leading the consultation lets people in one by one and notes how your identity \
         was confirmed. Everyone taking part is shown in the list of participants at all times. \
         A log is kept of who took part and when, and the health personnel write a journal note \
         as after an ordinary consultation. You can ask the organisation to see who has seen your data. \
         Please sit where others cannot overhear the conversation.",
    )
}

/// The organisation's information text in `lang`, or Trygg's (VC-INFO-1).
pub async fn info_text(org: &OrgStore, lang: trygg_core::Lang) -> String {
    match org.consultation_info(lang.tag()).await {
        Ok(Some(t)) => t,
        _ => default_info(lang).to_owned(),
    }
}
