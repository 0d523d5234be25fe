//! The forwarding decisions, as a pure state machine: who is in which room, which tracks each
//! participant publishes, which simulcast layer each receiver gets, and how a forwarded packet's
//! sequence number and timestamp are rewritten so that a receiver sees one continuous stream
//! across layer switches.
//!
//! Nothing here touches a socket, a clock or str0m's connection state: [`Router`] is fed what
//! arrived (a packet's layer, sequence number, timestamp and whether it starts a keyframe) and
//! answers with where it goes. Media only ever flows between peers of the same room (VC-ENC-1:
//! the server forwards what it cannot read, and only to the people admitted to hear it); a peer
//! removed from the router receives nothing more, at once.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A room, as the application names it (the organisation's and the consultation's ids).
pub type RoomKey = (u128, u128);

/// A connected peer, numbered by the SFU (never reused while the SFU runs).
pub type PeerId = u64;

/// Audio or video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Opus audio.
    Audio,
    /// VP8 or H.264 video, possibly simulcast.
    Video,
}

/// A published track: the peer that sends it and the m-line (mid) it arrives on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SourceKey {
    /// The sending peer.
    pub owner: PeerId,
    /// The sender's mid.
    pub mid: Arc<str>,
}

/// A simulcast layer: the rid, or `None` for a track without simulcast.
pub type Layer = Option<String>;

/// What the router needs to know of an arriving packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet {
    /// Extended sequence number (no wrap).
    pub seq: u64,
    /// RTP timestamp.
    pub ts: u32,
    /// The packet is the first of a keyframe (a layer switch may happen here).
    pub keyframe_start: bool,
    /// Payload size in bytes, for the per-layer bitrate.
    pub size: usize,
    /// VP8 picture id (15 bits), when the descriptor has one.
    pub picture_id: Option<u16>,
    /// VP8 TL0PICIDX, when the descriptor has one.
    pub tl0: Option<u8>,
}

/// Where a packet goes, rewritten for that receiver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The receiving peer.
    pub to: PeerId,
    /// The receiver's mid for this source.
    pub mid: Arc<str>,
    /// Sequence number on the receiver's stream.
    pub seq: u64,
    /// Timestamp on the receiver's stream.
    pub ts: u32,
    /// The rewritten VP8 picture id and TL0PICIDX, when they differ from the sender's (after
    /// a layer switch).
    pub vp8: Option<(Option<u16>, Option<u8>)>,
}

/// A keyframe the router wants from a sender (on a join, or before a layer switch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyframeWanted {
    /// The sender and its mid.
    pub source: SourceKey,
    /// The layer; `None`: every layer the sender sends (a new receiver, whose layer is not
    /// chosen yet).
    pub layer: Option<Layer>,
}

/// The bitrate of one layer, measured over a sliding second.
#[derive(Debug, Clone, Default)]
struct Meter {
    window_start: Option<Instant>,
    bytes: u64,
    bps: u64,
}

impl Meter {
    /// Counts `bytes`; true when a new rate was measured (once a second).
    fn add(&mut self, now: Instant, bytes: usize) -> bool {
        let start = *self.window_start.get_or_insert(now);
        let elapsed = now.saturating_duration_since(start);
        let rolled = elapsed >= Duration::from_secs(1);
        if rolled {
            let secs = elapsed.as_secs_f64().max(1.0);
            self.bps = ((self.bytes as f64) * 8.0 / secs) as u64;
            self.bytes = 0;
            self.window_start = Some(now);
        }
        self.bytes += bytes as u64;
        rolled
    }
}

#[derive(Debug, Clone)]
struct Source {
    kind: Kind,
    /// This source's key, shared (cloning it costs a reference count, not an allocation).
    key: SourceKey,
    layers: BTreeMap<Layer, Meter>,
    /// The layers arriving, and the one a receiver without a target gets: kept as they change
    /// (a new layer, a new rate each second), not worked out per packet.
    known: Arc<[Layer]>,
    fallback: Layer,
}

