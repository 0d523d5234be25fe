//! The SFU as a sans-IO state machine, in str0m's style: one [`Sfu`] owns every peer's str0m
//! session (RTP mode, ICE-lite) and the [`Router`]; it is fed datagrams and time, and polled
//! for datagrams to send and signals for the application (a renegotiation offer, a session that
//! closed). The caller owns the socket and the clock ([`crate::driver`]), and tests drive it
//! with str0m clients over an in-memory network.
//!
//! Media is forwarded, never decoded or stored (VC-STORE-1): payloads pass through as the
//! browsers encrypted them end to end (VC-ENC-2), inside SRTP hop by hop (VC-ENC-1). Only peers
//! the application joined receive anything, and [`Sfu::leave`] stops forwarding at once.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use str0m::bwe::{Bitrate, BweKind};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::format::Codec;
use str0m::media::{Direction, KeyframeRequestKind, MediaKind, Mid};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{ExtensionValues, RtpWrite, Ssrc};
use str0m::{Candidate, Event, IceConnectionState, Input, Output as RtcOutput, Rtc};

use crate::codec::{h264_keyframe_start, vp8_keyframe_start, vp8_picture_ids};
use crate::metrics::Metrics;
use crate::route::{Kind, Layer, Packet, PeerId, RoomKey, Router, SourceKey};

/// A participant's number in its room (the application's `p3` is 3).
pub type Member = u32;

/// What the SFU tells the application about a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    /// An SDP offer for the peer's browser (others' tracks to receive, or stopped ones).
    Offer(String),
    /// The peer's media session closed (failed, timed out, or its browser went away); the
    /// browser may offer again.
    Closed,
}

/// What to do after feeding the SFU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send a datagram.
    Transmit {
        /// To.
        to: SocketAddr,
        /// The bytes.
        data: Vec<u8>,
    },
    /// Tell the application something about a peer.
    Signal {
        /// The room.
        room: RoomKey,
        /// The participant.
        who: Member,
        /// The media session it is about ([`Sfu::join`]'s); a signal about an earlier session
        /// of the same participant is stale and to be ignored.
        session: PeerId,
        /// What.
        signal: Signal,
    },
}

/// Why an offer or answer was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MediaError {
    /// The SDP could not be parsed or negotiated.
    #[error("the session description was refused: {0}")]
    Sdp(String),
    /// An answer came with no offer waiting for it.
    #[error("no offer is waiting for an answer")]
    NoPendingOffer,
    /// The participant has no media session.
    #[error("no media session")]
    NoSession,
    /// The server has as many sessions as it takes.
    #[error("the media server is full")]
    Full,
    /// The offer has more media lines than a participant sends.
    #[error("too many media lines (at most {MAX_MEDIA_LINES})")]
    TooManyMedia,
}

/// The most media lines (m=) a participant's offer may have: audio and video, with room for a
/// screen and a data channel. Everything beyond is refused, so nobody can make the others'
/// sessions grow.
pub const MAX_MEDIA_LINES: usize = 4;

/// Stopped media lines after which a receiver's session is closed (its browser offers again,
/// and gets a fresh session without them).
const MAX_STOPPED: usize = 32;

/// Limits and addresses.
#[derive(Debug, Clone)]
pub struct Config {
    /// The address the socket is bound to (the destination of what arrives).
    pub local: SocketAddr,
    /// The address browsers are told to send to (the host candidate).
    pub public: SocketAddr,
    /// A session not connected (ICE and DTLS) this long after its offer is closed.
    pub connect_timeout: Duration,
    /// Datagrams per second one peer may send (burst: twice that).
    pub peer_rate: u32,
    /// Datagrams per second one unknown address may send (STUN to find its session).
    pub unknown_rate: u32,
    /// Sessions this server takes at most.
    pub max_peers: usize,
}

impl Config {
    /// Defaults for a socket at `local`, announced as `public`.
    pub fn new(local: SocketAddr, public: SocketAddr) -> Self {
        Self {
            local,
            public,
            connect_timeout: Duration::from_secs(20),
            peer_rate: 2_500,
            unknown_rate: 100,
            max_peers: 2_000,
        }
    }
}

