//! Signalling load benchmark (issue #10): many consultation rooms at once on one server, over the
//! real signalling WebSocket (`GET /signalling`, `docs/signalling.md`).
//!
//! The server is the real one (`trygg_server::serve::serve` over a store in a private temporary
//! data directory, the demo organisation seeded). By default it runs in a child process (this
//! same program, started with `--serve-child`), so that its memory is measured on its own; with
//! `--in-process` it runs in this process, next to the clients, and the memory figure is then an
//! upper bound (client sockets included).
//!
//! Setup: `--rooms` host clinicians (role doctor) and `--patients-per-room` patients per room
//! (synthetic national identity numbers), one consultation per room planned at the console
//! (`trygg_app::consultations::create`, `Planner::Console`), and a *substantial* session
//! (passkey) per host. Then:
//!
//! 1. Every host opens their socket (session cookie, same-origin `Origin`) and sends `hello`; they
//!    enter at once. Then every patient sends `hello` (`acknowledged: true`) and waits. Sockets are
//!    opened at most `--concurrency` at a time (a slot is held until the socket's first answer:
//!    the host's roster, the patient's `waiting`).
//! 2. A host admits each patient as soon as a `waiting-room` frame lists them.
//!    **Join to admitted**: from the patient's `hello` to their `admitted` (the host's reaction
//!    through the server included). **Roster fan-out**: from the host's `admit` to the moment every
//!    participant admitted by then (the host, the new one, those admitted earlier) has a `roster`
//!    listing the new participant.
//! 3. Memory: the server's resident set (VmRSS) before the first socket and with every socket open
//!    and every patient admitted, divided by the participants.
//! 4. Every socket stays open `--hold-secs` (default 10 s) with a `ping` every `--ping-secs`
//!    (default 5 s; the server closes a socket silent for 45 s). Then every host sends `end`
//!    (at most `--concurrency` rooms ending at a time) and every participant must get `ended`.
//!    **End fan-out**: from the host's `end` to the last participant's `ended`, per room.
//!
//! 5. Afterwards every consultation must be stored as ended (the room stores the end and its
//!    journal note after sending `ended`).
//!
//! Every wait has a timeout; failures (refused connections, error frames, early closes, missing
//! frames, ends not stored) are counted and reported, never a panic. The last line on stdout is a
//! JSON summary (`bench/signalling/run.sh` turns it into the section "Signalling" of
//! `bench/RESULTS.md`). `--trace-room R` prints every frame of room R with its time (to stderr).
//!
//! Run: `cargo run --release --example signalling_load -p trygg -- --rooms 1000`
//! (raise the open-file limit first: `ulimit -n 20000`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};
use futures_util::{SinkExt as _, StreamExt as _};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::io::AsyncBufReadExt as _;
use tokio::sync::{mpsc, oneshot, watch, OwnedSemaphorePermit, Semaphore};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

/// The target from the issue: p99 under this many milliseconds.
const TARGET_P99_MS: f64 = 50.0;
/// Time to open a socket (TCP and the WebSocket handshake).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// Time to send one frame.
const SEND_TIMEOUT: Duration = Duration::from_secs(5);
/// Time a socket has for its first answer (host: roster; patient: waiting).
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// Time a room has, after its host's `end`, for every participant's `ended`.
const END_TIMEOUT: Duration = Duration::from_secs(15);

// ------------------------------------------------------------------------------------------------
// Arguments

#[derive(Debug, Clone)]
struct Args {
    rooms: usize,
    patients: usize,
    concurrency: usize,
    hold_secs: u64,
    ping_secs: u64,
    phase_timeout: Duration,
    in_process: bool,
    serve_child: bool,
    trace_room: Option<usize>,
}

const USAGE: &str = "signalling_load [--rooms N (1000)] [--patients-per-room K (2)] \
[--concurrency C (64)] [--hold-secs S (10)] [--ping-secs P (5)] [--phase-timeout-secs T (300)] \
[--in-process] [--trace-room R]";

fn parse_args() -> anyhow::Result<Args> {
    let mut a = Args {
        rooms: 1000,
        patients: 2,
        concurrency: 64,
        hold_secs: 10,
        ping_secs: 5,
        phase_timeout: Duration::from_secs(300),
        in_process: false,
        serve_child: false,
        trace_room: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut num = |name: &str| -> anyhow::Result<u64> {
            it.next()
                .ok_or_else(|| anyhow!("{name} needs a value"))?
                .parse::<u64>()
                .with_context(|| format!("{name} takes a whole number"))
        };
        match flag.as_str() {
            "--rooms" => a.rooms = usize::try_from(num("--rooms")?)?,
            "--patients-per-room" => a.patients = usize::try_from(num("--patients-per-room")?)?,
            "--concurrency" => a.concurrency = usize::try_from(num("--concurrency")?)?,
            "--hold-secs" => a.hold_secs = num("--hold-secs")?,
            "--ping-secs" => a.ping_secs = num("--ping-secs")?,
            "--phase-timeout-secs" => {
                a.phase_timeout = Duration::from_secs(num("--phase-timeout-secs")?);
            }
            "--trace-room" => a.trace_room = Some(usize::try_from(num("--trace-room")?)?),
            "--in-process" => a.in_process = true,
            "--serve-child" => a.serve_child = true,
            "-h" | "--help" => {
                eprintln!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other}\n{USAGE}"),
        }
    }
    if a.rooms == 0 || a.patients == 0 || a.concurrency == 0 || a.ping_secs == 0 {
        bail!("--rooms, --patients-per-room, --concurrency and --ping-secs must be at least 1");
    }
    if a.patients > 32 {
        bail!("at most 32 patients per room (the planner's limit)");
    }
    Ok(a)
}

