//! Media load benchmark (issue #11): Trygg's SFU and Janus VideoRoom side by side, forwarding the
//! same synthetic load over real UDP on 127.0.0.1.
//!
//! Clients are str0m sessions in RTP mode (ICE controlling, DTLS-SRTP, one UDP socket each), all
//! run by one thread ("loadgen") over epoll (mio). Every room has `--participants` clients; each
//! publishes one Opus-like audio track (`--payload` bytes per packet) and receives every other
//! participant's. A packet's payload carries the step it belongs to, its publisher and its send
//! time (nanoseconds on this process's monotonic clock), so that the receiving client, in the
//! same process, computes loss and the latency the SFU added (receive time minus send time:
//! the client's own sending and reading included, so an upper bound).
//!
//! - **Trygg**: `trygg_media::MediaServer` started in this process on 127.0.0.1 (its media thread
//!   "trygg-media", one core). A participant joins with a sendonly offer; the SFU's offers (the
//!   others' tracks) are answered as they come. Each client has a loopback address of its own
//!   (127.0.1.1, 127.0.1.2, …), as browsers have addresses of their own.
//! - Janus never gathers candidates on a loopback interface, so its clients use Janus's
//!   "local-ip" (the machine's own address: the kernel still delivers through the loopback
//!   device).
//! - **Janus**: a Janus started by `bench/media/run.sh`, over its HTTP API (`--janus-url`): one
//!   session, a room per room (`create`), a publisher handle per participant (`join` as
//!   publisher, `publish` with the client's offer) and a subscriber handle per participant
//!   (`join` as subscriber with every other feed in `streams`, `start` with the answer to
//!   Janus's offer). Events come by long poll; keepalives every 20 s. Janus needs two
//!   PeerConnections per participant where Trygg uses one; the media is the same.
//!
//! Both targets are set up first (idle clients of the other target only keep their sessions
//! alive), then the load is ramped: per step, every publisher of one target sends `rate` packets
//! per second for `--step-secs`, the targets alternating at each rate. Per step: packets sent,
//! expected (sent times the receivers of each), received, loss, forwarded packets per second
//! (received ÷ step time), the SFU's CPU over the step (Trygg: the "trygg-media" thread, from
//! `/proc/self/task/*/schedstat`; Janus: the whole process, from `/proc/<pid>/stat`), forwarded
//! packets per second per core, latency p50/p99, and this process's own CPU (the load generator,
//! the Trygg thread excluded). The machine is shared: the load generator needs about as much CPU
//! as the SFU it drives.
//!
//! The last line on stdout is a JSON summary (`bench/media/run.sh` turns it into the section
//! "Media forwarding" of `bench/RESULTS.md`); progress goes to stderr.
//!
//! Run: `cargo run --release --example media_load -p trygg-media -- --targets trygg` (Trygg
//! alone), or `bench/media/run.sh` (both).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc as std_mpsc, Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};
use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token, Waker};
use serde_json::{json, Value};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::format::Codec;
use str0m::media::{Direction, MediaKind, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{RtpPacket, RtpWrite};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc};
use tokio::sync::{mpsc, oneshot, Semaphore};
use trygg_media::{MediaServer, Signal};

/// A payload starts with this (then step, publisher, send time).
const MAGIC: u32 = 0x4d4c_4f44;
/// Bytes of the payload header.
const HEADER: usize = 20;
/// The waker's token in the load generator's poll.
const WAKER: Token = Token(usize::MAX);
/// A step counts as usable for a call when, besides losing under 1 %, its p99 latency is under
/// this (ms).
const USABLE_P99_MS: f64 = 50.0;
/// Time for one Janus request's asynchronous answer.
const JANUS_TIMEOUT: Duration = Duration::from_secs(30);

// ------------------------------------------------------------------------------------------------
// Arguments

#[derive(Debug, Clone)]
struct Args {
    targets: Vec<Target>,
    rooms: usize,
    participants: usize,
    rates: Vec<f64>,
    step_secs: f64,
    payload: usize,
    drain_ms: u64,
    janus_url: String,
    janus_pid: Option<u32>,
    clk_tck: f64,
    concurrency: usize,
    ready_secs: u64,
    stop_loss: f64,
}

const USAGE: &str = "media_load [--targets trygg,janus] [--rooms R (50)] [--participants N (4)] \
[--rates 50,100,200,400 (packets/s per publisher, one step each)] [--step-secs S (5)] \
[--payload BYTES (160)] [--drain-ms MS (500)] [--janus-url URL (http://127.0.0.1:8088/janus)] \
[--janus-pid PID] [--clk-tck HZ (100)] [--concurrency C (8, Janus rooms set up at once)] \
[--ready-secs S (30)] [--stop-loss FRACTION (0.05: a target's ramp stops after a step that lost \
more)]";