/// A token bucket of datagrams.
#[derive(Debug, Clone)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn new(now: Instant, burst: f64) -> Self {
        Self {
            tokens: burst,
            at: now,
        }
    }

    fn take(&mut self, now: Instant, rate: f64) -> bool {
        let dt = now.saturating_duration_since(self.at).as_secs_f64();
        self.at = now;
        self.tokens = (self.tokens + dt * rate).min(rate * 2.0);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// All unknown addresses together may send this many times an unknown address's rate.
const UNKNOWN_GLOBAL_FACTOR: f64 = 40.0;

/// The rate-limiting key of an unknown address: an IPv4 address, or an IPv6 /64.
fn source_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let mut o = v6.octets();
            o[8..].fill(0);
            IpAddr::from(o)
        }
    }
}

/// The local (this server's) ufrag of a STUN binding request's USERNAME attribute
/// (`<server ufrag>:<browser ufrag>`), bounds-checked.
fn stun_local_ufrag(data: &[u8]) -> Option<&str> {
    if data.len() < 20 || data.get(4..8) != Some(&[0x21, 0x12, 0xa4, 0x42][..]) {
        return None;
    }
    let mut i = 20;
    while i + 4 <= data.len() {
        let kind = u16::from_be_bytes([data[i], data[i + 1]]);
        let len = usize::from(u16::from_be_bytes([data[i + 2], data[i + 3]]));
        let value = data.get(i + 4..i + 4 + len)?;
        if kind == 0x0006 {
            let name = std::str::from_utf8(value).ok()?;
            return name.split(':').next();
        }
        i += 4 + len.div_ceil(4) * 4;
    }
    None
}

/// The most unknown addresses tracked for rate limiting at once.
const MAX_UNKNOWN: usize = 4096;

/// An offer to a browser not answered within this time closes its session (it offers again).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(15);

/// The most receive streams (SSRCs) remembered per session.
const MAX_STREAMS: usize = 64;

/// Keyframe requests to one source layer at most this often.
const KEYFRAME_EVERY: Duration = Duration::from_millis(500);

struct Client {
    rtc: Rtc,
    room: RoomKey,
    who: Member,
    pending: Option<SdpPendingOffer>,
    /// When the pending offer was sent: an offer never answered closes the session.
    pending_since: Option<Instant>,
    /// Sources being negotiated in the pending offer, with the mid offered for each.
    negotiating: Vec<(SourceKey, Mid)>,
    /// Mids whose stop is in the pending offer.
    stopping: Vec<Mid>,
    /// Mids to stop at the next offer.
    to_stop: Vec<Mid>,
    /// Media lines stopped in this session so far.
    stopped: usize,
    /// Something may need offering (a track to add or to stop): looked at only then.
    needs_offer: bool,
    /// Each receive stream's mid and layer, by SSRC.
    layers: HashMap<Ssrc, (Mid, Layer)>,
    connected: bool,
    deadline: Instant,
    timeout: Instant,
    bucket: Bucket,
    last_keyframe: HashMap<(Mid, Layer), Instant>,
    loss_ppm: u64,
    estimate: u64,
}

/// The SFU: every peer on one socket.
pub struct Sfu {
    config: Config,
    router: Router,
    clients: HashMap<PeerId, Client>,
    members: HashMap<(RoomKey, Member), PeerId>,
    by_addr: HashMap<SocketAddr, PeerId>,
    unknown: HashMap<IpAddr, Bucket>,
    /// The budget of every unknown address together.
    unknown_all: Bucket,
    /// Sessions by their local ICE username fragment.
    by_ufrag: HashMap<String, PeerId>,
    next_peer: PeerId,
    out: VecDeque<Output>,
    dirty: Vec<PeerId>,
    metrics: Arc<Metrics>,
    /// The earliest time a session wants [`Sfu::handle_timeout`] (kept as sessions answer, so
    /// asking costs nothing per datagram; recomputed in full when time is handled).
    earliest: Option<Instant>,
}

impl std::fmt::Debug for Sfu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sfu")
            .field("peers", &self.clients.len())
            .field("rooms", &self.router.room_count())
            .finish()
    }
}