// ------------------------------------------------------------------------------------------------
// The server and its data

/// What the clients need: the server's address and, per room, the host's cookie and every
/// participant's invitation token.
#[derive(Debug, Serialize, Deserialize)]
struct Spec {
    base: String,
    setup_secs: f64,
    rooms: Vec<RoomSpec>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct RoomSpec {
    cookie: String,
    host: String,
    patients: Vec<String>,
}

/// A running server; dropping it leaves the data directory to be deleted.
struct Server {
    spec: Spec,
    org: Arc<trygg_store::OrgStore>,
    consultations: Vec<uuid::Uuid>,
    _dir: tempfile::TempDir,
    _store: Arc<trygg_store::Store>,
}

fn app_err(e: trygg_app::AppError) -> anyhow::Error {
    anyhow!("{}: {}", e.code, e.detail)
}

fn bench_event(
    slug: &trygg_core::OrgSlug,
    operation: trygg_core::Operation,
    entity: &'static str,
    id: uuid::Uuid,
    patient: Option<uuid::Uuid>,
    now: time::OffsetDateTime,
) -> anyhow::Result<trygg_audit::AuditEvent> {
    use trygg_app::audit::{event, Actor, Did};
    let did = Did::new(
        trygg_audit::Category::Administration,
        operation,
        trygg_audit::Action::Create,
        (entity, Some(id.to_string())),
    )
    .patient(patient)
    .basis(trygg_audit::Basis::System);
    event(slug, &Actor::system("bench"), did, now).map_err(app_err)
}

/// A distinct synthetic national identity number for patient `i` (born 1900–1929, so never one
/// of the demo's).
fn national_id(i: usize, used: &mut HashSet<String>) -> anyhow::Result<trygg_core::NationalId> {
    let days = 28 * 12 * 30;
    let d = i % days;
    let day = u8::try_from(1 + d % 28)?;
    let month = u8::try_from(1 + (d / 28) % 12)?;
    let yy = u8::try_from(d / (28 * 12))?;
    let mut from = u16::try_from((i / days) * 40)?;
    while from < 500 {
        let n = trygg_core::NationalId::synthetic(day, month, yy, from)
            .ok_or_else(|| anyhow!("no synthetic number for patient {i}"))?;
        if used.insert(n.expose()) {
            return Ok(n);
        }
        from += 1;
    }
    bail!("ran out of synthetic numbers at patient {i}")
}

/// Starts the server on 127.0.0.1:0 with a private data directory and plans the rooms.
async fn start_server(args: &Args) -> anyhow::Result<Server> {
    use std::os::unix::fs::PermissionsExt as _;
    use trygg_app::consultations::{create, ConsultationIn, ParticipantIn, Planner};
    use trygg_server::config::{Config, Overrides};

    let t0 = Instant::now();
    let dir = tempfile::tempdir()?;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))?;
    let sockets = args.rooms * (1 + args.patients);
    let env = vec![(
        "TRYGG_MAX_CONNECTIONS".to_owned(),
        (sockets + 1024).to_string(),
    )];
    let config = Config::load(
        None,
        env,
        &Overrides {
            data_dir: Some(dir.path().to_owned()),
            listen: Some("127.0.0.1:0".parse()?),
        },
    )
    .map_err(|e| anyhow!("configuration: {e}"))?;
    let store = Arc::new(trygg::startup::open_store(&config).await?);
    let app = trygg::startup::app(&config, store.clone())?;
    let (tx, rx) = oneshot::channel::<std::net::SocketAddr>();
    let serving = app.clone();
    tokio::spawn(async move {
        let r = trygg_server::serve::serve(
            serving,
            Box::new(move |addr, _| {
                let _ = tx.send(addr);
            }),
        )
        .await;
        if let Err(e) = r {
            eprintln!("server stopped: {e}");
        }
    });
    let addr = tokio::time::timeout(Duration::from_secs(30), rx)
        .await
        .context("the server did not start listening")??;
    let base = format!("http://{addr}");

    let seeded = trygg::demo::seed(&store).await?;
    let org = seeded
        .orgs
        .first()
        .cloned()
        .ok_or_else(|| anyhow!("the demo seeded no organisation"))?;
    let slug = org.slug.clone();
    let h = store.org(&org).await?;
    let now = time::OffsetDateTime::now_utc();

    // Hosts: doctors (their role grants consultation-manage).
    let mut hosts = Vec::with_capacity(args.rooms);
    for chunk in (0..args.rooms).collect::<Vec<_>>().chunks(100) {
        let mut tx = h.begin().await?;
        for i in chunk {
            let p = tx
                .create_personnel(
                    &trygg_store::NewPersonnel {
                        name: trygg_core::PersonName::parse(&format!("Benk Lege {i:05}"))?,
                        email: None,
                        role: trygg_core::BuiltinRole::Doctor,
                        employment: trygg_core::Employment::Employee,
                    },
                    now,
                )
                .await?;
            tx.audit(&bench_event(
                &slug,
                trygg_core::Operation::PersonnelCreate,
                "Practitioner",
                p.id,
                None,
                now,
            )?)
            .await?;
            hosts.push(p.id);
        }
        tx.commit().await?;
    }

    // Patients.
    let n_patients = args.rooms * args.patients;
    let mut patients = Vec::with_capacity(n_patients);
    let mut used = HashSet::new();
    for chunk in (0..n_patients).collect::<Vec<_>>().chunks(100) {
        let mut tx = h.begin().await?;
        for i in chunk {
            let p = tx
                .create_patient(
                    &trygg_store::NewPatient {
                        name: trygg_core::PersonName::parse(&format!("Benk Pasient {i:05}"))?,
                        national_id: national_id(*i, &mut used)?,
                        phone: None,
                        email: None,
                    },
                    now,
                )
                .await?;
            tx.audit(&bench_event(
                &slug,
                trygg_core::Operation::PatientCreate,
                "Patient",
                p.id,
                Some(p.id),
                now,
            )?)
            .await?;
            patients.push(p.id);
        }
        tx.commit().await?;
    }

    // Consultations, planned at the console, a few at a time (their commits are grouped).
    let gate = Arc::new(Semaphore::new(16));
    let mut planning = tokio::task::JoinSet::new();
    for r in 0..args.rooms {
        let permit = gate.clone().acquire_owned().await?;
        let app = app.clone();
        let org = slug.to_string();
        let base = base.clone();
        let mine = &patients[r * args.patients..(r + 1) * args.patients];
        let input = ConsultationIn {
            patient: mine[0].to_string(),
            host: hosts[r],
            interpreter: None,
            participants: mine[1..]
                .iter()
                .map(|p| ParticipantIn {
                    role: "patient".to_owned(),
                    person: p.to_string(),
                })
                .collect(),
            start: None,
            minutes: Some(60),
            kind: None,
            notify: None,
        };
        planning.spawn(async move {
            let _permit = permit;
            let now = app.now();
            let created = create(&app, Planner::Console, &org, input, &base, now)
                .await
                .map_err(app_err)?;
            anyhow::Ok((r, created))
        });
    }
    let mut planned: Vec<Option<(String, Vec<String>)>> = vec![None; args.rooms];
    let mut consultations = vec![uuid::Uuid::nil(); args.rooms];
    while let Some(done) = planning.join_next().await {
        let (r, created) = done??;
        consultations[r] = created.id;
        let mut host = None;
        let mut others = Vec::new();
        for inv in created.invitations {
            let token = inv
                .url
                .rsplit('/')
                .next()
                .ok_or_else(|| anyhow!("an invitation link without a token"))?
                .to_owned();
            if inv.role == "clinician" {
                host = Some(token);
            } else {
                others.push(token);
            }
        }
        let host = host.ok_or_else(|| anyhow!("room {r} has no host invitation"))?;
        planned[r] = Some((host, others));
    }

    // A substantial-assurance session per host (a passkey login).
    let mut cookies = Vec::with_capacity(args.rooms);
    for chunk in hosts.chunks(100) {
        let mut tx = h.begin().await?;
        for id in chunk {
            let (_, secret) = trygg_app::sessions::open_session(
                &mut tx,
                &slug,
                *id,
                trygg_app::sessions::AuthMethod::Passkey,
                trygg_audit::Assurance::Substantial,
                None,
                time::OffsetDateTime::now_utc(),
            )
            .await
            .map_err(app_err)?;
            cookies.push(format!("trygg_session={slug}.{}", secret.expose()));
        }
        tx.commit().await?;
    }

    let rooms = planned
        .into_iter()
        .zip(cookies)
        .enumerate()
        .map(|(r, (p, cookie))| {
            let (host, patients) = p.ok_or_else(|| anyhow!("room {r} was not planned"))?;
            Ok(RoomSpec {
                cookie,
                host,
                patients,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Server {
        spec: Spec {
            base,
            setup_secs: t0.elapsed().as_secs_f64(),
            rooms,
        },
        org: h,
        consultations,
        _dir: dir,
        _store: store,
    })
}

/// How many of the benchmark's consultations are in each stored state (`scheduled`, `ended`, …).
async fn consultation_states(server: &Server) -> anyhow::Result<BTreeMap<String, usize>> {
    let mut states = BTreeMap::new();
    for id in &server.consultations {
        let state = server
            .org
            .consultation_state(*id)
            .await?
            .unwrap_or_else(|| "missing".to_owned());
        *states.entry(state).or_insert(0) += 1;
    }
    Ok(states)
}

fn print_line(line: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()?;
    Ok(())
}

/// `--serve-child`: start the server, print the spec as one JSON line, then serve until stdin
/// closes, answering a `states` line with the consultations' states (one JSON line).
async fn serve_child(args: &Args) -> anyhow::Result<()> {
    let server = start_server(args).await?;
    print_line(&serde_json::to_string(&server.spec)?)?;
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if line.trim() == "states" {
            let answer = match consultation_states(&server).await {
                Ok(s) => json!({ "states": s }),
                Err(e) => json!({ "error": e.to_string() }),
            };
            print_line(&answer.to_string())?;
        }
    }
    drop(server);
    Ok(())
}

/// The resident set size of a process, in KiB.
fn rss_kib(pid: Option<u32>) -> Option<u64> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/status"),
        None => "/proc/self/status".to_owned(),
    };
    let status = std::fs::read_to_string(path).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

