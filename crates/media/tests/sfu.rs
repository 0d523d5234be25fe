//! The SFU driven over an in-memory network by str0m clients standing in for browsers: media
//! flows between the peers of a room and nowhere else, stops at once when a peer leaves, nothing
//! is held after the room ends, and arbitrary datagrams (malformed STUN, DTLS, RTP, RTCP, from
//! peers' addresses and unknown ones) harm no room (VC-ENC-1, VC-STORE-1).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::media::{Direction, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output as RtcOutput, Rtc};
use trygg_media::metrics::Metrics;
use trygg_media::sfu::{Config, Output, Sfu, Signal};

const ROOM: (u128, u128) = (7, 7);
const OTHER_ROOM: (u128, u128) = (8, 8);

fn sfu_addr() -> SocketAddr {
    "10.0.0.100:5000".parse().unwrap_or_else(|_| unreachable!())
}

struct Browser {
    rtc: Rtc,
    addr: SocketAddr,
    who: u32,
    room: (u128, u128),
    audio: Mid,
    video: Mid,
    pending: Option<SdpPendingOffer>,
    /// Media received: (stream mid, first payload byte).
    received: Vec<(Mid, MediaKind)>,
    connected: bool,
}

impl Browser {
    fn new(
        n: u8,
        who: u32,
        room: (u128, u128),
        now: Instant,
        h264: bool,
        extra_video: bool,
    ) -> (Self, SdpOffer) {
        let addr: SocketAddr = format!("10.0.0.{n}:4000")
            .parse()
            .unwrap_or_else(|_| unreachable!());
        let mut rtc = Rtc::builder()
            .clear_codecs()
            .enable_opus(true, false)
            .enable_vp8(!h264)
            .enable_h264(h264)
            .build(now);
        if let Ok(c) = Candidate::host(addr, "udp") {
            rtc.add_local_candidate(c);
        }
        let mut api = rtc.sdp_api();
        let audio = api.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
        let video = api.add_media(MediaKind::Video, Direction::SendOnly, None, None, None);
        if extra_video {
            api.add_media(MediaKind::Video, Direction::SendOnly, None, None, None);
        }
        let (offer, pending) = api.apply().unwrap_or_else(|| unreachable!());
        let b = Self {
            rtc,
            addr,
            who,
            room,
            audio,
            video,
            pending: Some(pending),
            received: Vec::new(),
            connected: false,
        };
        (b, offer)
    }
}

struct Net {
    sfu: Sfu,
    browsers: Vec<Browser>,
    now: Instant,
    /// Datagrams the SFU sent, by destination.
    sent_to: Vec<SocketAddr>,
    /// Drop every n-th RTP datagram (first byte 128..=191) from the SFU to this address.
    lossy: Option<(SocketAddr, usize)>,
    /// Video frames written by each browser.
    video_sent: Vec<usize>,
    /// The browsers offer H.264 only (else VP8 only).
    h264: bool,
    /// A participant whose browser never answers the SFU's offers.
    silent: Option<u32>,
    /// Sessions the SFU said were closed: participant and session.
    closed: Vec<(u32, u64)>,
    /// Each participant's session, as join returned it.
    sessions: Vec<(u32, u64)>,
    /// The SFU's offers, by participant.
    offers: Vec<(u32, String)>,
    /// Browsers joining now offer a second video track.
    extra_video: bool,
}

impl Net {
    fn new() -> Self {
        trygg_media::driver::install_crypto();
        let now = Instant::now();
        Self {
            sfu: Sfu::new(
                Config::new(sfu_addr(), sfu_addr()),
                Arc::new(Metrics::default()),
            ),
            browsers: Vec::new(),
            now,
            sent_to: Vec::new(),
            lossy: None,
            video_sent: Vec::new(),
            h264: false,
            silent: None,
            closed: Vec::new(),
            sessions: Vec::new(),
            offers: Vec::new(),
            extra_video: false,
        }
    }

    /// A browser joins: its offer to the SFU, the SFU's answer back.
    fn join(&mut self, n: u8, who: u32, room: (u128, u128)) -> usize {
        let (mut b, offer) = Browser::new(n, who, room, self.now, self.h264, self.extra_video);
        let pending = b.pending.take().unwrap_or_else(|| unreachable!());
        let (answer, session) = self
            .sfu
            .join(self.now, room, who, &offer.to_sdp_string())
            .unwrap_or_else(|e| panic!("join refused: {e}"));
        self.sessions.push((who, session));
        let answer = SdpAnswer::from_sdp_string(&answer).unwrap_or_else(|e| panic!("{e}"));
        b.rtc
            .sdp_api()
            .accept_answer(pending, answer)
            .unwrap_or_else(|e| panic!("{e}"));
        self.browsers.push(b);
        self.video_sent.push(0);
        self.browsers.len() - 1
    }