/// Rewrites a receiver's view of one source across layer switches: the receiver sees one stream
/// whose sequence numbers continue where the previous layer stopped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rewriter {
    /// The layer being forwarded, once started.
    current: Option<Layer>,
    /// The first sequence number forwarded from the current layer: older ones are dropped.
    base_seq: u64,
    seq_offset: i64,
    ts_offset: u32,
    last_seq: u64,
    last_ts: u32,
    pid_offset: u16,
    tl0_offset: u8,
    last_pid: Option<u16>,
    last_tl0: Option<u8>,
}

/// What [`Rewriter::map`] gives for a forwarded packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mapped {
    /// Sequence number.
    pub seq: u64,
    /// Timestamp.
    pub ts: u32,
    /// Rewritten VP8 picture id and TL0PICIDX, if they change.
    pub vp8: Option<(Option<u16>, Option<u8>)>,
}

/// The RTP time between the last frame of one layer and the first of the next (one frame at
/// 30 frames a second, 90 kHz).
const SWITCH_GAP: u32 = 3000;

impl Rewriter {
    /// Maps a packet of `layer`; `switch` says this packet may start forwarding that layer (a
    /// keyframe's first packet, or the very first packet of a track without layers).
    /// Returns `None` for a packet not to forward.
    pub fn map(&mut self, layer: &Layer, p: &Packet, switch: bool) -> Option<Mapped> {
        match &self.current {
            Some(cur) if cur == layer => {
                if p.seq < self.base_seq {
                    return None;
                }
            }
            _ => {
                if !switch {
                    return None;
                }
                if self.current.is_none() {
                    // The first packet: keep the sender's numbering.
                    self.seq_offset = 0;
                    self.ts_offset = 0;
                    self.pid_offset = 0;
                    self.tl0_offset = 0;
                } else {
                    // Picture ids continue too (VP8: 15 bits; TL0PICIDX: 8 bits).
                    if let (Some(last), Some(pid)) = (self.last_pid, p.picture_id) {
                        self.pid_offset = last.wrapping_add(1).wrapping_sub(pid) & 0x7fff;
                    }
                    if let (Some(last), Some(t)) = (self.last_tl0, p.tl0) {
                        self.tl0_offset = last.wrapping_add(1).wrapping_sub(t);
                    }
                    let next = self.last_seq.saturating_add(1);
                    self.seq_offset = next as i64 - p.seq as i64;
                    self.ts_offset = self.last_ts.wrapping_add(SWITCH_GAP).wrapping_sub(p.ts);
                }
                self.current = Some(layer.clone());
                self.base_seq = p.seq;
            }
        }
        let seq = (p.seq as i64).checked_add(self.seq_offset)?;
        let seq = u64::try_from(seq).ok()?;
        let ts = p.ts.wrapping_add(self.ts_offset);
        let pid = p
            .picture_id
            .map(|x| x.wrapping_add(self.pid_offset) & 0x7fff);
        let tl0 = p.tl0.map(|x| x.wrapping_add(self.tl0_offset));
        if seq > self.last_seq || self.last_seq == 0 {
            self.last_seq = seq;
            self.last_ts = ts;
            self.last_pid = pid.or(self.last_pid);
            self.last_tl0 = tl0.or(self.last_tl0);
        }
        let vp8 = (self.pid_offset != 0 || self.tl0_offset != 0).then_some((pid, tl0));
        Some(Mapped { seq, ts, vp8 })
    }

    /// The layer being forwarded.
    pub fn current(&self) -> Option<&Layer> {
        self.current.as_ref()
    }
}

#[derive(Debug, Clone)]
struct Sub {
    out_mid: Option<Arc<str>>,
    target: Layer,
    rewriter: Rewriter,
}

#[derive(Debug, Clone)]
struct Peer {
    room: RoomKey,
    sources: BTreeMap<String, Source>,
    subs: BTreeMap<SourceKey, Sub>,
    estimate: Option<u64>,
}

/// The forwarding state of every room on this media server.
#[derive(Debug, Default)]
pub struct Router {
    peers: HashMap<PeerId, Peer>,
    rooms: HashMap<RoomKey, BTreeSet<PeerId>>,
    keyframes: Vec<KeyframeWanted>,
}