/// The descriptor patch for a rewritten picture id and TL0PICIDX; `None` when the descriptor
/// cannot take them (the packet is then forwarded as it came).
fn vp8_patch(payload: &[u8], pid: Option<u16>, tl0: Option<u8>) -> Option<str0m::rtp::Vp8Patch> {
    let d = str0m::rtp::Vp8Descriptor::parse(payload).ok()?;
    let mut b = d.patch();
    if let Some(pid) = pid {
        b = b.picture_id(pid);
    }
    if let Some(t) = tl0 {
        b = b.tl0_pic_idx(t);
    }
    b.build().ok().or_else(|| {
        // A 7-bit picture id: the low seven bits.
        let mut b = d.patch();
        if let Some(pid) = pid {
            b = b.picture_id(pid & 0x7f);
        }
        if let Some(t) = tl0 {
            b = b.tl0_pic_idx(t);
        }
        b.build().ok()
    })
}

fn kind_of(k: MediaKind) -> Kind {
    match k {
        MediaKind::Audio => Kind::Audio,
        MediaKind::Video => Kind::Video,
    }
}

fn media_kind(k: Kind) -> MediaKind {
    match k {
        Kind::Audio => MediaKind::Audio,
        Kind::Video => MediaKind::Video,
    }
}

impl Sfu {
    /// An SFU with no peers.
    pub fn new(config: Config, metrics: Arc<Metrics>) -> Self {
        let unknown_burst = f64::from(config.unknown_rate) * UNKNOWN_GLOBAL_FACTOR * 2.0;
        Self {
            config,
            router: Router::new(),
            clients: HashMap::new(),
            members: HashMap::new(),
            by_addr: HashMap::new(),
            unknown: HashMap::new(),
            unknown_all: Bucket::new(Instant::now(), unknown_burst),
            by_ufrag: HashMap::new(),
            next_peer: 1,
            out: VecDeque::new(),
            dirty: Vec::new(),
            metrics,
            earliest: None,
        }
    }

    /// The metrics this SFU counts into.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The number of media peers.
    pub fn peer_count(&self) -> usize {
        self.clients.len()
    }

    /// The number of rooms with media.
    pub fn room_count(&self) -> usize {
        self.router.room_count()
    }

    /// Whether a room has a media peer.
    pub fn room_has_peers(&self, room: &RoomKey) -> bool {
        !self.router.room_peers(room).is_empty()
    }

    /// Whether a participant has a media session.
    pub fn has_peer(&self, room: RoomKey, who: Member) -> bool {
        self.members.contains_key(&(room, who))
    }

    /// A participant's browser offers its media: a new session replaces any earlier one of
    /// theirs, and the answer is returned. The application calls this only for a participant
    /// admitted to the room (VC-CONF-1).
    pub fn join(
        &mut self,
        now: Instant,
        room: RoomKey,
        who: Member,
        offer: &str,
    ) -> Result<(String, PeerId), MediaError> {
        if offer.lines().filter(|l| l.starts_with("m=")).count() > MAX_MEDIA_LINES {
            return Err(MediaError::TooManyMedia);
        }
        let offer = SdpOffer::from_sdp_string(offer).map_err(|e| MediaError::Sdp(e.to_string()))?;
        self.leave(room, who);
        if self.clients.len() >= self.config.max_peers {
            return Err(MediaError::Full);
        }
        let mut rtc = Rtc::builder()
            .set_rtp_mode(true)
            .set_ice_lite(true)
            .enable_bwe(Some(Bitrate::kbps(600)))
            .clear_codecs()
            .enable_opus(true, false)
            .enable_vp8(true)
            .enable_h264(true)
            .set_stats_interval(Some(Duration::from_secs(2)))
            .build(now);
        let candidate = Candidate::host(self.config.public, "udp")
            .map_err(|e| MediaError::Sdp(e.to_string()))?;
        rtc.add_local_candidate(candidate);
        let answer = rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(|e| MediaError::Sdp(e.to_string()))?;
        let ufrag = rtc.direct_api().local_ice_credentials().ufrag;
        rtc.bwe().set_bitrate(Bitrate::kbps(300), Bitrate::mbps(3));
        let peer = self.next_peer;
        self.next_peer += 1;
        self.clients.insert(
            peer,
            Client {
                rtc,
                room,
                who,
                pending: None,
                pending_since: None,
                negotiating: Vec::new(),
                stopping: Vec::new(),
                to_stop: Vec::new(),
                stopped: 0,
                needs_offer: true,
                layers: HashMap::new(),
                connected: false,
                deadline: now + self.config.connect_timeout,
                timeout: now,
                bucket: Bucket::new(now, f64::from(self.config.peer_rate) * 2.0),
                last_keyframe: HashMap::new(),
                loss_ppm: 0,
                estimate: 0,
            },
        );
        self.members.insert((room, who), peer);
        self.by_ufrag.insert(ufrag, peer);
        self.earlier(now + self.config.connect_timeout);
        self.router.add_peer(peer, room);
        self.dirty.push(peer);
        self.drain(now);
        self.gauges();
        Ok((answer.to_sdp_string(), peer))
    }