// ------------------------------------------------------------------------------------------------
// The clients

/// What every client counts.
#[derive(Default)]
struct Counters {
    open: AtomicUsize,
    peak_open: AtomicUsize,
    admitted: AtomicUsize,
    pings: AtomicU64,
    pongs: AtomicU64,
    frames: Mutex<BTreeMap<String, u64>>,
    problems: Mutex<BTreeMap<String, u64>>,
    samples: Mutex<Vec<String>>,
}

impl Counters {
    fn frame(&self, kind: &str) {
        if let Ok(mut m) = self.frames.lock() {
            *m.entry(kind.to_owned()).or_default() += 1;
        }
    }

    /// A problem: counted by kind, the first few described.
    fn problem(&self, kind: &str, detail: String) {
        if let Ok(mut m) = self.problems.lock() {
            *m.entry(kind.to_owned()).or_default() += 1;
        }
        if let Ok(mut s) = self.samples.lock() {
            if s.len() < 25 {
                eprintln!("problem: {detail}");
                s.push(detail);
            }
        }
    }

    fn opened(&self) {
        let n = self.open.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak_open.fetch_max(n, Ordering::SeqCst);
    }

    fn frames(&self) -> BTreeMap<String, u64> {
        self.frames.lock().map(|m| m.clone()).unwrap_or_default()
    }