/// The audio share of a receiver's estimate kept aside before video layers are chosen.
const AUDIO_BPS: u64 = 64_000;

impl Router {
    /// An empty router.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a peer to a room. It receives nothing until tracks are published and mapped to its
    /// mids ([`Router::set_out_mid`]).
    pub fn add_peer(&mut self, peer: PeerId, room: RoomKey) {
        self.remove_peer(peer);
        self.peers.insert(
            peer,
            Peer {
                room,
                sources: BTreeMap::new(),
                subs: BTreeMap::new(),
                estimate: None,
            },
        );
        let members = self.rooms.entry(room).or_default();
        let others: Vec<PeerId> = members.iter().copied().collect();
        members.insert(peer);
        // The newcomer subscribes to what the others publish.
        for other in others {
            let sources: Vec<SourceKey> = self
                .peers
                .get(&other)
                .map(|p| p.sources.values().map(|s| s.key.clone()).collect())
                .unwrap_or_default();
            for key in sources {
                self.subscribe(peer, key);
            }
        }
    }

    /// Removes a peer: nothing more is forwarded to or from it, and the others' subscriptions
    /// to its tracks are dropped. Returns, per remaining peer, the mids that carried its tracks
    /// (to be stopped in their sessions).
    pub fn remove_peer(&mut self, peer: PeerId) -> Vec<(PeerId, Arc<str>)> {
        let Some(p) = self.peers.remove(&peer) else {
            return Vec::new();
        };
        let mut stopped = Vec::new();
        if let Some(members) = self.rooms.get_mut(&p.room) {
            members.remove(&peer);
            if members.is_empty() {
                self.rooms.remove(&p.room);
            }
        }
        for (id, other) in self.peers.iter_mut() {
            other.subs.retain(|k, s| {
                if k.owner == peer {
                    if let Some(m) = &s.out_mid {
                        stopped.push((*id, m.clone()));
                    }
                    false
                } else {
                    true
                }
            });
        }
        self.keyframes.retain(|k| k.source.owner != peer);
        stopped
    }

    /// The peers of a room.
    pub fn room_peers(&self, room: &RoomKey) -> Vec<PeerId> {
        self.rooms
            .get(room)
            .map(|m| m.iter().copied().collect())
            .unwrap_or_default()
    }

    /// The number of rooms with a peer.
    pub fn room_count(&self) -> usize {
        self.rooms.len()
    }

    /// The number of peers.
    pub fn peer_count(&self) -> usize {
        self.peers.len()
    }

    /// How many tracks of `kind` a peer publishes.
    pub fn published(&self, peer: PeerId, kind: Kind) -> usize {
        self.peers
            .get(&peer)
            .map_or(0, |p| p.sources.values().filter(|s| s.kind == kind).count())
    }

    /// A peer publishes a track on `mid`. Returns the peers that must now be offered a send
    /// m-line for it.
    pub fn publish(&mut self, owner: PeerId, mid: &str, kind: Kind) -> Vec<PeerId> {
        let Some(p) = self.peers.get_mut(&owner) else {
            return Vec::new();
        };
        if p.sources.contains_key(mid) {
            return Vec::new();
        }
        let key = SourceKey {
            owner,
            mid: Arc::from(mid),
        };
        p.sources.insert(
            mid.to_owned(),
            Source {
                kind,
                key: key.clone(),
                layers: BTreeMap::new(),
                known: Arc::from(Vec::new()),
                fallback: None,
            },
        );
        let room = p.room;
        let receivers: Vec<PeerId> = self
            .room_peers(&room)
            .into_iter()
            .filter(|r| *r != owner)
            .collect();
        for r in &receivers {
            self.subscribe(*r, key.clone());
        }
        receivers
    }

    fn subscribe(&mut self, receiver: PeerId, source: SourceKey) {
        if let Some(r) = self.peers.get_mut(&receiver) {
            r.subs.entry(source).or_insert(Sub {
                out_mid: None,
                target: None,
                rewriter: Rewriter::default(),
            });
        }
    }