    /// Runs the network for `ms` milliseconds of simulated time, each browser writing one
    /// audio frame and (every third step) one video frame per 10 ms step when `send`.
    fn run(&mut self, ms: u64, send: bool) {
        let h264 = self.h264;
        for step in 0..ms / 10 {
            self.now += Duration::from_millis(10);
            let now = self.now;
            for (i, b) in self.browsers.iter_mut().enumerate() {
                if send && b.connected {
                    let t = MediaTime::from_millis(step * 10);
                    if let Some(w) = b.rtc.writer(b.audio) {
                        let pt = w.payload_params().next().map(|p| p.pt());
                        if let Some(pt) = pt {
                            let _ = w.write(pt, now, t, vec![0xf8, 1, 2, 3]);
                        }
                    }
                    if step % 3 == 0 {
                        if let Some(w) = b.rtc.writer(b.video) {
                            let pt = w.payload_params().next().map(|p| p.pt());
                            if let Some(pt) = pt {
                                // A VP8 keyframe tag (P bit clear) every frame: simple and
                                // enough for the SFU to start forwarding.
                                let frame = if h264 {
                                    // An IDR slice, Annex B.
                                    vec![0, 0, 0, 1, 0x65, 0x88, 0x84, 0x21, 42]
                                } else {
                                    vec![0x10, 0x02, 0x00, 0x9d, 1, 42]
                                };
                                if w.write(pt, now, t, frame).is_ok() {
                                    self.video_sent[i] += 1;
                                }
                            }
                        }
                    }
                }
                let _ = b.rtc.handle_input(Input::Timeout(now));
            }
            self.sfu.handle_timeout(now);
            self.pump();
        }
    }

    /// Moves datagrams until nobody has anything to send.
    fn pump(&mut self) {
        for _ in 0..1000 {
            let mut moved = false;
            // Browsers to the SFU.
            for i in 0..self.browsers.len() {
                loop {
                    let out = match self.browsers[i].rtc.poll_output() {
                        Ok(o) => o,
                        Err(_) => break,
                    };
                    match out {
                        RtcOutput::Timeout(_) => break,
                        RtcOutput::Transmit(t) => {
                            moved = true;
                            let from = self.browsers[i].addr;
                            self.sfu.handle_datagram(self.now, from, &t.contents);
                        }
                        RtcOutput::Event(e) => {
                            let b = &mut self.browsers[i];
                            match e {
                                Event::Connected => b.connected = true,
                                Event::MediaData(d) => {
                                    let kind = b.rtc.media(d.mid).map(|m| m.kind());
                                    if let Some(k) = kind {
                                        b.received.push((d.mid, k));
                                    }
                                }
                                _ => {}
                            }
                        }
                    }
                }
            }
            // The SFU to the browsers, and its signals.
            while let Some(out) = self.sfu.poll() {
                moved = true;
                match out {
                    Output::Transmit { to, data } => {
                        self.sent_to.push(to);
                        if let Some((addr, n)) = self.lossy {
                            let rtp = data.first().is_some_and(|b| (128..192).contains(b));
                            if addr == to && rtp && self.sent_to.len().is_multiple_of(n) {
                                continue;
                            }
                        }
                        let now = self.now;
                        if let Some(b) = self.browsers.iter_mut().find(|b| b.addr == to) {
                            if let Ok(contents) = data.as_slice().try_into() {
                                let _ = b.rtc.handle_input(Input::Receive(
                                    now,
                                    Receive {
                                        proto: Protocol::Udp,
                                        source: sfu_addr(),
                                        destination: to,
                                        contents,
                                    },
                                ));
                            }
                        }
                    }
                    Output::Signal {
                        room,
                        who,
                        session,
                        signal,
                    } => {
                        let Some(i) = self
                            .browsers
                            .iter()
                            .position(|b| b.room == room && b.who == who)
                        else {
                            continue;
                        };
                        if signal == Signal::Closed {
                            self.closed.push((who, session));
                        }
                        if self.silent == Some(who) {
                            continue;
                        }
                        if let Signal::Offer(sdp) = &signal {
                            self.offers.push((who, sdp.clone()));
                        }
                        if let Signal::Offer(sdp) = signal {
                            let offer =
                                SdpOffer::from_sdp_string(&sdp).unwrap_or_else(|e| panic!("{e}"));
                            let answer = self.browsers[i]
                                .rtc
                                .sdp_api()
                                .accept_offer(offer)
                                .unwrap_or_else(|e| panic!("{e}"));
                            let now = self.now;
                            let _ = self.sfu.answer(now, room, who, &answer.to_sdp_string());
                        }
                    }
                }
            }
            if !moved {
                return;
            }
        }
    }

