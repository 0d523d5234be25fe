//! The media server's counters for operators, in the Prometheus text format: rooms,
//! participants, packets in and forwarded, what was dropped and why, loss and bitrate. Only
//! numbers: no room, participant, address or name is ever a label (no personal data in
//! metrics).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// The counters and gauges, shared between the media thread and the metrics endpoint.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Rooms with at least one media peer (gauge).
    pub rooms: AtomicU64,
    /// Media peers (gauge).
    pub peers: AtomicU64,
    /// UDP datagrams received.
    pub datagrams_in: AtomicU64,
    /// UDP datagrams sent.
    pub datagrams_out: AtomicU64,
    /// Bytes received.
    pub bytes_in: AtomicU64,
    /// Bytes sent.
    pub bytes_out: AtomicU64,
    /// RTP packets received from peers.
    pub rtp_in: AtomicU64,
    /// RTP packets forwarded to peers (one per receiver).
    pub rtp_forwarded: AtomicU64,
    /// Datagrams no peer accepted (unknown address, no matching ICE credentials).
    pub dropped_unknown: AtomicU64,
    /// Datagrams that are not STUN, DTLS, RTP or RTCP.
    pub dropped_malformed: AtomicU64,
    /// Datagrams dropped by the per-address rate limit (a flood).
    pub dropped_flood: AtomicU64,
    /// Peers closed because their session failed (ICE, DTLS, a protocol error) or timed out.
    pub peers_failed: AtomicU64,
    /// Keyframe requests sent to senders.
    pub keyframe_requests: AtomicU64,
    /// Incoming loss, in parts per million, averaged over the peers' last reports (gauge).
    pub loss_ppm: AtomicU64,
    /// Sum of the peers' estimated available bitrate toward them, bits per second (gauge).
    pub egress_estimate_bps: AtomicU64,
}

impl Metrics {
    /// Adds one to a counter.
    pub fn inc(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds `n` to a counter.
    pub fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }

    /// The counters in the Prometheus text exposition format.
    pub fn render(&self) -> String {
        let rows: [(&str, &str, &str, &AtomicU64); 15] = [
            (
                "trygg_media_rooms",
                "gauge",
                "Rooms with media.",
                &self.rooms,
            ),
            (
                "trygg_media_participants",
                "gauge",
                "Media participants.",
                &self.peers,
            ),
            (
                "trygg_media_datagrams_received_total",
                "counter",
                "UDP datagrams received.",
                &self.datagrams_in,
            ),
            (
                "trygg_media_datagrams_sent_total",
                "counter",
                "UDP datagrams sent.",
                &self.datagrams_out,
            ),
            (
                "trygg_media_bytes_received_total",
                "counter",
                "Bytes received.",
                &self.bytes_in,
            ),
            (
                "trygg_media_bytes_sent_total",
                "counter",
                "Bytes sent.",
                &self.bytes_out,
            ),
            (
                "trygg_media_rtp_received_total",
                "counter",
                "RTP packets received.",
                &self.rtp_in,
            ),
            (
                "trygg_media_rtp_forwarded_total",
                "counter",
                "RTP packets forwarded.",
                &self.rtp_forwarded,
            ),
            (
                "trygg_media_dropped_unknown_total",
                "counter",
                "Datagrams from no known peer.",
                &self.dropped_unknown,
            ),
            (
                "trygg_media_dropped_malformed_total",
                "counter",
                "Datagrams that are not WebRTC.",
                &self.dropped_malformed,
            ),
            (
                "trygg_media_dropped_flood_total",
                "counter",
                "Datagrams over the per-address limit.",
                &self.dropped_flood,
            ),
            (
                "trygg_media_participants_failed_total",
                "counter",
                "Media sessions that failed or timed out.",
                &self.peers_failed,
            ),
            (
                "trygg_media_keyframe_requests_total",
                "counter",
                "Keyframe requests sent.",
                &self.keyframe_requests,
            ),
            (
                "trygg_media_loss_ppm",
                "gauge",
                "Incoming packet loss, parts per million.",
                &self.loss_ppm,
            ),
            (
                "trygg_media_egress_estimate_bps",
                "gauge",
                "Estimated bitrate toward participants.",
                &self.egress_estimate_bps,
            ),
        ];
        let mut out = String::new();
        for (name, kind, help, v) in rows {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            let _ = writeln!(out, "{name} {}", v.load(Ordering::Relaxed));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_is_prometheus_text_with_every_counter() {
        let m = Metrics::default();
        Metrics::add(&m.rtp_forwarded, 42);
        let text = m.render();
        assert!(text.contains("trygg_media_rtp_forwarded_total 42\n"));
        assert_eq!(text.lines().filter(|l| l.starts_with("# TYPE")).count(), 15);
    }
}