    /// The sources a receiver is subscribed to but has no mid for yet (to negotiate).
    pub fn unmapped(&self, receiver: PeerId) -> Vec<(SourceKey, Kind)> {
        let Some(r) = self.peers.get(&receiver) else {
            return Vec::new();
        };
        r.subs
            .iter()
            .filter(|(_, s)| s.out_mid.is_none())
            .filter_map(|(k, _)| {
                let kind = self.peers.get(&k.owner)?.sources.get(&*k.mid)?.kind;
                Some((k.clone(), kind))
            })
            .collect()
    }

    /// The receiver's mid for a source is negotiated: forwarding starts, with a keyframe.
    pub fn set_out_mid(&mut self, receiver: PeerId, source: &SourceKey, mid: &str) {
        let Some(sub) = self
            .peers
            .get_mut(&receiver)
            .and_then(|r| r.subs.get_mut(source))
        else {
            return;
        };
        sub.out_mid = Some(Arc::from(mid));
        self.keyframes.push(KeyframeWanted {
            source: source.clone(),
            layer: None,
        });
    }

    /// The receiver's bandwidth estimate changed (TWCC): layers are chosen again, and a
    /// keyframe asked for each switch.
    pub fn set_estimate(&mut self, receiver: PeerId, bps: u64) {
        if let Some(r) = self.peers.get_mut(&receiver) {
            r.estimate = Some(bps);
        }
        self.choose_layers(receiver);
    }

    fn choose_layers(&mut self, receiver: PeerId) {
        let Some(r) = self.peers.get(&receiver) else {
            return;
        };
        let video: Vec<SourceKey> = r
            .subs
            .keys()
            .filter(|k| {
                self.peers
                    .get(&k.owner)
                    .and_then(|o| o.sources.get(&*k.mid))
                    .is_some_and(|s| s.kind == Kind::Video)
            })
            .cloned()
            .collect();
        let audio = r.subs.len().saturating_sub(video.len()) as u64;
        let budget = r
            .estimate
            .map(|e| e.saturating_sub(audio * AUDIO_BPS) / (video.len().max(1) as u64));
        let mut choices = Vec::new();
        for k in video {
            let Some(src) = self
                .peers
                .get(&k.owner)
                .and_then(|o| o.sources.get(&*k.mid))
            else {
                continue;
            };
            let current = r.subs.get(&k).map(|s| s.target.clone()).unwrap_or(None);
            choices.push((k, choose(&src.layers, budget, &current)));
        }
        let Some(r) = self.peers.get_mut(&receiver) else {
            return;
        };
        for (k, layer) in choices {
            if let Some(sub) = r.subs.get_mut(&k) {
                if sub.target != layer {
                    tracing::debug!(receiver, from = ?sub.target, to = ?layer, budget = ?budget, "layer target");
                    sub.target = layer.clone();
                    if sub.rewriter.current() != Some(&layer) {
                        self.keyframes.push(KeyframeWanted {
                            source: k,
                            layer: Some(layer),
                        });
                    }
                }
            }
        }
    }

    /// The keyframes wanted since the last call.
    pub fn take_keyframe_requests(&mut self) -> Vec<KeyframeWanted> {
        std::mem::take(&mut self.keyframes)
    }