    fn problems(&self) -> BTreeMap<String, u64> {
        self.problems.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

/// One room as its clients saw it.
struct RoomState {
    parts: usize,
    data: Mutex<RoomData>,
    /// How many of its participants got `ended`.
    ended: watch::Sender<usize>,
}

struct RoomData {
    /// Each participant's id in the room (`welcome`); index 0 is the host.
    ids: Vec<Option<String>>,
    /// The host's admits, in order: whom, and when sent.
    admits: Vec<(String, Instant)>,
    /// Per participant: when a roster first listed each id.
    roster_seen: Vec<HashMap<String, Instant>>,
    /// Per participant: hello to admitted, ms.
    join_ms: Vec<Option<f64>>,
    end_sent: Option<Instant>,
    ended_at: Vec<Option<Instant>>,
}

impl RoomState {
    fn new(parts: usize) -> Self {
        Self {
            parts,
            data: Mutex::new(RoomData {
                ids: vec![None; parts],
                admits: Vec::new(),
                roster_seen: vec![HashMap::new(); parts],
                join_ms: vec![None; parts],
                end_sent: None,
                ended_at: vec![None; parts],
            }),
            ended: watch::Sender::new(0),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut RoomData) -> T) -> Option<T> {
        self.data.lock().ok().map(|mut d| f(&mut d))
    }
}

/// What the driver tells a host.
#[derive(Debug)]
enum Control {
    End,
}

/// A concurrency slot and the driver's answer, both given up at a socket's first answer.
struct Ready {
    tx: Option<oneshot::Sender<Result<(), String>>>,
    _permit: Option<OwnedSemaphorePermit>,
}

impl Ready {
    fn pending(&self) -> bool {
        self.tx.is_some()
    }

    fn done(&mut self, r: Result<(), String>) {
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(r);
        }
        self._permit = None;
    }
}

/// What every participant task shares.
#[derive(Clone)]
struct Shared {
    base: String,
    /// `--trace-room R`: every frame of room R is printed to stderr with its time.
    trace: Option<(usize, Instant)>,
    url: String,
    counters: Arc<Counters>,
    ping: Duration,
    stop: watch::Receiver<bool>,
}

struct Participant {
    room: usize,
    idx: usize,
    token: String,
    cookie: Option<String>,
    state: Arc<RoomState>,
    control: Option<mpsc::Receiver<Control>>,
}

type Sink = futures_util::stream::SplitSink<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    Message,
>;

/// Prints a line for the traced room.
fn trace(sh: &Shared, room: usize, line: impl FnOnce() -> String) {
    if let Some((r, t0)) = sh.trace {
        if r == room {
            eprintln!("{:9.3} ms  {}", ms(t0.elapsed()), line());
        }
    }
}

/// The clients' socket settings: frames are small, so small buffers (tungstenite's default read
/// buffer is 128 KiB per socket, zero-filled on every read).
fn client_config() -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
    tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(8 * 1024)
        .write_buffer_size(0)
}

async fn send(sink: &mut Sink, text: String) -> Result<(), String> {
    match tokio::time::timeout(SEND_TIMEOUT, sink.send(Message::text(text))).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!("send: {e}")),
        Err(_) => Err("send timed out".to_owned()),
    }
}