    fn received(&self, i: usize, kind: MediaKind) -> usize {
        self.browsers[i]
            .received
            .iter()
            .filter(|(_, k)| *k == kind)
            .count()
    }
}

fn call() -> Net {
    let mut net = Net::new();
    net.join(1, 1, ROOM);
    net.join(2, 2, ROOM);
    net.run(3000, true);
    net
}

#[test]
fn audio_and_video_reach_the_other_peer_of_the_room_only() {
    let mut net = call();
    let stranger = net.join(3, 1, OTHER_ROOM);
    net.run(2000, true);
    assert!(net.browsers.iter().all(|b| b.connected), "all connected");
    for i in 0..2 {
        assert!(
            net.received(i, MediaKind::Audio) > 50,
            "peer {i} hears the other"
        );
        assert!(
            net.received(i, MediaKind::Video) > 10,
            "peer {i} sees the other"
        );
    }
    // The peer of another room receives nothing of this one, and this one nothing of it.
    assert_eq!(net.received(stranger, MediaKind::Audio), 0);
    assert_eq!(net.received(stranger, MediaKind::Video), 0);
    let m = net.sfu.metrics();
    assert!(m.rtp_forwarded.load(Ordering::Relaxed) > 100);
    assert_eq!(net.sfu.room_count(), 2);
}

#[test]
fn a_peer_that_leaves_receives_nothing_more_and_the_end_leaves_no_state() {
    let mut net = call();
    let before = net.received(1, MediaKind::Audio);
    assert!(before > 0);
    let addr = net.browsers[1].addr;
    net.sfu.leave(ROOM, 2);
    net.sent_to.clear();
    net.run(2000, true);
    assert_eq!(
        net.received(1, MediaKind::Audio),
        before,
        "nothing after leaving"
    );
    assert!(
        !net.sent_to.contains(&addr),
        "not a datagram to a peer that left"
    );
    assert!(!net.sfu.has_peer(ROOM, 2));
    net.sfu.end_room(ROOM);
    assert_eq!((net.sfu.peer_count(), net.sfu.room_count()), (0, 0));
    assert_eq!(net.sfu.next_timeout(), None, "no session is kept");
}