    /// A packet arrived from `owner` on `mid`, layer `layer`: where it goes.
    pub fn route(
        &mut self,
        now: Instant,
        owner: PeerId,
        mid: &str,
        layer: &Layer,
        p: &Packet,
    ) -> Vec<Delivery> {
        let Some(o) = self.peers.get_mut(&owner) else {
            return Vec::new();
        };
        let room = o.room;
        let Some(src) = o.sources.get_mut(mid) else {
            return Vec::new();
        };
        let kind = src.kind;
        let new_layer = !src.layers.contains_key(layer);
        let rolled = src
            .layers
            .entry(layer.clone())
            .or_default()
            .add(now, p.size);
        if new_layer || rolled {
            src.known = src.layers.keys().cloned().collect::<Vec<_>>().into();
            // A receiver without a target that is arriving gets the lowest layer until its
            // estimate says more.
            src.fallback = choose(&src.layers, None, &None);
        }
        let (key, known, fallback) = (src.key.clone(), src.known.clone(), src.fallback.clone());
        let mut out = Vec::new();
        let Some(members) = self.rooms.get(&room) else {
            return out;
        };
        for &r in members {
            if r == owner {
                continue;
            }
            let Some(peer) = self.peers.get_mut(&r) else {
                continue;
            };
            let Some(sub) = peer.subs.get_mut(&key) else {
                continue;
            };
            let Some(out_mid) = &sub.out_mid else {
                continue;
            };
            if !known.contains(&sub.target) {
                sub.target = fallback.clone();
            }
            let forwarding = sub.rewriter.current() == Some(layer);
            let is_target = &sub.target == layer;
            // Audio may start anywhere; video starts, or switches layer, only at a keyframe.
            // Until the target's keyframe arrives the old layer goes on.
            let switch = is_target && (kind == Kind::Audio || p.keyframe_start);
            if !forwarding && !switch {
                continue;
            }
            if let Some(m) = sub.rewriter.map(layer, p, switch) {
                out.push(Delivery {
                    to: r,
                    mid: out_mid.clone(),
                    seq: m.seq,
                    ts: m.ts,
                    vp8: m.vp8,
                });
            }
        }
        out
    }

    /// Whether `to` may receive from `from` (same room, both present).
    pub fn may_forward(&self, from: PeerId, to: PeerId) -> bool {
        match (self.peers.get(&from), self.peers.get(&to)) {
            (Some(a), Some(b)) => from != to && a.room == b.room,
            _ => false,
        }
    }

    /// The room of a peer.
    pub fn room_of(&self, peer: PeerId) -> Option<RoomKey> {
        self.peers.get(&peer).map(|p| p.room)
    }