async fn next_control(c: &mut Option<mpsc::Receiver<Control>>) -> Option<Control> {
    match c {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// One participant's socket, from connect to close.
async fn participant(sh: Shared, mut p: Participant, mut ready: Ready) {
    let who = format!("room {} participant {}", p.room, p.idx);
    let c = &sh.counters;
    let mut req = match sh.url.as_str().into_client_request() {
        Ok(r) => r,
        Err(e) => {
            c.problem("request", format!("{who}: {e}"));
            return ready.done(Err("request".into()));
        }
    };
    let headers = req.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&sh.base) {
        headers.insert("origin", v);
    }
    if let Some(cookie) = &p.cookie {
        if let Ok(v) = HeaderValue::from_str(cookie) {
            headers.insert("cookie", v);
        }
    }
    let connected = tokio::time::timeout(
        CONNECT_TIMEOUT,
        tokio_tungstenite::connect_async_with_config(req, Some(client_config()), true),
    )
    .await;
    let ws = match connected {
        Ok(Ok((ws, _))) => ws,
        Ok(Err(e)) => {
            c.problem("connect-failed", format!("{who}: connect: {e}"));
            return ready.done(Err("connect".into()));
        }
        Err(_) => {
            c.problem("connect-timeout", format!("{who}: connect timed out"));
            return ready.done(Err("connect timeout".into()));
        }
    };
    c.opened();
    let (mut sink, mut stream) = ws.split();
    let hello =
        json!({"v": 1, "type": "hello", "e2ee": true, "token": p.token, "acknowledged": true});
    let t_hello = Instant::now();
    trace(&sh, p.room, || format!("{who} -> hello"));
    if let Err(e) = send(&mut sink, hello.to_string()).await {
        c.problem("send-failed", format!("{who}: hello: {e}"));
        ready.done(Err(e));
        c.open.fetch_sub(1, Ordering::SeqCst);
        return;
    }
    // Pings spread over the period, so that they do not all arrive at once.
    let seed = u64::try_from(p.room * 7 + p.idx * 3).unwrap_or(0) % 1000;
    let jitter = sh.ping.mul_f64(seed as f64 / 1000.0);
    let mut ping =
        tokio::time::interval_at(tokio::time::Instant::now() + sh.ping + jitter, sh.ping);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let ready_by = tokio::time::Instant::now() + READY_TIMEOUT;
    let mut stop = sh.stop.clone();
    let mut admits_sent: HashSet<String> = HashSet::new();
    let mut got_ended = false;
    let mut stopping = false;
    let mut close_seen = false;
    let host = p.idx == 0;
    loop {
        tokio::select! {
            msg = stream.next() => {
                let now = Instant::now();
                let text = match msg {
                    None => break,
                    Some(Err(e)) => {
                        if !got_ended {
                            c.problem("socket-error", format!("{who}: {e}"));
                        }
                        break;
                    }
                    Some(Ok(Message::Close(f))) => {
                        close_seen = true;
                        if !got_ended && !stopping {
                            c.problem(
                                "closed-by-server",
                                format!("{who}: closed by the server: {f:?}"),
                            );
                        }
                        continue;
                    }
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(_)) => continue,
                };
                let v: Value = match serde_json::from_str(text.as_str()) {
                    Ok(v) => v,
                    Err(_) => {
                        c.problem("bad-frame", format!("{who}: not JSON: {}", text.as_str()));
                        continue;
                    }
                };
                let kind = v["type"].as_str().unwrap_or("?").to_owned();
                c.frame(&kind);
                trace(&sh, p.room, || format!("{who} <- {}", text.as_str()));
                match kind.as_str() {
                    "welcome" => {
                        let you = v["you"].as_str().map(str::to_owned);
                        p.state.with(|d| d.ids[p.idx] = you);
                    }
                    "waiting" if !host => ready.done(Ok(())),
                    "admitted" if !host => {
                        let ms = now.duration_since(t_hello).as_secs_f64() * 1000.0;
                        let first = p
                            .state
                            .with(|d| d.join_ms[p.idx].replace(ms).is_none())
                            .unwrap_or(false);
                        if first {
                            c.admitted.fetch_add(1, Ordering::SeqCst);
                        }
                        ready.done(Ok(()));
                    }
                    "roster" => {
                        let ids: Vec<String> = v["participants"]
                            .as_array()
                            .map(|a| {
                                a.iter()
                                    .filter_map(|e| e["id"].as_str().map(str::to_owned))
                                    .collect()
                            })
                            .unwrap_or_default();
                        p.state.with(|d| {
                            for id in ids {
                                d.roster_seen[p.idx].entry(id).or_insert(now);
                            }
                        });
                        if host {
                            ready.done(Ok(()));
                        }
                    }
                    "waiting-room" if host => {
                        let waiting: Vec<String> = v["waiting"]
                            .as_array()
                            .map(|a| {
                                a.iter()
                                    .filter_map(|e| e["id"].as_str().map(str::to_owned))
                                    .collect()
                            })
                            .unwrap_or_default();
                        for id in waiting {
                            if !admits_sent.insert(id.clone()) {
                                continue;
                            }
                            let admit = json!({
                                "v": 1, "type": "admit", "who": id, "assurance": "known-visually"
                            });
                            let at = Instant::now();
                            p.state.with(|d| d.admits.push((id.clone(), at)));
                            trace(&sh, p.room, || format!("{who} -> admit {id}"));
                            if let Err(e) = send(&mut sink, admit.to_string()).await {
                                c.problem("send-failed", format!("{who}: admit {id}: {e}"));
                            }
                        }
                    }
                    "ended" if !got_ended => {
                        got_ended = true;
                        p.state.with(|d| d.ended_at[p.idx] = Some(now));
                        p.state.ended.send_modify(|n| *n += 1);
                    }
                    "pong" => {
                        c.pongs.fetch_add(1, Ordering::Relaxed);
                    }
                    "error" => {
                        let code = v["code"].as_str().unwrap_or("?");
                        c.problem(
                            &format!("error-frame:{code}"),
                            format!("{who}: error frame {}", text.as_str()),
                        );
                    }
                    "left" if !got_ended && !stopping => {
                        c.problem("left-frame", format!("{who}: {}", text.as_str()));
                    }
                    _ => {}
                }
            }
            _ = ping.tick() => {
                if close_seen {
                    continue;
                }
                c.pings.fetch_add(1, Ordering::Relaxed);
                if let Err(e) = send(&mut sink, json!({"v": 1, "type": "ping"}).to_string()).await {
                    if !got_ended {
                        c.problem("send-failed", format!("{who}: ping: {e}"));
                    }
                }
            }
            ctl = next_control(&mut p.control) => match ctl {
                Some(Control::End) => {
                    let at = Instant::now();
                    p.state.with(|d| d.end_sent = Some(at));
                    trace(&sh, p.room, || format!("{who} -> end"));
                    if let Err(e) = send(&mut sink, json!({"v": 1, "type": "end"}).to_string()).await {
                        c.problem("send-failed", format!("{who}: end: {e}"));
                    }
                }
                None => p.control = None,
            },
            changed = stop.changed(), if !stopping => {
                let _ = changed;
                stopping = true;
                let _ = tokio::time::timeout(SEND_TIMEOUT, sink.send(Message::Close(None))).await;
            }
            _ = tokio::time::sleep_until(ready_by), if ready.pending() => {
                let what = if host { "roster" } else { "waiting" };
                c.problem("no-first-answer", format!("{who}: no {what} within {READY_TIMEOUT:?}"));
                ready.done(Err("no first answer".into()));
            }
        }
    }
    if ready.pending() {
        c.problem(
            "closed-before-answer",
            format!("{who}: socket ended before its first answer"),
        );
        ready.done(Err("closed".into()));
    }
    c.open.fetch_sub(1, Ordering::SeqCst);
}