    /// The browser answers the SFU's offer.
    pub fn answer(
        &mut self,
        now: Instant,
        room: RoomKey,
        who: Member,
        answer: &str,
    ) -> Result<(), MediaError> {
        let peer = *self
            .members
            .get(&(room, who))
            .ok_or(MediaError::NoSession)?;
        let answer =
            SdpAnswer::from_sdp_string(answer).map_err(|e| MediaError::Sdp(e.to_string()))?;
        let c = self.clients.get_mut(&peer).ok_or(MediaError::NoSession)?;
        let pending = c.pending.take().ok_or(MediaError::NoPendingOffer)?;
        c.pending_since = None;
        if let Err(e) = c.rtc.sdp_api().accept_answer(pending, answer) {
            // The offer is void: what it carried is offered again.
            c.negotiating.clear();
            c.to_stop.append(&mut c.stopping);
            self.want_offer(peer);
            self.drain(now);
            return Err(MediaError::Sdp(e.to_string()));
        }
        let mapped = std::mem::take(&mut c.negotiating);
        c.stopping.clear();
        self.poll_peer(now, peer);
        for (source, mid) in mapped {
            self.router.set_out_mid(peer, &source, &mid);
        }
        // What changed while the offer was out is offered now.
        self.want_offer(peer);
        self.drain(now);
        Ok(())
    }

    /// A participant's media stops (they left, were removed, or their connection dropped):
    /// nothing more is forwarded to or from them, at once.
    pub fn leave(&mut self, room: RoomKey, who: Member) {
        if let Some(peer) = self.members.remove(&(room, who)) {
            self.remove_peer(peer);
        }
    }

    /// The room ends: every session in it is closed and nothing of it is kept.
    pub fn end_room(&mut self, room: RoomKey) {
        for peer in self.router.room_peers(&room) {
            if let Some(c) = self.clients.get(&peer) {
                self.members.remove(&(c.room, c.who));
            }
            self.remove_peer(peer);
        }
    }

    fn remove_peer(&mut self, peer: PeerId) {
        if let Some(mut c) = self.clients.remove(&peer) {
            c.rtc.disconnect();
        }
        self.by_addr.retain(|_, p| *p != peer);
        self.by_ufrag.retain(|_, p| *p != peer);
        self.recompute_earliest();
        let mut bloated = Vec::new();
        for (other, mid) in self.router.remove_peer(peer) {
            if let Some(o) = self.clients.get_mut(&other) {
                o.to_stop.push(Mid::from(&*mid));
                o.needs_offer = true;
                o.stopped += 1;
                if o.stopped > MAX_STOPPED {
                    bloated.push(other);
                }
                self.dirty.push(other);
            }
        }
        for other in bloated {
            self.close(other);
        }
        self.gauges();
    }

    fn close(&mut self, peer: PeerId) {
        let Some(c) = self.clients.get(&peer) else {
            return;
        };
        let (room, who) = (c.room, c.who);
        Metrics::inc(&self.metrics.peers_failed);
        if self.members.get(&(room, who)) == Some(&peer) {
            self.members.remove(&(room, who));
        }
        self.remove_peer(peer);
        self.out.push_back(Output::Signal {
            room,
            who,
            session: peer,
            signal: Signal::Closed,
        });
    }