fn parse_args() -> anyhow::Result<Args> {
    let mut a = Args {
        targets: vec![Target::Trygg, Target::Janus],
        rooms: 50,
        participants: 4,
        rates: vec![50.0, 100.0, 200.0, 400.0],
        step_secs: 5.0,
        payload: 160,
        drain_ms: 500,
        janus_url: "http://127.0.0.1:8088/janus".into(),
        janus_pid: None,
        clk_tck: 100.0,
        concurrency: 8,
        ready_secs: 30,
        stop_loss: 0.05,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = |name: &str| -> anyhow::Result<String> {
            it.next().ok_or_else(|| anyhow!("{name} needs a value"))
        };
        match flag.as_str() {
            "--targets" => {
                a.targets = val("--targets")?
                    .split(',')
                    .map(|t| match t.trim() {
                        "trygg" => Ok(Target::Trygg),
                        "janus" => Ok(Target::Janus),
                        other => Err(anyhow!("unknown target {other:?}")),
                    })
                    .collect::<anyhow::Result<_>>()?;
            }
            "--rooms" => a.rooms = val("--rooms")?.parse()?,
            "--participants" => a.participants = val("--participants")?.parse()?,
            "--rates" => {
                a.rates = val("--rates")?
                    .split(',')
                    .map(|r| r.trim().parse::<f64>())
                    .collect::<Result<_, _>>()?;
            }
            "--step-secs" => a.step_secs = val("--step-secs")?.parse()?,
            "--payload" => a.payload = val("--payload")?.parse()?,
            "--drain-ms" => a.drain_ms = val("--drain-ms")?.parse()?,
            "--janus-url" => a.janus_url = val("--janus-url")?,
            "--janus-pid" => a.janus_pid = Some(val("--janus-pid")?.parse()?),
            "--clk-tck" => a.clk_tck = val("--clk-tck")?.parse()?,
            "--concurrency" => a.concurrency = val("--concurrency")?.parse()?,
            "--ready-secs" => a.ready_secs = val("--ready-secs")?.parse()?,
            "--stop-loss" => a.stop_loss = val("--stop-loss")?.parse()?,
            "-h" | "--help" => {
                eprintln!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    if a.participants < 2 || a.rooms == 0 || a.rates.is_empty() || a.targets.is_empty() {
        bail!("at least one room of two participants, one rate and one target\n{USAGE}");
    }
    a.payload = a.payload.max(HEADER);
    a.concurrency = a.concurrency.max(1);
    Ok(a)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Target {
    Trygg,
    Janus,
}

impl Target {
    fn name(self) -> &'static str {
        match self {
            Target::Trygg => "trygg",
            Target::Janus => "janus",
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Time

static EPOCH: OnceLock<Instant> = OnceLock::new();

fn epoch() -> Instant {
    *EPOCH.get_or_init(Instant::now)
}

/// Nanoseconds since the process's epoch.
fn nanos(t: Instant) -> u64 {
    u64::try_from(t.saturating_duration_since(epoch()).as_nanos()).unwrap_or(u64::MAX)
}

// ------------------------------------------------------------------------------------------------
// The clients (str0m in RTP mode), run by the load generator thread

struct Client {
    rtc: Rtc,
    socket: UdpSocket,
    local: SocketAddr,
    /// The mid this client publishes on, if it publishes.
    send: Option<Mid>,
    pt: Option<Pt>,
    /// The publisher number written in its packets.
    pub_id: u32,
    seq: u64,
    timeout: Instant,
    connected: bool,
    dead: bool,
    /// Publishers this client has received from.
    seen: Vec<u32>,
}

/// A client session: RTP mode, Opus only (the SFUs forward what they get; nothing is decoded).
fn new_rtc(ip: IpAddr) -> anyhow::Result<(Rtc, std::net::UdpSocket, SocketAddr)> {
    let socket =
        std::net::UdpSocket::bind(SocketAddr::new(ip, 0)).context("bind a client socket")?;
    socket.set_nonblocking(true)?;
    let local = socket.local_addr()?;
    let mut rtc = Rtc::builder()
        .set_rtp_mode(true)
        .clear_codecs()
        .enable_opus(true, false)
        .build(Instant::now());
    rtc.add_local_candidate(Candidate::host(local, "udp").map_err(|e| anyhow!("{e}"))?);
    Ok((rtc, socket, local))
}

fn client(
    rtc: Rtc,
    socket: std::net::UdpSocket,
    local: SocketAddr,
    send: Option<Mid>,
    pub_id: u32,
) -> Box<Client> {
    Box::new(Client {
        rtc,
        socket: UdpSocket::from_std(socket),
        local,
        send,
        pt: None,
        pub_id,
        seq: 1,
        timeout: Instant::now(),
        connected: false,
        dead: false,
        seen: Vec::new(),
    })
}

/// A publishing client and its offer (one sendonly audio m-line).
type Publisher = (
    Rtc,
    std::net::UdpSocket,
    SocketAddr,
    Mid,
    SdpOffer,
    SdpPendingOffer,
);

fn publisher(pub_id: u32, ip: IpAddr) -> anyhow::Result<Publisher> {
    let (mut rtc, socket, local) = new_rtc(ip)?;
    let mut api = rtc.sdp_api();
    let mid = api.add_media(
        MediaKind::Audio,
        Direction::SendOnly,
        Some(format!("s{pub_id}")),
        Some(format!("a{pub_id}")),
        None,
    );
    let (offer, pending) = api.apply().ok_or_else(|| anyhow!("no offer to make"))?;
    Ok((rtc, socket, local, mid, offer, pending))
}

enum Cmd {
    Add {
        id: usize,
        client: Box<Client>,
    },
    AcceptOffer {
        id: usize,
        sdp: String,
        reply: oneshot::Sender<anyhow::Result<String>>,
    },
    Status {
        ids: Vec<usize>,
        reply: oneshot::Sender<Vec<(bool, usize, bool)>>,
    },
    Send {
        step: u32,
        pubs: Vec<usize>,
        rate: f64,
        secs: f64,
        reply: oneshot::Sender<u64>,
    },
    Collect {
        reply: oneshot::Sender<Collected>,
    },
}

/// What the receivers got of one step.
#[derive(Debug, Default)]
struct Collected {
    received: u64,
    /// Packets of earlier steps that arrived during this one.
    stale: u64,
    latency_ns: Vec<u32>,
}

/// The control side's handle to the load generator thread.
#[derive(Clone)]
struct LoadGen {
    tx: std_mpsc::Sender<Cmd>,
    waker: Arc<Waker>,
    next: Arc<AtomicUsize>,
}

impl LoadGen {
    fn start(payload: usize) -> anyhow::Result<Self> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let (tx, rx) = std_mpsc::channel();
        std::thread::Builder::new()
            .name("loadgen".into())
            .spawn(move || Gen::new(poll, rx, payload).run())?;
        Ok(Self {
            tx,
            waker,
            next: Arc::new(AtomicUsize::new(0)),
        })
    }

    fn alloc(&self) -> usize {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    fn cmd(&self, c: Cmd) -> anyhow::Result<()> {
        self.tx
            .send(c)
            .map_err(|_| anyhow!("the load generator stopped"))?;
        self.waker.wake()?;
        Ok(())
    }

    fn add(&self, id: usize, client: Box<Client>) -> anyhow::Result<()> {
        self.cmd(Cmd::Add { id, client })
    }

    async fn accept_offer(&self, id: usize, sdp: String) -> anyhow::Result<String> {
        let (reply, rx) = oneshot::channel();
        self.cmd(Cmd::AcceptOffer { id, sdp, reply })?;
        rx.await?
    }

    async fn status(&self, ids: Vec<usize>) -> anyhow::Result<Vec<(bool, usize, bool)>> {
        let (reply, rx) = oneshot::channel();
        self.cmd(Cmd::Status { ids, reply })?;
        Ok(rx.await?)
    }

    async fn send(&self, step: u32, pubs: Vec<usize>, rate: f64, secs: f64) -> anyhow::Result<u64> {
        let (reply, rx) = oneshot::channel();
        self.cmd(Cmd::Send {
            step,
            pubs,
            rate,
            secs,
            reply,
        })?;
        Ok(rx.await?)
    }

    async fn collect(&self) -> anyhow::Result<Collected> {
        let (reply, rx) = oneshot::channel();
        self.cmd(Cmd::Collect { reply })?;
        Ok(rx.await?)
    }
}

struct Sending {
    step: u32,
    period: Duration,
    until: Instant,
    heap: BinaryHeap<Reverse<(Instant, usize)>>,
    sent: u64,
    reply: Option<oneshot::Sender<u64>>,
}

/// What the receivers count (for the step being measured).
#[derive(Default)]
struct Rec {
    step: u32,
    c: Collected,
}

impl Rec {
    fn record(&mut self, seen: &mut Vec<u32>, p: &RtpPacket) {
        let b = &p.payload;
        if b.len() < HEADER {
            return;
        }
        let word = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        if word(0) != MAGIC {
            return;
        }
        let (step, publisher) = (word(4), word(8));
        let mut sent = [0u8; 8];
        sent.copy_from_slice(&b[12..20]);
        let sent = u64::from_le_bytes(sent);
        if !seen.contains(&publisher) {
            seen.push(publisher);
        }
        if step == 0 {
            return; // warm-up
        }
        if step == self.step {
            self.c.received += 1;
            let lat = nanos(p.timestamp).saturating_sub(sent);
            self.c
                .latency_ns
                .push(u32::try_from(lat).unwrap_or(u32::MAX));
        } else {
            self.c.stale += 1;
        }
    }
}

/// Where an answer to an offer goes.
type AnswerTx = oneshot::Sender<anyhow::Result<String>>;

struct Gen {
    poll: Poll,
    rx: std_mpsc::Receiver<Cmd>,
    clients: Vec<Option<Box<Client>>>,
    stash: HashMap<usize, Vec<(String, AnswerTx)>>,
    sending: Option<Sending>,
    rec: Rec,
    payload: usize,
    next_scan: Instant,
}

/// Drives a client until it waits for time: datagrams out, packets counted.
fn drive(c: &mut Client, rec: &mut Rec) -> Instant {
    loop {
        match c.rtc.poll_output() {
            Ok(Output::Timeout(t)) => {
                c.timeout = t;
                return t;
            }
            Ok(Output::Transmit(t)) => {
                // UDP on loopback: a full buffer drops, as the network would.
                let _ = c.socket.send_to(&t.contents, t.destination);
            }
            Ok(Output::Event(e)) => match e {
                Event::RtpPacket(p) => rec.record(&mut c.seen, &p),
                Event::Connected => c.connected = true,
                Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                    c.dead = true;
                }
                _ => {}
            },
            Err(_) => {
                c.dead = true;
                c.timeout = Instant::now() + Duration::from_secs(3600);
                return c.timeout;
            }
        }
    }
}

impl Gen {
    fn new(poll: Poll, rx: std_mpsc::Receiver<Cmd>, payload: usize) -> Self {
        Self {
            poll,
            rx,
            clients: Vec::new(),
            stash: HashMap::new(),
            sending: None,
            rec: Rec::default(),
            payload,
            next_scan: Instant::now(),
        }
    }

    fn run(mut self) {
        let mut events = Events::with_capacity(1024);
        let mut buf = vec![0u8; 2048];
        loop {
            loop {
                match self.rx.try_recv() {
                    Ok(c) => self.command(c),
                    Err(std_mpsc::TryRecvError::Empty) => break,
                    Err(std_mpsc::TryRecvError::Disconnected) => return,
                }
            }
            let now = Instant::now();
            self.send_due(now);
            self.timeouts(now);
            let mut wake = self.next_scan.min(now + Duration::from_millis(100));
            if let Some(Reverse((at, _))) = self.sending.as_ref().and_then(|s| s.heap.peek()) {
                wake = wake.min(*at);
            }
            let wait = wake.saturating_duration_since(Instant::now());
            if self.poll.poll(&mut events, Some(wait)).is_err() {
                continue;
            }
            for ev in events.iter() {
                if ev.token() != WAKER {
                    self.readable(ev.token().0, &mut buf);
                }
            }
        }
    }

    fn command(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Add { id, mut client } => {
                if self
                    .poll
                    .registry()
                    .register(&mut client.socket, Token(id), Interest::READABLE)
                    .is_err()
                {
                    client.dead = true;
                }
                let t = drive(&mut client, &mut self.rec);
                self.next_scan = self.next_scan.min(t);
                if self.clients.len() <= id {
                    self.clients.resize_with(id + 1, || None);
                }
                self.clients[id] = Some(client);
                for (sdp, reply) in self.stash.remove(&id).unwrap_or_default() {
                    let _ = reply.send(self.accept(id, &sdp));
                }
            }
            Cmd::AcceptOffer { id, sdp, reply } => {
                if self.clients.get(id).is_some_and(Option::is_some) {
                    let _ = reply.send(self.accept(id, &sdp));
                } else {
                    // The SFU's offer can overtake the client's hand-over.
                    self.stash.entry(id).or_default().push((sdp, reply));
                }
            }
            Cmd::Status { ids, reply } => {
                let s = ids
                    .iter()
                    .map(|id| match self.clients.get(*id).and_then(Option::as_ref) {
                        Some(c) => (c.connected, c.seen.len(), c.dead),
                        None => (false, 0, true),
                    })
                    .collect();
                let _ = reply.send(s);
            }
            Cmd::Send {
                step,
                pubs,
                rate,
                secs,
                reply,
            } => {
                let now = Instant::now();
                let period = Duration::from_secs_f64(1.0 / rate.max(0.001));
                let n = pubs.len().max(1) as u32;
                // Publishers are spread evenly over the period, as independent senders would be.
                let heap = pubs
                    .iter()
                    .enumerate()
                    .map(|(i, id)| Reverse((now + period * i as u32 / n, *id)))
                    .collect();
                if step != 0 {
                    self.rec.step = step;
                    self.rec.c = Collected::default();
                }
                self.sending = Some(Sending {
                    step,
                    period,
                    until: now + Duration::from_secs_f64(secs),
                    heap,
                    sent: 0,
                    reply: Some(reply),
                });
            }
            Cmd::Collect { reply } => {
                let c = std::mem::take(&mut self.rec.c);
                self.rec.step = u32::MAX;
                let _ = reply.send(c);
            }
        }
    }

    fn accept(&mut self, id: usize, sdp: &str) -> anyhow::Result<String> {
        let c = self
            .clients
            .get_mut(id)
            .and_then(Option::as_mut)
            .ok_or_else(|| anyhow!("no client {id}"))?;
        let offer = SdpOffer::from_sdp_string(sdp).map_err(|e| anyhow!("offer: {e}"))?;
        let answer = c
            .rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(|e| anyhow!("accept offer: {e}"))?;
        let t = drive(c, &mut self.rec);
        self.next_scan = self.next_scan.min(t);
        Ok(answer.to_sdp_string())
    }

    fn send_due(&mut self, now: Instant) {
        let Some(s) = self.sending.as_mut() else {
            return;
        };
        while let Some(Reverse((at, id))) = s.heap.peek().copied() {
            if at > now {
                break;
            }
            s.heap.pop();
            if at >= s.until {
                continue;
            }
            let Some(c) = self.clients.get_mut(id).and_then(Option::as_mut) else {
                continue;
            };
            if send_one(c, s.step, self.payload, now) {
                s.sent += 1;
            }
            let t = drive(c, &mut self.rec);
            self.next_scan = self.next_scan.min(t);
            s.heap.push(Reverse((at + s.period, id)));
        }
        if s.heap.is_empty() {
            if let Some(reply) = s.reply.take() {
                let _ = reply.send(s.sent);
            }
            self.sending = None;
        }
    }

    fn timeouts(&mut self, now: Instant) {
        if now < self.next_scan {
            return;
        }
        let mut next = now + Duration::from_secs(1);
        for c in self.clients.iter_mut().flatten() {
            if c.dead {
                continue;
            }
            if c.timeout <= now {
                let _ = c.rtc.handle_input(Input::Timeout(now));
                drive(c, &mut self.rec);
            }
            next = next.min(c.timeout);
        }
        self.next_scan = next;
    }

    fn readable(&mut self, id: usize, buf: &mut [u8]) {
        let Some(c) = self.clients.get_mut(id).and_then(Option::as_mut) else {
            return;
        };
        loop {
            let (n, from) = match c.socket.recv_from(buf) {
                Ok(v) => v,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(_) => break,
            };
            let now = Instant::now();
            let Ok(contents) = buf[..n].try_into() else {
                continue;
            };
            let input = Input::Receive(
                now,
                Receive {
                    proto: Protocol::Udp,
                    source: from,
                    destination: c.local,
                    contents,
                },
            );
            if c.rtc.handle_input(input).is_err() {
                continue;
            }
            let t = drive(c, &mut self.rec);
            self.next_scan = self.next_scan.min(t);
        }
    }
}

/// Writes one packet on a publisher's stream: header (magic, step, publisher, send time) and
/// filler to the payload size.
fn send_one(c: &mut Client, step: u32, size: usize, now: Instant) -> bool {
    let Some(mid) = c.send else {
        return false;
    };
    if !c.connected || c.dead {
        return false;
    }
    if c.pt.is_none() {
        c.pt = c
            .rtc
            .codec_config()
            .find(|p| p.spec().codec == Codec::Opus)
            .map(|p| p.pt());
    }
    let Some(pt) = c.pt else {
        return false;
    };
    let mut payload = vec![0u8; size];
    payload[0..4].copy_from_slice(&MAGIC.to_le_bytes());
    payload[4..8].copy_from_slice(&step.to_le_bytes());
    payload[8..12].copy_from_slice(&c.pub_id.to_le_bytes());
    payload[12..20].copy_from_slice(&nanos(now).to_le_bytes());
    // 48 kHz media time from the same clock.
    let time = (nanos(now) / 1_000_000 * 48) as u32;
    let seq = c.seq;
    let mut api = c.rtc.direct_api();
    let Some(tx) = api.stream_tx_by_mid(mid, None) else {
        return false;
    };
    tx.write_rtp(RtpWrite::new(pt, seq.into(), time, now, payload));
    c.seq += 1;
    // str0m releases what was written when it is next given the time.
    let _ = c.rtc.handle_input(Input::Timeout(now));
    true
}

// ------------------------------------------------------------------------------------------------
// CPU and counters from /proc

/// The schedstat file of a thread of this process, by name.
fn thread_path(name: &str) -> Option<String> {
    let dir = std::fs::read_dir("/proc/self/task").ok()?;
    for e in dir.flatten() {
        let p = e.path();
        if std::fs::read_to_string(p.join("comm")).is_ok_and(|c| c.trim() == name) {
            return Some(p.join("schedstat").to_string_lossy().into_owned());
        }
    }
    None
}

/// A thread's time on a CPU and time runnable but waiting for one, in seconds.
fn schedstat(path: &str) -> (f64, f64) {
    let s = std::fs::read_to_string(path).unwrap_or_default();
    let mut f = s
        .split_whitespace()
        .map(|v| v.parse::<f64>().unwrap_or(0.0) / 1e9);
    (f.next().unwrap_or(0.0), f.next().unwrap_or(0.0))
}

/// The time a process's threads waited for a CPU while runnable, in seconds.
fn process_wait_secs(pid: u32) -> f64 {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0.0;
    };
    dir.flatten()
        .map(|e| schedstat(&e.path().join("schedstat").to_string_lossy()).1)
        .sum()
}

/// utime + stime of a process, in seconds.
fn process_secs(stat: &str, clk_tck: f64) -> f64 {
    let Ok(s) = std::fs::read_to_string(stat) else {
        return 0.0;
    };
    let Some(rest) = s.rsplit_once(')').map(|(_, r)| r) else {
        return 0.0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let get = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (get(11) + get(12)) / clk_tck
}

/// The UDP counters of /proc/net/snmp that say where datagrams were dropped.
fn udp_errors() -> HashMap<String, u64> {
    let mut out = HashMap::new();
    let Ok(s) = std::fs::read_to_string("/proc/net/snmp") else {
        return out;
    };
    let lines: Vec<&str> = s.lines().filter(|l| l.starts_with("Udp:")).collect();
    if let [names, values, ..] = lines.as_slice() {
        for (n, v) in names
            .split_whitespace()
            .zip(values.split_whitespace())
            .skip(1)
        {
            if matches!(n, "InErrors" | "RcvbufErrors" | "SndbufErrors") {
                out.insert(n.to_owned(), v.parse().unwrap_or(0));
            }
        }
    }
    out
}

#[derive(Debug, Clone, Copy)]
struct CpuSample {
    at: Instant,
    trygg: f64,
    janus: f64,
    process: f64,
    /// Time runnable but not running (waiting for a CPU): Trygg's thread, Janus's threads.
    trygg_wait: f64,
    janus_wait: f64,
    loadgen_wait: f64,
}

struct Cpu {
    trygg_path: Option<String>,
    janus_stat: Option<String>,
    janus_pid: Option<u32>,
    loadgen_path: Option<String>,
    clk_tck: f64,
}

impl Cpu {
    fn sample(&self) -> CpuSample {
        let trygg = self.trygg_path.as_deref().map_or((0.0, 0.0), schedstat);
        CpuSample {
            at: Instant::now(),
            trygg: trygg.0,
            trygg_wait: trygg.1,
            janus_wait: self.janus_pid.map_or(0.0, process_wait_secs),
            loadgen_wait: self.loadgen_path.as_deref().map_or(0.0, |p| schedstat(p).1),
            janus: self
                .janus_stat
                .as_deref()
                .map_or(0.0, |p| process_secs(p, self.clk_tck)),
            process: process_secs("/proc/self/stat", self.clk_tck),
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Trygg

struct Setup {
    /// Client ids of the publishers.
    pubs: Vec<usize>,
    /// Client ids that receive (each should hear `participants - 1` publishers).
    receivers: Vec<usize>,
    /// Every client id.
    all: Vec<usize>,
    problems: Arc<AtomicU64>,
    janus: Option<Arc<Janus>>,
}

async fn setup_trygg(
    lg: &LoadGen,
    a: &Args,
    server: &MediaServer,
    problems: Arc<AtomicU64>,
) -> anyhow::Result<Setup> {
    let mut s = Setup {
        pubs: Vec::new(),
        receivers: Vec::new(),
        all: Vec::new(),
        problems: problems.clone(),
        janus: None,
    };
    for r in 0..a.rooms {
        let room = (0x7e57_u128, r as u128);
        let (stx, mut srx) = mpsc::channel::<trygg_media::RoomSignal>(1024);
        let ids: Vec<usize> = (0..a.participants).map(|_| lg.alloc()).collect();
        let (lg2, srv, ids2, pr) = (lg.clone(), server.clone(), ids.clone(), problems.clone());
        tokio::spawn(async move {
            while let Some((who, _, sig)) = srx.recv().await {
                let Some(&id) = ids2.get((who as usize).wrapping_sub(1)) else {
                    continue;
                };
                match sig {
                    Signal::Offer(sdp) => {
                        let res = match lg2.accept_offer(id, sdp).await {
                            Ok(answer) => srv.answer(room, who, answer).await.map_err(Into::into),
                            Err(e) => Err(e),
                        };
                        if let Err(e) = res {
                            pr.fetch_add(1, Ordering::Relaxed);
                            eprintln!("trygg room {r} p{who}: renegotiation failed: {e}");
                        }
                    }
                    Signal::Closed => {
                        pr.fetch_add(1, Ordering::Relaxed);
                        eprintln!("trygg room {r} p{who}: session closed");
                    }
                }
            }
        });
        for (i, &id) in ids.iter().enumerate() {
            let who = i as u32 + 1;
            // Every participant on an address of its own (all of 127.0.0.0/8 is loopback), as
            // browsers are: the SFU limits unknown addresses' STUN per IP address.
            let n = r * a.participants + i;
            let ip = Ipv4Addr::new(127, 0, 1 + (n / 250) as u8, 1 + (n % 250) as u8);
            let (mut rtc, socket, local, mid, offer, pending) =
                publisher(id as u32, IpAddr::V4(ip))?;
            let (answer, _) = server
                .join(room, who, offer.to_sdp_string(), stx.clone())
                .await
                .with_context(|| format!("trygg join room {r} p{who}"))?;
            let answer = SdpAnswer::from_sdp_string(&answer).map_err(|e| anyhow!("{e}"))?;
            rtc.sdp_api()
                .accept_answer(pending, answer)
                .map_err(|e| anyhow!("{e}"))?;
            lg.add(id, client(rtc, socket, local, Some(mid), id as u32))?;
            s.pubs.push(id);
            s.receivers.push(id);
            s.all.push(id);
        }
    }
    Ok(s)
}

// ------------------------------------------------------------------------------------------------
// Janus (HTTP API, VideoRoom)

type Waiters = Arc<Mutex<HashMap<String, oneshot::Sender<Value>>>>;

struct Janus {
    http: reqwest::Client,
    base: String,
    session: u64,
    waiters: Waiters,
    txn: AtomicU64,
    /// Handles whose PeerConnection is up (`webrtcup`).
    up: Arc<Mutex<HashSet<u64>>>,
    /// Rooms are numbered from here (a Janus may outlive one run).
    room_base: u64,
    /// The address Janus gathers its candidates on (its "local-ip"): Janus never gathers on a
    /// loopback interface, so its clients use the machine's own address (still local: the
    /// kernel routes it through the loopback device).
    client_ip: IpAddr,
}

impl Janus {
    async fn post(http: &reqwest::Client, url: &str, body: &Value) -> anyhow::Result<Value> {
        let r = http
            .post(url)
            .json(body)
            .send()
            .await
            .with_context(|| format!("POST {url}"))?;
        let v: Value = r
            .json()
            .await
            .with_context(|| format!("POST {url}: JSON"))?;
        if v["janus"] == "error" {
            bail!("janus error: {}", v["error"]);
        }
        Ok(v)
    }

    async fn connect(base: &str, problems: Arc<AtomicU64>) -> anyhow::Result<Arc<Self>> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .build()?;
        let mut last = None;
        let mut created = None;
        for _ in 0..100 {
            match Self::post(&http, base, &json!({"janus": "create", "transaction": "c"})).await {
                Ok(v) => {
                    created = Some(v);
                    break;
                }
                Err(e) => {
                    last = Some(e);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        let v = created.ok_or_else(|| anyhow!("Janus at {base} does not answer: {last:?}"))?;
        let session = v["data"]["id"]
            .as_u64()
            .ok_or_else(|| anyhow!("no session id: {v}"))?;
        let info: Value = http
            .get(format!("{base}/info"))
            .send()
            .await?
            .json()
            .await?;
        let client_ip: IpAddr = info["local-ip"]
            .as_str()
            .ok_or_else(|| anyhow!("no local-ip in Janus's info: {info}"))?
            .parse()?;
        let j = Arc::new(Self {
            http,
            base: base.to_owned(),
            session,
            waiters: Arc::new(Mutex::new(HashMap::new())),
            txn: AtomicU64::new(1),
            up: Arc::new(Mutex::new(HashSet::new())),
            room_base: u64::from(std::process::id()) * 10_000,
            client_ip,
        });
        // Events by long poll.
        let (http, url, waiters, up) = (
            j.http.clone(),
            format!("{base}/{session}?maxev=32"),
            j.waiters.clone(),
            j.up.clone(),
        );
        tokio::spawn(async move {
            loop {
                let r = match http.get(&url).send().await {
                    Ok(r) => r.json::<Value>().await,
                    Err(e) => Err(e),
                };
                let v = match r {
                    Ok(v) => v,
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let evs = match v {
                    Value::Array(evs) => evs,
                    v => vec![v],
                };
                for ev in evs {
                    if let Some(t) = ev["transaction"].as_str() {
                        let w = waiters.lock().ok().and_then(|mut w| w.remove(t));
                        if let Some(w) = w {
                            let _ = w.send(ev);
                            continue;
                        }
                    }
                    if ev["janus"] == "webrtcup" {
                        if let (Some(h), Ok(mut up)) = (ev["sender"].as_u64(), up.lock()) {
                            up.insert(h);
                        }
                    }
                    if matches!(ev["janus"].as_str(), Some("hangup" | "detached")) {
                        problems.fetch_add(1, Ordering::Relaxed);
                        eprintln!("janus: {ev}");
                    }
                }
            }
        });
        // Keepalives (the configuration disables the session timeout as well).
        let (http, url) = (j.http.clone(), format!("{base}/{session}"));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(20)).await;
                let _ = Self::post(
                    &http,
                    &url,
                    &json!({"janus": "keepalive", "transaction": "k"}),
                )
                .await;
            }
        });
        Ok(j)
    }

    fn transaction(&self) -> String {
        format!("t{}", self.txn.fetch_add(1, Ordering::Relaxed))
    }

    async fn attach(&self) -> anyhow::Result<u64> {
        let v = Self::post(
            &self.http,
            &format!("{}/{}", self.base, self.session),
            &json!({"janus": "attach", "plugin": "janus.plugin.videoroom",
                    "transaction": self.transaction()}),
        )
        .await?;
        v["data"]["id"]
            .as_u64()
            .ok_or_else(|| anyhow!("no handle id: {v}"))
    }

    /// A plugin message; returns the plugin's answer (synchronous, or the event that carries
    /// the transaction).
    async fn message(
        &self,
        handle: u64,
        body: Value,
        jsep: Option<Value>,
    ) -> anyhow::Result<Value> {
        let t = self.transaction();
        let (tx, rx) = oneshot::channel();
        self.waiters
            .lock()
            .map_err(|_| anyhow!("poisoned"))?
            .insert(t.clone(), tx);
        let mut req = json!({"janus": "message", "transaction": t, "body": body});
        if let Some(j) = jsep {
            req["jsep"] = j;
        }
        let url = format!("{}/{}/{}", self.base, self.session, handle);
        let v = match Self::post(&self.http, &url, &req).await {
            Ok(v) => v,
            Err(e) => {
                self.forget(&t);
                return Err(e);
            }
        };
        let ev = match v["janus"].as_str() {
            Some("ack") => tokio::time::timeout(JANUS_TIMEOUT, rx)
                .await
                .map_err(|_| anyhow!("no answer from Janus to {}", req["body"]))??,
            _ => {
                self.forget(&t);
                v
            }
        };
        let data = &ev["plugindata"]["data"];
        if data.get("error").is_some() {
            bail!("videoroom error: {data}");
        }
        Ok(ev)
    }

    /// Waits until every handle's PeerConnection is up.
    async fn wait_up(&self, handles: &[u64]) -> anyhow::Result<()> {
        let start = Instant::now();
        loop {
            let all = self
                .up
                .lock()
                .map_err(|_| anyhow!("poisoned"))?
                .is_superset(&handles.iter().copied().collect());
            if all {
                return Ok(());
            }
            if start.elapsed() > JANUS_TIMEOUT {
                bail!("publishers' PeerConnections not up after {JANUS_TIMEOUT:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Ends the session (its handles and PeerConnections with it).
    async fn destroy(&self) {
        let url = format!("{}/{}", self.base, self.session);
        let body = json!({"janus": "destroy", "transaction": self.transaction()});
        if let Err(e) = Self::post(&self.http, &url, &body).await {
            eprintln!("janus: the session could not be destroyed: {e}");
        }
    }

    fn forget(&self, t: &str) {
        if let Ok(mut w) = self.waiters.lock() {
            w.remove(t);
        }
    }
}

async fn setup_janus_room(
    j: Arc<Janus>,
    lg: LoadGen,
    admin: u64,
    room_no: usize,
    n: usize,
) -> anyhow::Result<(Vec<usize>, Vec<usize>)> {
    let room = j.room_base + room_no as u64;
    let v = j
        .message(
            admin,
            json!({"request": "create", "room": room, "publishers": n, "audiocodec": "opus",
                   "bitrate": 0, "notify_joining": false, "permanent": false}),
            None,
        )
        .await
        .context("create a room")?;
    if v["plugindata"]["data"]["videoroom"] != "created" {
        bail!("room not created: {v}");
    }
    let mut pubs = Vec::new();
    let mut feeds = Vec::new();
    let mut handles = Vec::new();
    for i in 0..n {
        let h = j.attach().await?;
        handles.push(h);
        let v = j
            .message(
                h,
                json!({"request": "join", "ptype": "publisher", "room": room,
                       "display": format!("p{i}")}),
                None,
            )
            .await
            .context("join as publisher")?;
        let feed = v["plugindata"]["data"]["id"]
            .as_u64()
            .ok_or_else(|| anyhow!("no feed id: {v}"))?;
        let id = lg.alloc();
        let (mut rtc, socket, local, mid, offer, pending) = publisher(id as u32, j.client_ip)?;
        let v = j
            .message(
                h,
                json!({"request": "publish"}),
                Some(json!({"type": "offer", "sdp": offer.to_sdp_string(), "trickle": false})),
            )
            .await
            .context("publish")?;
        let sdp = v["jsep"]["sdp"]
            .as_str()
            .ok_or_else(|| anyhow!("no answer to the publisher's offer: {v}"))?;
        if std::env::var_os("MEDIA_LOAD_TRACE_SDP").is_some() {
            eprintln!("offer to Janus:\n{}\nanswer:\n{sdp}", offer.to_sdp_string());
        }
        let answer = SdpAnswer::from_sdp_string(sdp).map_err(|e| anyhow!("{e}"))?;
        rtc.sdp_api()
            .accept_answer(pending, answer)
            .map_err(|e| anyhow!("{e}"))?;
        lg.add(id, client(rtc, socket, local, Some(mid), id as u32))?;
        pubs.push(id);
        feeds.push(feed);
    }
    // Janus subscribes only to feeds whose PeerConnection is up.
    j.wait_up(&handles).await?;
    let mut subs = Vec::new();
    for i in 0..n {
        let h = j.attach().await?;
        let streams: Vec<Value> = feeds
            .iter()
            .enumerate()
            .filter(|(k, _)| *k != i)
            .map(|(_, f)| json!({"feed": f}))
            .collect();
        let v = j
            .message(
                h,
                json!({"request": "join", "ptype": "subscriber", "room": room,
                       "streams": streams}),
                None,
            )
            .await
            .context("join as subscriber")?;
        let sdp = v["jsep"]["sdp"]
            .as_str()
            .ok_or_else(|| anyhow!("no offer for the subscriber: {v}"))?;
        let (mut rtc, socket, local) = new_rtc(j.client_ip)?;
        let offer = SdpOffer::from_sdp_string(sdp).map_err(|e| anyhow!("{e}"))?;
        let answer = rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(|e| anyhow!("{e}"))?;
        let id = lg.alloc();
        lg.add(id, client(rtc, socket, local, None, u32::MAX))?;
        j.message(
            h,
            json!({"request": "start"}),
            Some(json!({"type": "answer", "sdp": answer.to_sdp_string()})),
        )
        .await
        .context("start")?;
        subs.push(id);
    }
    Ok((pubs, subs))
}

async fn setup_janus(lg: &LoadGen, a: &Args, problems: Arc<AtomicU64>) -> anyhow::Result<Setup> {
    let j = Janus::connect(&a.janus_url, problems.clone()).await?;
    let admin = j.attach().await?;
    let sem = Arc::new(Semaphore::new(a.concurrency));
    let mut tasks = tokio::task::JoinSet::new();
    for r in 0..a.rooms {
        let (j, lg, sem, n) = (j.clone(), lg.clone(), sem.clone(), a.participants);
        tasks.spawn(async move {
            let _permit = sem.acquire_owned().await?;
            setup_janus_room(j, lg, admin, r, n)
                .await
                .with_context(|| format!("janus room {r}"))
        });
    }
    let mut s = Setup {
        pubs: Vec::new(),
        receivers: Vec::new(),
        all: Vec::new(),
        problems,
        janus: Some(j.clone()),
    };
    while let Some(r) = tasks.join_next().await {
        let (pubs, subs) = r??;
        s.all.extend(&pubs);
        s.all.extend(&subs);
        s.pubs.extend(pubs);
        s.receivers.extend(subs);
    }
    Ok(s)
}

// ------------------------------------------------------------------------------------------------
// The ramp

/// Waits until every client is connected and every receiver hears every other publisher of its
/// room, the publishers sending slowly meanwhile.
async fn ready(
    lg: &LoadGen,
    setups: &[(Target, Setup)],
    n: usize,
    secs: u64,
) -> anyhow::Result<Value> {
    let start = Instant::now();
    let pubs: Vec<usize> = setups.iter().flat_map(|(_, s)| s.pubs.clone()).collect();
    let mut out = json!({});
    loop {
        lg.send(0, pubs.clone(), 50.0, 1.0).await?;
        let mut all_ready = true;
        for (t, s) in setups {
            let st = lg.status(s.all.clone()).await?;
            let by_id: HashMap<usize, (bool, usize, bool)> =
                s.all.iter().copied().zip(st).collect();
            let connected = by_id.values().filter(|v| v.0).count();
            let dead = by_id.values().filter(|v| v.2).count();
            let hearing = s
                .receivers
                .iter()
                .filter(|id| by_id.get(id).is_some_and(|v| v.1 >= n - 1))
                .count();
            all_ready &= connected == s.all.len() && hearing == s.receivers.len();
            out[t.name()] = json!({
                "clients": s.all.len(), "connected": connected, "dead": dead,
                "receivers": s.receivers.len(), "receivers_hearing_all": hearing,
                "problems": s.problems.load(Ordering::Relaxed),
            });
        }
        eprintln!(
            "ready check after {:.1} s: {out}",
            start.elapsed().as_secs_f64()
        );
        if all_ready {
            out["ready"] = json!(true);
            return Ok(out);
        }
        if start.elapsed() > Duration::from_secs(secs) {
            out["ready"] = json!(false);
            return Ok(out);
        }
    }
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[i.min(sorted.len() - 1)]) / 1e6
}

#[allow(clippy::too_many_arguments)]
async fn step(
    lg: &LoadGen,
    a: &Args,
    cpu: &Cpu,
    server: Option<&MediaServer>,
    target: Target,
    setup: &Setup,
    step_id: u32,
    rate: f64,
) -> anyhow::Result<Value> {
    let metrics = |f: fn(&trygg_media::Metrics) -> &AtomicU64| {
        server.map_or(0, |s| f(s.metrics()).load(Ordering::Relaxed))
    };
    let m0 = [
        metrics(|m| &m.rtp_in),
        metrics(|m| &m.rtp_forwarded),
        metrics(|m| &m.dropped_flood),
    ];
    let udp0 = udp_errors();
    let c0 = cpu.sample();
    let sent = lg
        .send(step_id, setup.pubs.clone(), rate, a.step_secs)
        .await?;
    let c1 = cpu.sample();
    tokio::time::sleep(Duration::from_millis(a.drain_ms)).await;
    let mut got = lg.collect().await?;
    let udp1 = udp_errors();
    let m1 = [
        metrics(|m| &m.rtp_in),
        metrics(|m| &m.rtp_forwarded),
        metrics(|m| &m.dropped_flood),
    ];
    let wall = c1.at.duration_since(c0.at).as_secs_f64();
    let secs = a.step_secs;
    let expected = sent * (a.participants as u64 - 1);
    let loss = if expected == 0 {
        1.0
    } else {
        1.0 - got.received as f64 / expected as f64
    };
    let fwd_pps = got.received as f64 / secs;
    let sfu_cores = match target {
        Target::Trygg => (c1.trygg - c0.trygg) / wall,
        Target::Janus => (c1.janus - c0.janus) / wall,
    };
    let loadgen_cores = ((c1.process - c0.process) - (c1.trygg - c0.trygg)) / wall;
    // How long the SFU's threads were ready to run but had no CPU (other work on the machine).
    let sfu_wait = match target {
        Target::Trygg => (c1.trygg_wait - c0.trygg_wait) / wall,
        Target::Janus => (c1.janus_wait - c0.janus_wait) / wall,
    };
    got.latency_ns.sort_unstable();
    let udp = |k: &str| {
        udp1.get(k)
            .copied()
            .unwrap_or(0)
            .saturating_sub(udp0.get(k).copied().unwrap_or(0))
    };
    let v = json!({
        "target": target.name(),
        "step": step_id,
        "rate_per_publisher": rate,
        "publishers": setup.pubs.len(),
        "offered_in_pps": setup.pubs.len() as f64 * rate,
        "offered_fwd_pps": setup.pubs.len() as f64 * rate * (a.participants - 1) as f64,
        "secs": secs,
        "wall_secs": wall,
        "sent": sent,
        "sent_pps": sent as f64 / secs,
        "expected": expected,
        "received": got.received,
        "stale": got.stale,
        "loss": loss,
        "fwd_pps": fwd_pps,
        "sfu_cores": sfu_cores,
        "fwd_pps_per_core": if sfu_cores > 0.0 { fwd_pps / sfu_cores } else { 0.0 },
        "loadgen_cores": loadgen_cores,
        "sfu_runqueue_wait": sfu_wait,
        // The other SFU, idle meanwhile (its sessions' timers, keepalives and reports).
        "other_sfu_cores": match target {
            Target::Trygg => (c1.janus - c0.janus) / wall,
            Target::Janus => (c1.trygg - c0.trygg) / wall,
        },
        "loadgen_runqueue_wait": (c1.loadgen_wait - c0.loadgen_wait) / wall,
        "p50_ms": percentile(&got.latency_ns, 0.50),
        "p99_ms": percentile(&got.latency_ns, 0.99),
        "max_ms": percentile(&got.latency_ns, 1.0),
        "udp_rcvbuf_errors": udp("RcvbufErrors"),
        "udp_sndbuf_errors": udp("SndbufErrors"),
        "udp_in_errors": udp("InErrors"),
        "trygg_rtp_in": m1[0] - m0[0],
        "trygg_rtp_forwarded": m1[1] - m0[1],
        "trygg_dropped_flood": m1[2] - m0[2],
        "problems": setup.problems.load(Ordering::Relaxed),
    });
    eprintln!(
        "{:5} rate {:4} /s/pub: fwd {:9.0} pps, loss {:6.2} %, SFU {:.2} cores (waiting {:.2}) → \
         {:9.0} pps/core, p50 {:.2} ms p99 {:.2} ms, loadgen {:.2} cores, rcvbuf errors {}",
        target.name(),
        rate,
        fwd_pps,
        loss * 100.0,
        sfu_cores,
        sfu_wait,
        v["fwd_pps_per_core"].as_f64().unwrap_or(0.0),
        v["p50_ms"].as_f64().unwrap_or(f64::NAN),
        v["p99_ms"].as_f64().unwrap_or(f64::NAN),
        loadgen_cores,
        udp("RcvbufErrors"),
    );
    Ok(v)
}

/// Per target: the most forwarded packets per second at under 1 % loss (and, when `p99_ms` is
/// given, a p99 latency under it), and that step's figures.
fn summary(steps: &[Value], targets: &[Target], p99_ms: Option<f64>) -> Value {
    let mut out = json!({});
    for t in targets {
        let best = steps
            .iter()
            .filter(|s| s["target"] == t.name() && s["loss"].as_f64().is_some_and(|l| l < 0.01))
            .filter(|s| p99_ms.is_none_or(|m| s["p99_ms"].as_f64().is_some_and(|p| p < m)))
            .max_by(|x, y| {
                let f = |v: &Value| v["fwd_pps"].as_f64().unwrap_or(0.0);
                f(x).total_cmp(&f(y))
            });
        out[t.name()] = best.cloned().unwrap_or(Value::Null);
    }
    out
}

async fn run(a: Args) -> anyhow::Result<()> {
    epoch();
    trygg_media::driver::install_crypto();
    let lg = LoadGen::start(a.payload)?;
    let mut setups: Vec<(Target, Setup)> = Vec::new();
    let mut server = None;
    let t0 = Instant::now();
    for t in &a.targets {
        let problems = Arc::new(AtomicU64::new(0));
        let s = match t {
            Target::Trygg => {
                let srv = MediaServer::start("127.0.0.1:0".parse()?, "127.0.0.1:0".parse()?)?;
                let s = setup_trygg(&lg, &a, &srv, problems).await?;
                server = Some(srv);
                s
            }
            Target::Janus => setup_janus(&lg, &a, problems).await?,
        };
        eprintln!(
            "{}: {} clients set up ({:.1} s)",
            t.name(),
            s.all.len(),
            t0.elapsed().as_secs_f64()
        );
        setups.push((*t, s));
    }
    let readiness = ready(&lg, &setups, a.participants, a.ready_secs).await?;
    // Trygg's thread exists once the server started.
    let cpu = Cpu {
        trygg_path: thread_path("trygg-media"),
        janus_stat: a.janus_pid.map(|p| format!("/proc/{p}/stat")),
        janus_pid: a.janus_pid,
        loadgen_path: thread_path("loadgen"),
        clk_tck: a.clk_tck,
    };
    if a.targets.contains(&Target::Janus) && cpu.janus_stat.is_none() {
        eprintln!("no --janus-pid: Janus's CPU is not measured");
    }
    let mut steps = Vec::new();
    let mut step_id = 1;
    let mut stopped = HashSet::new();
    for (k, rate) in a.rates.iter().enumerate() {
        let mut order: Vec<&(Target, Setup)> = setups.iter().collect();
        if k % 2 == 1 {
            order.reverse();
        }
        for (t, s) in order {
            if stopped.contains(t) {
                continue;
            }
            let mut v = step(&lg, &a, &cpu, server.as_ref(), *t, s, step_id, *rate).await?;
            // Sessions lost (a starved client or server misses ICE keepalives) make later
            // steps of that target lose packets: counted here.
            let st = lg.status(s.all.clone()).await?;
            v["clients_dead"] = json!(st.iter().filter(|c| c.2 || !c.0).count());
            if v["loss"].as_f64().is_none_or(|l| l > a.stop_loss) {
                stopped.insert(*t);
            }
            steps.push(v);
            step_id += 1;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    for (_, s) in &setups {
        if let Some(j) = &s.janus {
            j.destroy().await;
        }
    }
    let best = summary(&steps, &a.targets, None);
    let usable = summary(&steps, &a.targets, Some(USABLE_P99_MS));
    let out = json!({
        "rooms": a.rooms,
        "participants": a.participants,
        "payload_bytes": a.payload,
        "step_secs": a.step_secs,
        "rates": a.rates,
        "janus_pid": a.janus_pid,
        "readiness": readiness,
        "setup_secs": t0.elapsed().as_secs_f64(),
        "steps": steps,
        "best_under_1pct_loss": best,
        "usable_p99_ms": USABLE_P99_MS,
        "best_under_1pct_loss_and_p99": usable,
    });
    println!("{out}");
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let a = parse_args()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(run(a))
}