// ------------------------------------------------------------------------------------------------
// Statistics

#[derive(Debug, Default, Serialize)]
struct Dist {
    n: usize,
    p50: f64,
    p99: f64,
    max: f64,
}

fn dist(mut v: Vec<f64>) -> Dist {
    if v.is_empty() {
        return Dist::default();
    }
    v.sort_by(f64::total_cmp);
    let rank = |q: f64| {
        let i = (q * v.len() as f64).ceil() as usize;
        v[i.clamp(1, v.len()) - 1]
    };
    let r = |x: f64| (x * 100.0).round() / 100.0;
    Dist {
        n: v.len(),
        p50: r(rank(0.50)),
        p99: r(rank(0.99)),
        max: r(v[v.len() - 1]),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

// ------------------------------------------------------------------------------------------------
// The run

/// The server, in a child process or here.
enum Running {
    Child(
        tokio::process::Child,
        tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
    ),
    Here(Server),
}

/// The consultations' states, from the server.
async fn states(running: &mut Running) -> Value {
    match running {
        Running::Here(server) => match consultation_states(server).await {
            Ok(s) => json!(s),
            Err(e) => json!({ "error": e.to_string() }),
        },
        Running::Child(child, lines) => {
            use tokio::io::AsyncWriteExt as _;
            let Some(stdin) = child.stdin.as_mut() else {
                return json!({ "error": "no stdin" });
            };
            if stdin.write_all(b"states\n").await.is_err() || stdin.flush().await.is_err() {
                return json!({ "error": "the server process is gone" });
            }
            match tokio::time::timeout(Duration::from_secs(60), lines.next_line()).await {
                Ok(Ok(Some(line))) => serde_json::from_str::<Value>(&line)
                    .map(|v| v.get("states").cloned().unwrap_or(v))
                    .unwrap_or_else(|_| json!({ "error": line })),
                _ => json!({ "error": "no answer from the server process" }),
            }
        }
    }
}

async fn start(args: &Args) -> anyhow::Result<(Running, Spec)> {
    if args.in_process {
        let mut server = start_server(args).await?;
        let spec = std::mem::replace(
            &mut server.spec,
            Spec {
                base: String::new(),
                setup_secs: 0.0,
                rooms: Vec::new(),
            },
        );
        return Ok((Running::Here(server), spec));
    }
    let exe = std::env::current_exe()?;
    let mut child = tokio::process::Command::new(exe)
        .args([
            "--serve-child",
            "--rooms",
            &args.rooms.to_string(),
            "--patients-per-room",
            &args.patients.to_string(),
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true)
        .spawn()?;
    let out = child
        .stdout
        .take()
        .ok_or_else(|| anyhow!("no stdout from the server process"))?;
    let mut lines = tokio::io::BufReader::new(out).lines();
    let line = tokio::time::timeout(args.phase_timeout, lines.next_line())
        .await
        .context("the server process did not finish its setup in time")??
        .ok_or_else(|| anyhow!("the server process ended during setup"))?;
    let spec: Spec = serde_json::from_str(&line).context("the server process's spec")?;
    Ok((Running::Child(child, lines), spec))
}

async fn stop_server(running: Running) {
    match running {
        Running::Child(mut child, _) => {
            // Closing its stdin stops it; if it does not stop, it is killed.
            drop(child.stdin.take());
            if tokio::time::timeout(Duration::from_secs(15), child.wait())
                .await
                .is_err()
            {
                eprintln!("the server process did not stop; killing it");
                let _ = child.kill().await;
            }
        }
        Running::Here(server) => drop(server),
    }
}

/// Waits for every answer until `deadline`; returns (ok, failed).
async fn await_ready(
    rxs: Vec<oneshot::Receiver<Result<(), String>>>,
    deadline: tokio::time::Instant,
) -> (usize, usize) {
    let (mut ok, mut failed) = (0, 0);
    for rx in rxs {
        match tokio::time::timeout_at(deadline, rx).await {
            Ok(Ok(Ok(()))) => ok += 1,
            _ => failed += 1,
        }
    }
    (ok, failed)
}

async fn run(args: Args) -> anyhow::Result<Value> {
    let (mut running, spec) = start(&args).await?;
    let server_pid = match &running {
        Running::Child(c, _) => c.id(),
        Running::Here(_) => None,
    };
    let mode = if args.in_process {
        "in-process"
    } else {
        "child-process"
    };
    eprintln!(
        "server at {} ({mode}); setup of {} rooms took {:.1} s",
        spec.base,
        spec.rooms.len(),
        spec.setup_secs
    );
    let parts = 1 + args.patients;
    let sockets = spec.rooms.len() * parts;
    let server_rss_before = rss_kib(server_pid);
    let client_rss_before = rss_kib(None);

    let counters = Arc::new(Counters::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let shared = Shared {
        base: spec.base.clone(),
        trace: args.trace_room.map(|r| (r, Instant::now())),
        url: format!("{}/signalling", spec.base.replacen("http://", "ws://", 1)),
        counters: counters.clone(),
        ping: Duration::from_secs(args.ping_secs),
        stop: stop_rx,
    };
    let rooms: Vec<Arc<RoomState>> = spec
        .rooms
        .iter()
        .map(|_| Arc::new(RoomState::new(parts)))
        .collect();
    let mut tasks = tokio::task::JoinSet::new();
    let gate = Arc::new(Semaphore::new(args.concurrency));

    // 1. Hosts.
    let t_hosts = Instant::now();
    let mut controls = Vec::with_capacity(rooms.len());
    let mut answers = Vec::with_capacity(rooms.len());
    for (r, room) in spec.rooms.iter().enumerate() {
        let permit = gate.clone().acquire_owned().await?;
        let (ctl_tx, ctl_rx) = mpsc::channel(4);
        let (tx, rx) = oneshot::channel();
        controls.push(ctl_tx);
        answers.push(rx);
        tasks.spawn(participant(
            shared.clone(),
            Participant {
                room: r,
                idx: 0,
                token: room.host.clone(),
                cookie: Some(room.cookie.clone()),
                state: rooms[r].clone(),
                control: Some(ctl_rx),
            },
            Ready {
                tx: Some(tx),
                _permit: Some(permit),
            },
        ));
    }
    let (hosts_ok, hosts_failed) =
        await_ready(answers, tokio::time::Instant::now() + args.phase_timeout).await;
    let hosts_secs = t_hosts.elapsed().as_secs_f64();
    eprintln!("hosts in: {hosts_ok} ({hosts_failed} failed) in {hosts_secs:.1} s");

    // 2. Patients; their hosts admit them.
    let t_patients = Instant::now();
    let mut answers = Vec::with_capacity(rooms.len() * args.patients);
    for (r, room) in spec.rooms.iter().enumerate() {
        for (j, token) in room.patients.iter().enumerate() {
            let permit = gate.clone().acquire_owned().await?;
            let (tx, rx) = oneshot::channel();
            answers.push(rx);
            tasks.spawn(participant(
                shared.clone(),
                Participant {
                    room: r,
                    idx: j + 1,
                    token: token.clone(),
                    cookie: None,
                    state: rooms[r].clone(),
                    control: None,
                },
                Ready {
                    tx: Some(tx),
                    _permit: Some(permit),
                },
            ));
        }
    }
    let expected_patients = answers.len();
    let deadline = tokio::time::Instant::now() + args.phase_timeout;
    let (patients_ok, patients_failed) = await_ready(answers, deadline).await;
    let waiting_secs = t_patients.elapsed().as_secs_f64();
    eprintln!(
        "patients waiting or in: {patients_ok} ({patients_failed} failed) in {waiting_secs:.1} s"
    );
    while counters.admitted.load(Ordering::SeqCst) < patients_ok
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let admitted = counters.admitted.load(Ordering::SeqCst);
    let admitted_secs = t_patients.elapsed().as_secs_f64();
    eprintln!("patients admitted: {admitted}/{expected_patients} in {admitted_secs:.1} s");
    // Let the last rosters arrive, then measure.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let open_after_admission = counters.open.load(Ordering::SeqCst);
    let server_rss_full = rss_kib(server_pid);
    let client_rss_full = rss_kib(None);

    // 3. Hold, with pings.
    let pongs_before = counters.pongs.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(args.hold_secs)).await;
    let pongs_in_hold = counters.pongs.load(Ordering::SeqCst) - pongs_before;
    let open_after_hold = counters.open.load(Ordering::SeqCst);
    eprintln!(
        "held {} s: {open_after_hold} sockets open, {pongs_in_hold} pongs",
        args.hold_secs
    );

    // 4. End every room, a bounded number at a time.
    let t_end = Instant::now();
    let mut waits = tokio::task::JoinSet::new();
    for (r, ctl) in controls.iter().enumerate() {
        let permit = gate.clone().acquire_owned().await?;
        if ctl.send(Control::End).await.is_err() {
            counters.problem(
                "end-not-sent",
                format!("room {r}: the host's socket is gone"),
            );
            continue;
        }
        let mut ended = rooms[r].ended.subscribe();
        let want = rooms[r].parts;
        let c = counters.clone();
        waits.spawn(async move {
            let _permit = permit;
            let done = tokio::time::timeout(END_TIMEOUT, ended.wait_for(|n| *n >= want)).await;
            if !matches!(done, Ok(Ok(_))) {
                c.problem(
                    "ended-missing",
                    format!("room {r}: not every participant got `ended` in {END_TIMEOUT:?}"),
                );
            }
        });
    }
    while waits.join_next().await.is_some() {}
    let end_secs = t_end.elapsed().as_secs_f64();
    // The server closes every socket after `ended`.
    let closing = tokio::time::timeout(Duration::from_secs(20), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    let still_open = counters.open.load(Ordering::SeqCst);
    if closing.is_err() {
        counters.problem(
            "not-closed",
            format!("{still_open} sockets still open 20 s after the end"),
        );
        let _ = stop_tx.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        tasks.abort_all();
    }
    let server_rss_after_end = rss_kib(server_pid);
    // The room stores the end (and its journal note) after sending `ended`.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let consultation_states = states(&mut running).await;
    eprintln!("consultations by state after the end: {consultation_states}");
    let stored_ended = consultation_states["ended"].as_u64().unwrap_or(0);
    if stored_ended != rooms.len() as u64 {
        counters.problem(
            "end-not-stored",
            format!(
                "{} of {} consultations are not stored as ended: {consultation_states}",
                rooms.len() as u64 - stored_ended.min(rooms.len() as u64),
                rooms.len()
            ),
        );
    }
    stop_server(running).await;

    // Statistics.
    let mut join = Vec::new();
    let mut fanout = Vec::new();
    let mut end_fanout = Vec::new();
    let mut roster_missing = 0usize;
    let mut ended_received = 0usize;
    for room in &rooms {
        let Ok(d) = room.data.lock() else { continue };
        join.extend(d.join_ms.iter().flatten().copied());
        for (k, (id, sent)) in d.admits.iter().enumerate() {
            // Those admitted by then: the host, and the participants admitted up to this one.
            let admitted_ids: Vec<&String> = d.admits[..=k].iter().map(|(i, _)| i).collect();
            let recipients: Vec<usize> = (0..room.parts)
                .filter(|i| {
                    *i == 0
                        || d.ids[*i]
                            .as_ref()
                            .is_some_and(|you| admitted_ids.contains(&you))
                })
                .collect();
            let mut last = Some(*sent);
            for i in recipients {
                match d.roster_seen[i].get(id) {
                    Some(t) => last = last.map(|l| l.max(*t)),
                    None => last = None,
                }
            }
            match last {
                Some(t) => fanout.push(ms(t.saturating_duration_since(*sent))),
                None => roster_missing += 1,
            }
        }
        let got = d.ended_at.iter().flatten().count();
        ended_received += got;
        if let (Some(sent), true) = (d.end_sent, got == room.parts) {
            if let Some(last) = d.ended_at.iter().flatten().max() {
                end_fanout.push(ms(last.saturating_duration_since(sent)));
            }
        }
    }
    let join = dist(join);
    let fanout = dist(fanout);
    let end_fanout = dist(end_fanout);
    let participants = sockets;
    let per_participant = |before: Option<u64>, full: Option<u64>| match (before, full) {
        (Some(b), Some(f)) => Some((f.saturating_sub(b) * 1024) / participants.max(1) as u64),
        _ => None,
    };
    let problems = counters.problems();
    let all_ok = hosts_failed == 0
        && admitted == rooms.len() * args.patients
        && ended_received == sockets
        && roster_missing == 0
        && problems.is_empty();
    let within_target = join.p99 < TARGET_P99_MS && fanout.p99 < TARGET_P99_MS;
    Ok(json!({
        "bench": "signalling",
        "mode": mode,
        "rooms": rooms.len(),
        "participants_per_room": parts,
        "sockets": sockets,
        "concurrency": args.concurrency,
        "hold_secs": args.hold_secs,
        "ping_secs": args.ping_secs,
        "setup_secs": (spec.setup_secs * 10.0).round() / 10.0,
        "hosts_in": hosts_ok,
        "hosts_secs": (hosts_secs * 10.0).round() / 10.0,
        "patients_admitted": admitted,
        "patients_expected": expected_patients,
        "patients_secs": (admitted_secs * 10.0).round() / 10.0,
        "peak_open_sockets": counters.peak_open.load(Ordering::SeqCst),
        "open_after_admission": open_after_admission,
        "open_after_hold": open_after_hold,
        "join_to_admitted_ms": join,
        "roster_fanout_ms": fanout,
        "roster_missing": roster_missing,
        "end_fanout_ms": end_fanout,
        "ended_received": ended_received,
        "ended_expected": sockets,
        "end_secs": (end_secs * 10.0).round() / 10.0,
        "consultation_states_after_end": consultation_states,
        "pings_sent": counters.pings.load(Ordering::SeqCst),
        "pongs_received": counters.pongs.load(Ordering::SeqCst),
        "pongs_in_hold": pongs_in_hold,
        "server_rss_kib_before": server_rss_before,
        "server_rss_kib_full": server_rss_full,
        "server_rss_kib_after_end": server_rss_after_end,
        "server_bytes_per_participant": per_participant(server_rss_before, server_rss_full),
        "client_rss_kib_before": client_rss_before,
        "client_rss_kib_full": client_rss_full,
        "client_bytes_per_participant": per_participant(client_rss_before, client_rss_full),
        "frames": counters.frames(),
        "problems": problems,
        "problem_samples": counters.samples.lock().map(|s| s.clone()).unwrap_or_default(),
        "target_p99_ms": TARGET_P99_MS,
        "within_target": within_target,
        "all_ok": all_ok,
    }))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let args = parse_args()?;
    if args.serve_child {
        return serve_child(&args).await;
    }
    let summary = run(args).await?;
    println!("{summary}");
    Ok(())
}