    /// The out mids of a receiver, with their source.
    pub fn out_mids(&self, receiver: PeerId) -> Vec<(Arc<str>, SourceKey)> {
        self.peers
            .get(&receiver)
            .map(|r| {
                r.subs
                    .iter()
                    .filter_map(|(k, s)| s.out_mid.clone().map(|m| (m, k.clone())))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The highest layer that fits `budget` (bits per second); without a budget or when none fits,
/// the lowest. Layers are ordered by their measured rate. Against flapping: a layer above
/// `current` must fit with a quarter to spare; `current` is kept while it fits.
fn choose(layers: &BTreeMap<Layer, Meter>, budget: Option<u64>, current: &Layer) -> Layer {
    let mut by_rate: Vec<(&Layer, u64)> = layers.iter().map(|(l, m)| (l, m.bps)).collect();
    // By measured rate; before there is one, by the rid's name (`l` < `m` < `h`).
    by_rate.sort_by_key(|(l, bps)| (*bps, rank(l)));
    let lowest = by_rate.first().map(|(l, _)| (*l).clone()).unwrap_or(None);
    let Some(budget) = budget else {
        return lowest;
    };
    let current_at = by_rate.iter().position(|(l, _)| *l == current);
    by_rate
        .iter()
        .enumerate()
        .rev()
        .find(|(i, (_, bps))| {
            let up = current_at.is_none_or(|c| *i > c);
            *bps > 0
                && if up {
                    bps.saturating_mul(5) / 4 <= budget
                } else {
                    *bps <= budget
                }
        })
        .map(|(_, (l, _))| (*l).clone())
        .unwrap_or(lowest)
}

/// The order of the rids Trygg's call page sends, lowest first.
fn rank(layer: &Layer) -> u8 {
    match layer.as_deref() {
        Some("l") => 0,
        Some("m") => 1,
        Some("h") => 2,
        _ => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ROOM: RoomKey = (1, 1);

    fn pkt(seq: u64, ts: u32, key: bool) -> Packet {
        Packet {
            seq,
            ts,
            keyframe_start: key,
            size: 1000,
            picture_id: None,
            tl0: None,
        }
    }

    fn mapped(r: &mut Router, receiver: PeerId, owner: PeerId, mid: &str, out: &str) {
        r.set_out_mid(
            receiver,
            &SourceKey {
                owner,
                mid: mid.into(),
            },
            out,
        );
    }

    #[test]
    fn media_goes_only_to_the_other_peers_of_the_same_room() {
        let mut r = Router::new();
        let t = Instant::now();
        r.add_peer(1, ROOM);
        r.add_peer(2, ROOM);
        r.add_peer(3, (9, 9));
        assert_eq!(r.publish(1, "0", Kind::Audio), vec![2]);
        mapped(&mut r, 2, 1, "0", "5");
        mapped(&mut r, 3, 1, "0", "5");
        let d = r.route(t, 1, "0", &None, &pkt(100, 960, false));
        assert_eq!(
            d,
            vec![Delivery {
                to: 2,
                mid: "5".into(),
                seq: 100,
                ts: 960,
                vp8: None,
            }]
        );
        assert!(r.may_forward(1, 2) && !r.may_forward(1, 3) && !r.may_forward(1, 1));
        // VC-ENC-1: a removed peer gets nothing more, at once, and its mids are stopped.
        assert_eq!(r.remove_peer(2), vec![]);
        assert!(r.route(t, 1, "0", &None, &pkt(101, 1920, false)).is_empty());
        r.add_peer(2, ROOM);
        mapped(&mut r, 2, 1, "0", "7");
        assert_eq!(r.remove_peer(1), vec![(2, "7".into())]);
        assert_eq!(r.room_count(), 2);
        r.remove_peer(2);
        r.remove_peer(3);
        assert_eq!((r.room_count(), r.peer_count()), (0, 0));
    }

    #[test]
    fn a_late_joiner_subscribes_to_what_is_published_and_asks_a_keyframe() {
        let mut r = Router::new();
        r.add_peer(1, ROOM);
        r.publish(1, "1", Kind::Video);
        r.add_peer(2, ROOM);
        let un = r.unmapped(2);
        assert_eq!(un.len(), 1);
        assert_eq!(un[0].1, Kind::Video);
        mapped(&mut r, 2, 1, "1", "3");
        assert!(r.unmapped(2).is_empty());
        let k = r.take_keyframe_requests();
        assert_eq!(k.len(), 1);
        assert_eq!(k[0].source.owner, 1);
        // Video starts at a keyframe only.
        let t = Instant::now();
        assert!(r.route(t, 1, "1", &None, &pkt(10, 0, false)).is_empty());
        assert_eq!(r.route(t, 1, "1", &None, &pkt(11, 3000, true)).len(), 1);
        assert_eq!(r.route(t, 1, "1", &None, &pkt(12, 3000, false)).len(), 1);
    }

    #[test]
    fn layers_switch_at_a_keyframe_with_continuous_numbering() {
        let mut r = Router::new();
        let t0 = Instant::now();
        r.add_peer(1, ROOM);
        r.add_peer(2, ROOM);
        r.publish(1, "1", Kind::Video);
        mapped(&mut r, 2, 1, "1", "4");
        let l: Layer = Some("l".into());
        let h: Layer = Some("h".into());
        // A second of both layers, low at 80 kbit/s and high at 800 kbit/s.
        let mut seq_l = 1000;
        let mut seq_h = 50_000;
        let mut forwarded = Vec::new();
        for i in 0..=10u32 {
            let t = t0 + Duration::from_millis(u64::from(i) * 100);
            forwarded.extend(r.route(
                t,
                1,
                "1",
                &l,
                &Packet {
                    seq: seq_l,
                    ts: i * 9000,
                    keyframe_start: i == 0,
                    size: 1000,
                    picture_id: Some(100 + i as u16),
                    tl0: None,
                },
            ));
            seq_l += 1;
            r.route(
                t,
                1,
                "1",
                &h,
                &Packet {
                    seq: seq_h,
                    ts: 7 + i * 9000,
                    keyframe_start: false,
                    size: 10_000,
                    picture_id: Some(7000 + i as u16),
                    tl0: None,
                },
            );
            seq_h += 1;
        }
        assert_eq!(forwarded.len(), 11, "the low layer is forwarded first");
        r.take_keyframe_requests();
        // A high estimate: the high layer is wanted, a keyframe asked of the sender.
        r.set_estimate(2, 5_000_000);
        let k = r.take_keyframe_requests();
        assert_eq!(k.len(), 1);
        assert_eq!(k[0].layer, Some(h.clone()));
        let t = t0 + Duration::from_millis(1200);
        // Until the keyframe, the low layer continues; high is not forwarded.
        assert!(r
            .route(t, 1, "1", &h, &pkt(seq_h, 99_000, false))
            .is_empty());
        let d = r.route(t, 1, "1", &l, &pkt(seq_l, 99_000, false));
        assert_eq!(d[0].seq, 1011);
        let mut key = pkt(seq_h + 1, 108_000, true);
        key.picture_id = Some(7012);
        let d = r.route(t, 1, "1", &h, &key);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].seq, 1012, "numbering continues across the switch");
        assert_eq!(d[0].ts, 99_000 + SWITCH_GAP);
        // The last low picture id forwarded was 110: the high layer's continues from 111.
        assert_eq!(d[0].vp8, Some((Some(111), None)));
        // The old layer is no longer forwarded.
        assert!(r
            .route(t, 1, "1", &l, &pkt(seq_l + 1, 108_000, false))
            .is_empty());
        let d = r.route(t, 1, "1", &h, &pkt(seq_h + 2, 108_000, false));
        assert_eq!(d[0].seq, 1013);
    }

    proptest! {
        /// Whatever peers join, publish, leave and send, a packet is delivered only to another
        /// peer of the sender's room, on a mid negotiated for that source, and never to a peer
        /// that has left (VC-ENC-1).
        #[test]
        fn deliveries_only_within_a_room(ops in proptest::collection::vec((0u8..6, 0u64..5, 0u8..2, 0u64..400, any::<bool>()), 1..200)) {
            let mut r = Router::new();
            let mut rooms: HashMap<PeerId, RoomKey> = HashMap::new();
            let t = Instant::now();
            for (op, peer, room, seq, key) in ops {
                match op {
                    0 => { r.add_peer(peer, (u128::from(room), 0)); rooms.insert(peer, (u128::from(room), 0)); }
                    1 => { r.remove_peer(peer); rooms.remove(&peer); }
                    2 => { r.publish(peer, "v", Kind::Video); r.publish(peer, "a", Kind::Audio); }
                    3 => {
                        for (k, _) in r.unmapped(peer) { let m = format!("{}-{}", k.owner, k.mid); r.set_out_mid(peer, &k, &m); }
                    }
                    4 => r.set_estimate(peer, seq * 10_000),
                    _ => {
                        for mid in ["v", "a"] {
                            let layer = if seq % 2 == 0 { Some("l".to_owned()) } else { None };
                            for d in r.route(t, peer, mid, &layer, &pkt(seq, seq as u32, key)) {
                                prop_assert!(d.to != peer);
                                prop_assert!(rooms.contains_key(&d.to) && rooms.contains_key(&peer));
                                prop_assert_eq!(rooms.get(&d.to), rooms.get(&peer));
                                prop_assert_eq!(d.mid.to_string(), format!("{peer}-{mid}"));
                            }
                        }
                    }
                }
            }
        }

        /// The rewritten numbering of one receiver never goes back across switches.
        #[test]
        fn rewritten_sequence_numbers_rise_across_switches(steps in proptest::collection::vec((0u8..3, 1u64..5, any::<bool>()), 1..300)) {
            let mut w = Rewriter::default();
            let mut seqs: HashMap<u8, u64> = HashMap::new();
            let mut last_out: Option<u64> = None;
            let mut last_layer: Option<Layer> = None;
            for (layer_n, step, key) in steps {
                let s = seqs.entry(layer_n).or_insert(u64::from(layer_n) * 10_000 + 1);
                *s += step;
                let layer = Some(layer_n.to_string());
                if let Some(Mapped { seq, .. }) = w.map(&layer, &pkt(*s, 0, key), key) {
                    if last_layer.as_ref() != Some(&layer) {
                        if let Some(prev) = last_out { prop_assert!(seq > prev); }
                    }
                    last_out = Some(last_out.map_or(seq, |p| p.max(seq)));
                    last_layer = Some(layer);
                }
            }
        }
    }
}