    fn gauges(&self) {
        use std::sync::atomic::Ordering::Relaxed;
        self.metrics.peers.store(self.clients.len() as u64, Relaxed);
        self.metrics
            .rooms
            .store(self.router.room_count() as u64, Relaxed);
    }

    /// A datagram arrived. Anything that is not a peer's STUN, DTLS, SRTP or SRTCP is dropped
    /// and counted; a flood from one address is limited.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, data: &[u8]) {
        Metrics::inc(&self.metrics.datagrams_in);
        Metrics::add(&self.metrics.bytes_in, data.len() as u64);
        // The rate limits first: a flood costs a lookup, not a parse.
        let known = self.by_addr.get(&from).copied();
        match known.and_then(|p| self.clients.get_mut(&p)) {
            Some(c) => {
                if !c.bucket.take(now, f64::from(self.config.peer_rate)) {
                    Metrics::inc(&self.metrics.dropped_flood);
                    return;
                }
            }
            None => {
                // Unknown addresses: a budget for all of them together, and one per source
                // (an IPv4 address, or an IPv6 /64, which one machine easily has); a full table
                // forgets sources idle for ten seconds, and otherwise refuses new ones rather
                // than forgetting (a flood of new sources gets no fresh bursts).
                let global = f64::from(self.config.unknown_rate) * UNKNOWN_GLOBAL_FACTOR;
                if !self.unknown_all.take(now, global) {
                    Metrics::inc(&self.metrics.dropped_flood);
                    return;
                }
                let key = source_key(from.ip());
                if self.unknown.len() >= MAX_UNKNOWN && !self.unknown.contains_key(&key) {
                    self.unknown.retain(|_, b| {
                        now.saturating_duration_since(b.at) < Duration::from_secs(10)
                    });
                    if self.unknown.len() >= MAX_UNKNOWN {
                        Metrics::inc(&self.metrics.dropped_flood);
                        return;
                    }
                }
                let rate = f64::from(self.config.unknown_rate);
                let bucket = self
                    .unknown
                    .entry(key)
                    .or_insert_with(|| Bucket::new(now, rate * 2.0));
                if !bucket.take(now, rate) {
                    Metrics::inc(&self.metrics.dropped_flood);
                    return;
                }
            }
        }
        let Ok(contents) = data.try_into() else {
            Metrics::inc(&self.metrics.dropped_malformed);
            return;
        };
        let input = Input::Receive(
            now,
            Receive {
                proto: Protocol::Udp,
                source: from,
                destination: self.config.local,
                contents,
            },
        );
        let known = known.filter(|p| self.clients.get(p).is_some_and(|c| c.rtc.accepts(&input)));
        let peer = match known {
            Some(p) => p,
            None => {
                // Only STUN (first byte 0 to 3) with a session's credentials introduces an
                // address.
                if data.first().is_none_or(|b| *b > 3) {
                    Metrics::inc(&self.metrics.dropped_unknown);
                    return;
                }
                // The session is found by the STUN username (`<our ufrag>:<theirs>`), then
                // asked whether it accepts (the message integrity is checked there).
                let Some(p) = stun_local_ufrag(data)
                    .and_then(|u| self.by_ufrag.get(u).copied())
                    .filter(|p| self.clients.get(p).is_some_and(|c| c.rtc.accepts(&input)))
                else {
                    Metrics::inc(&self.metrics.dropped_unknown);
                    return;
                };
                self.by_addr.insert(from, p);
                p
            }
        };
        let Some(c) = self.clients.get_mut(&peer) else {
            return;
        };
        if c.rtc.handle_input(input).is_err() {
            self.close(peer);
            self.drain(now);
            return;
        }
        self.dirty.push(peer);
        self.drain(now);
    }

    /// Time passes: every session whose timeout is due is driven.
    pub fn handle_timeout(&mut self, now: Instant) {
        let unanswered: Vec<PeerId> = self
            .clients
            .iter()
            .filter(|(_, c)| {
                c.pending_since
                    .is_some_and(|t| now.saturating_duration_since(t) >= ANSWER_TIMEOUT)
            })
            .map(|(p, _)| *p)
            .collect();
        for peer in unanswered {
            self.close(peer);
        }
        let due: Vec<PeerId> = self
            .clients
            .iter()
            .filter(|(_, c)| c.timeout <= now || (!c.connected && c.deadline <= now))
            .map(|(p, _)| *p)
            .collect();
        for peer in due {
            let Some(c) = self.clients.get_mut(&peer) else {
                continue;
            };
            if !c.connected && c.deadline <= now {
                self.close(peer);
                continue;
            }
            if c.rtc.handle_input(Input::Timeout(now)).is_err() {
                self.close(peer);
                continue;
            }
            // Each session polled right after its input (str0m's contract), before anything
            // else may change it.
            if c.needs_offer {
                self.negotiate(now, peer);
            }
            self.poll_peer(now, peer);
        }
        self.drain(now);
        self.recompute_earliest();
    }

    /// When [`Sfu::handle_timeout`] is next due.
    pub fn next_timeout(&self) -> Option<Instant> {
        self.earliest
    }

    fn earlier(&mut self, t: Instant) {
        self.earliest = Some(self.earliest.map_or(t, |e| e.min(t)));
    }

    /// Every session's next due time, in full.
    fn recompute_earliest(&mut self) {
        self.earliest = self
            .clients
            .values()
            .map(|c| {
                let t = match c.pending_since {
                    Some(since) => c.timeout.min(since + ANSWER_TIMEOUT),
                    None => c.timeout,
                };
                if c.connected {
                    t
                } else {
                    t.min(c.deadline)
                }
            })
            .min();
    }

    /// The next thing to do.
    pub fn poll(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// Polls every session that was fed until each is waiting for time, forwarding what they
    /// received.
    fn drain(&mut self, now: Instant) {
        while let Some(peer) = self.dirty.pop() {
            let Some(c) = self.clients.get_mut(&peer) else {
                continue;
            };
            if c.needs_offer {
                self.negotiate(now, peer);
            }
            self.poll_peer(now, peer);
        }
    }

    fn want_offer(&mut self, peer: PeerId) {
        if let Some(c) = self.clients.get_mut(&peer) {
            c.needs_offer = true;
        }
        self.dirty.push(peer);
    }

    /// Offers what changed for a peer (new tracks to send it, stopped ones), one offer at a
    /// time.
    fn negotiate(&mut self, now: Instant, peer: PeerId) {
        let unmapped: Vec<(SourceKey, Kind, Member)> = self
            .router
            .unmapped(peer)
            .into_iter()
            .filter_map(|(s, k)| {
                let owner = self.clients.get(&s.owner)?.who;
                Some((s, k, owner))
            })
            .collect();
        let Some(c) = self.clients.get_mut(&peer) else {
            return;
        };
        if c.pending.is_some() {
            // After the answer.
            return;
        }
        c.needs_offer = false;
        if unmapped.is_empty() && c.to_stop.is_empty() {
            return;
        }
        let mut api = c.rtc.sdp_api();
        let mut negotiating = Vec::new();
        for (source, kind, owner) in unmapped {
            // The browser learns whose track it is from the stream id (`p3`).
            let stream = format!("p{owner}");
            let track = format!("p{owner}-{}", source.mid);
            let mid = api.add_media(
                media_kind(kind),
                Direction::SendOnly,
                Some(stream),
                Some(track),
                None,
            );
            negotiating.push((source, mid));
        }
        let stops = std::mem::take(&mut c.to_stop);
        for mid in &stops {
            api.stop_media(*mid);
        }
        let Some((offer, pending)) = api.apply() else {
            return;
        };
        c.pending = Some(pending);
        c.pending_since = Some(now);
        c.negotiating = negotiating;
        c.stopping = stops;
        let (room, who) = (c.room, c.who);
        self.earlier(now + ANSWER_TIMEOUT);
        self.out.push_back(Output::Signal {
            room,
            who,
            session: peer,
            signal: Signal::Offer(offer.to_sdp_string()),
        });
    }

    fn poll_peer(&mut self, now: Instant, peer: PeerId) {
        loop {
            let Some(c) = self.clients.get_mut(&peer) else {
                return;
            };
            if !c.rtc.is_alive() {
                self.close(peer);
                return;
            }
            let out = match c.rtc.poll_output() {
                Ok(o) => o,
                Err(_) => {
                    self.close(peer);
                    return;
                }
            };
            match out {
                RtcOutput::Timeout(t) => {
                    c.timeout = t;
                    self.earlier(t);
                    return;
                }
                RtcOutput::Transmit(t) => {
                    Metrics::inc(&self.metrics.datagrams_out);
                    Metrics::add(&self.metrics.bytes_out, t.contents.len() as u64);
                    self.out.push_back(Output::Transmit {
                        to: t.destination,
                        data: t.contents.into(),
                    });
                }
                RtcOutput::Event(e) => self.event(now, peer, e),
            }
        }
    }

    fn event(&mut self, now: Instant, peer: PeerId, e: Event) {
        match e {
            Event::Connected => {
                if let Some(c) = self.clients.get_mut(&peer) {
                    c.connected = true;
                }
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => self.close(peer),
            // One audio and one video track per participant are forwarded (a screen is shared
            // in place of the camera); more is not offered to anyone.
            Event::MediaAdded(m)
                if m.direction.is_receiving()
                    && self.router.published(peer, kind_of(m.kind)) == 0 =>
            {
                for r in self.router.publish(peer, &m.mid, kind_of(m.kind)) {
                    self.want_offer(r);
                }
            }
            Event::RtpPacket(p) => self.forward(now, peer, p),
            Event::KeyframeRequest(req) => {
                // A receiver asks for a keyframe on its mid: asked of the source's sender.
                let source = self
                    .router
                    .out_mids(peer)
                    .into_iter()
                    .find(|(m, _)| **m == *req.mid)
                    .map(|(_, s)| s);
                if let Some(s) = source {
                    self.request_keyframe(now, &s, None, req.kind);
                }
            }
            Event::EgressBitrateEstimate(BweKind::Twcc { estimate, .. }) => {
                let bps = estimate.as_u64();
                if let Some(c) = self.clients.get_mut(&peer) {
                    c.estimate = bps;
                }
                self.router.set_estimate(peer, bps);
                let total: u64 = self.clients.values().map(|c| c.estimate).sum();
                self.metrics
                    .egress_estimate_bps
                    .store(total, std::sync::atomic::Ordering::Relaxed);
                self.keyframes(now);
            }
            Event::MediaIngressStats(s) => {
                if let (Some(loss), Some(c)) = (s.loss, self.clients.get_mut(&peer)) {
                    c.loss_ppm = (f64::from(loss.clamp(0.0, 1.0)) * 1e6) as u64;
                }
                let n = self.clients.len().max(1) as u64;
                let sum: u64 = self.clients.values().map(|c| c.loss_ppm).sum();
                self.metrics
                    .loss_ppm
                    .store(sum / n, std::sync::atomic::Ordering::Relaxed);
            }
            _ => {}
        }
    }

    fn request_keyframe(
        &mut self,
        now: Instant,
        source: &SourceKey,
        layer: Option<Layer>,
        kind: KeyframeRequestKind,
    ) {
        let Some(c) = self.clients.get_mut(&source.owner) else {
            return;
        };
        let mid = Mid::from(&*source.mid);
        let layers: Vec<Layer> = match layer {
            Some(l) => vec![l],
            // Unknown layer (a receiver's PLI): every layer the sender sends.
            None => {
                let mut ls: Vec<Layer> = c
                    .layers
                    .values()
                    .filter(|(m, _)| *m == mid)
                    .map(|(_, l)| l.clone())
                    .collect();
                ls.sort();
                ls.dedup();
                // Nothing received yet: the stream without layers, if there is one.
                if ls.is_empty() {
                    ls.push(None);
                }
                ls
            }
        };
        for l in layers {
            let key = (mid, l.clone());
            if c.last_keyframe
                .get(&key)
                .is_some_and(|t| now.saturating_duration_since(*t) < KEYFRAME_EVERY)
            {
                continue;
            }
            let rid = l.as_deref().map(str0m::media::Rid::from);
            if let Some(rx) = c.rtc.direct_api().stream_rx_by_mid(mid, rid) {
                rx.request_keyframe(kind);
                c.last_keyframe.insert(key, now);
                Metrics::inc(&self.metrics.keyframe_requests);
            }
        }
        // Polled at once (str0m's contract: a change, then a full poll, then the next change).
        self.poll_peer(now, source.owner);
    }

    fn keyframes(&mut self, now: Instant) {
        for k in self.router.take_keyframe_requests() {
            self.request_keyframe(now, &k.source, k.layer, KeyframeRequestKind::Pli);
        }
    }

    fn forward(&mut self, now: Instant, peer: PeerId, p: str0m::rtp::RtpPacket) {
        Metrics::inc(&self.metrics.rtp_in);
        let Some(c) = self.clients.get_mut(&peer) else {
            return;
        };
        let ssrc = p.header.ssrc;
        let (mid, layer) = match c.layers.get(&ssrc) {
            Some(v) => v.clone(),
            None => {
                let mut api = c.rtc.direct_api();
                let Some(rx) = api.stream_rx(&ssrc) else {
                    return;
                };
                let v = (rx.mid(), rx.rid().map(|r| r.to_string()));
                if c.layers.len() >= MAX_STREAMS {
                    c.layers.clear();
                }
                c.layers.insert(ssrc, v.clone());
                v
            }
        };
        let Some(kind) = c.rtc.media(mid).map(|m| m.kind()) else {
            return;
        };
        let params = c
            .rtc
            .codec_config()
            .find(|x| x.pt() == p.header.payload_type)
            .copied();
        let Some(params) = params else {
            return;
        };
        let vp8 = params.spec().codec == Codec::Vp8;
        let (picture_id, tl0) = if vp8 {
            vp8_picture_ids(&p.payload)
        } else {
            (None, None)
        };
        let keyframe_start = match params.spec().codec {
            Codec::Vp8 => vp8_keyframe_start(&p.payload),
            Codec::H264 => h264_keyframe_start(&p.payload),
            _ => kind == MediaKind::Audio,
        };
        let packet = Packet {
            seq: *p.seq_no,
            ts: p.header.timestamp,
            keyframe_start,
            size: p.payload.len(),
            picture_id,
            tl0,
        };
        let deliveries = self.router.route(now, peer, &mid, &layer, &packet);
        let exts = ExtensionValues {
            audio_level: p.header.ext_vals.audio_level,
            voice_activity: p.header.ext_vals.voice_activity,
            video_orientation: p.header.ext_vals.video_orientation,
            ..Default::default()
        };
        for d in deliveries {
            let Some(r) = self.clients.get_mut(&d.to) else {
                continue;
            };
            let Some(pt) = r.rtc.codec_config().match_params(params).map(|x| x.pt()) else {
                continue;
            };
            let out_mid = Mid::from(&*d.mid);
            let mut api = r.rtc.direct_api();
            let Some(tx) = api.stream_tx_by_mid(out_mid, None) else {
                continue;
            };
            let mut w = RtpWrite::new(pt, d.seq.into(), d.ts, now, p.payload.clone())
                .marker(p.header.marker)
                .ext_vals(exts.clone())
                .nackable(kind == MediaKind::Video);
            // After a layer switch, the VP8 picture numbering continues where the last layer's
            // stopped (the descriptor is outside the encrypted frame).
            if let (Some((pid, tl0)), true) = (d.vp8, vp8) {
                if let Some(patch) = vp8_patch(&p.payload, pid, tl0) {
                    w = w.vp8_patch(patch);
                }
            }
            tx.write_rtp(w);
            Metrics::inc(&self.metrics.rtp_forwarded);
            // str0m's contract: every change to a session is followed by polling it until it
            // waits for time, before the next change. It also sends the packet now.
            self.poll_peer(now, d.to);
        }
        self.keyframes(now);
    }
}