#[test]
fn a_flood_from_one_address_is_limited_and_counted() {
    let mut net = call();
    let flooder: SocketAddr = "10.9.9.9:1".parse().unwrap_or_else(|_| unreachable!());
    // STUN-looking junk: the only kind that is looked up at all.
    for _ in 0..10_000 {
        net.sfu
            .handle_datagram(net.now, flooder, &[0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42]);
    }
    let m = net.sfu.metrics().clone();
    // One source: its burst of 200 is let through to the lookup, the rest is dropped.
    assert!(m.dropped_flood.load(Ordering::Relaxed) >= 9_700);
    // Many sources, each new: the budget of all unknown sources together holds.
    let before = m.dropped_flood.load(Ordering::Relaxed);
    for i in 0..20_000u32 {
        let a = SocketAddr::from(([10, 200, (i >> 8) as u8, i as u8], 9));
        net.sfu
            .handle_datagram(net.now, a, &[0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42]);
    }
    assert!(m.dropped_flood.load(Ordering::Relaxed) - before >= 11_000);
    let before = net.received(1, MediaKind::Audio);
    net.run(1000, true);
    assert!(
        net.received(1, MediaKind::Audio) > before,
        "the room goes on"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Arbitrary datagrams, from a peer's address and from unknown ones, shaped like STUN,
    /// DTLS, RTP and RTCP or not at all, harm no room: the call goes on.
    #[test]
    fn arbitrary_datagrams_harm_no_room(
        junk in proptest::collection::vec(
            (0u8..4, proptest::sample::select(vec![0u8, 1, 20, 22, 23, 128, 129, 200, 255]), proptest::collection::vec(any::<u8>(), 0..300)),
            1..60,
        )
    ) {
        let mut net = call();
        let before = net.received(1, MediaKind::Audio);
        for (from, first, mut body) in junk {
            body.insert(0, first);
            let addr = match from {
                0 => net.browsers[0].addr,
                1 => net.browsers[1].addr,
                2 => sfu_addr(),
                _ => "10.1.2.3:9".parse().unwrap_or_else(|_| unreachable!()),
            };
            net.sfu.handle_datagram(net.now, addr, &body);
        }
        net.run(1500, true);
        prop_assert!(net.received(1, MediaKind::Audio) > before + 20, "the call goes on");
        prop_assert_eq!(net.sfu.peer_count(), 2);
    }
}

#[test]
fn joining_asks_a_keyframe_and_nack_recovers_lost_packets() {
    let mut net = call();
    let m = net.sfu.metrics().clone();
    assert!(
        m.keyframe_requests.load(Ordering::Relaxed) >= 2,
        "a keyframe is asked for each new receiver"
    );
    // One in ten datagrams from the SFU to the second peer is lost; NACK and retransmission
    // (str0m, hop by hop) recover them.
    let addr = net.browsers[1].addr;
    net.lossy = Some((addr, 10));
    let sent_before = net.video_sent[0];
    let got_before = net.received(1, MediaKind::Video);
    net.run(4000, true);
    let sent = net.video_sent[0] - sent_before;
    let got = net.received(1, MediaKind::Video) - got_before;
    assert!(sent > 100, "{sent}");
    assert!(
        got * 100 >= sent * 97,
        "frames recovered despite 10% loss: {got} of {sent}"
    );
}

#[test]
fn h264_is_forwarded_when_the_browsers_offer_only_it() {
    let mut net = Net::new();
    net.h264 = true;
    net.join(1, 1, ROOM);
    net.join(2, 2, ROOM);
    net.run(3000, true);
    for i in 0..2 {
        assert!(
            net.received(i, MediaKind::Video) > 10,
            "peer {i} sees the other in H.264"
        );
    }
}

#[test]
fn an_offer_never_answered_closes_the_session_so_the_browser_offers_again() {
    let mut net = Net::new();
    net.silent = Some(2);
    net.join(1, 1, ROOM);
    net.join(2, 2, ROOM);
    net.run(10_000, true);
    assert!(net.sfu.has_peer(ROOM, 2), "still waiting for the answer");
    net.run(6_000, true);
    assert!(
        !net.sfu.has_peer(ROOM, 2),
        "closed after the answer timeout"
    );
    let session = net.sessions.iter().find(|(w, _)| *w == 2).map(|(_, s)| *s);
    assert_eq!(
        net.closed,
        vec![(2, session.unwrap_or_default())],
        "and the application is told, naming the session"
    );
    assert!(net.sfu.has_peer(ROOM, 1));
}

#[test]
fn an_offer_with_more_media_than_a_participant_sends_is_refused() {
    let mut net = Net::new();
    trygg_media::driver::install_crypto();
    let mut rtc = Rtc::builder().build(net.now);
    let mut api = rtc.sdp_api();
    for _ in 0..(trygg_media::sfu::MAX_MEDIA_LINES + 1) {
        api.add_media(MediaKind::Video, Direction::SendOnly, None, None, None);
    }
    let (offer, _) = api.apply().unwrap();
    assert_eq!(
        net.sfu.join(net.now, ROOM, 9, &offer.to_sdp_string()),
        Err(trygg_media::MediaError::TooManyMedia)
    );
    assert_eq!(net.sfu.peer_count(), 0);
    // Two video tracks within the limit: only one is forwarded to the others.
    net.join(1, 1, ROOM);
    net.extra_video = true;
    net.join(2, 2, ROOM);
    net.run(2000, true);
    // The SFU's offer to the first peer carries one video line from the second, not two.
    let to_first: Vec<&String> = net
        .offers
        .iter()
        .filter(|(w, _)| *w == 1)
        .map(|(_, o)| o)
        .collect();
    assert!(!to_first.is_empty());
    let video_from_second = to_first
        .iter()
        .map(|o| {
            o.split("m=")
                .filter(|sec| sec.starts_with("video") && sec.contains("\r\na=msid:p2 "))
                .count()
        })
        .max()
        .unwrap_or(0);
    assert_eq!(video_from_second, 1, "{to_first:?}");
}
