//! The client's address behind reverse proxies (review finding 5). The TCP peer is the client
//! unless it is one of the `trusted_proxies`; then the client is read from `Forwarded` (RFC 7239,
//! preferred) or `X-Forwarded-For`, walking the chain from the right (the hop nearest to us) and
//! stopping at the first address that is not a trusted proxy. A header sent by anyone else is
//! ignored, so a client cannot pick the address its attempts are counted under; a hostile or
//! malformed entry ends the walk where it stands (what a client writes at the left of the header
//! cannot hide the address its proxy appended): it never panics and never names an address the
//! proxy did not write. The resolved address is what the per-address throttle counts and what
//! every audit entry records as "from where" (Normen section 4).

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use axum::http::HeaderMap;

/// The most hops read from a forwarding header; a longer chain is treated as malformed.
const MAX_HOPS: usize = 32;

pub use trygg_core::net::{canonical, BadNet, IpNet};

fn trusted(ip: IpAddr, proxies: &[IpNet]) -> bool {
    proxies.iter().any(|n| n.contains(ip))
}

/// The client's address for a request from `peer` with `headers` (see the module doc).
///
/// Only the hops nearest to us are read, from the right: each one is believed only while the hop
/// before it (initially the peer) is a trusted proxy, and the walk stops at the first entry that
/// does not parse. So whatever a client writes at the left of the header (garbage, a forged
/// address, thousands of entries) can neither hide the address its proxy appended nor make Trygg
/// fall back to the proxy's own address.
pub fn resolve(peer: IpAddr, headers: &HeaderMap, proxies: &[IpNet]) -> IpAddr {
    let peer = canonical(peer);
    if !trusted(peer, proxies) {
        return peer;
    }
    let (name, parse): (&str, NodeParser) = if headers.contains_key("forwarded") {
        ("forwarded", forwarded_node)
    } else if headers.contains_key("x-forwarded-for") {
        ("x-forwarded-for", |item| {
            parse_node(std::str::from_utf8(item).ok()?)
        })
    } else {
        return peer;
    };
    let mut client = peer;
    for item in last_items(headers, name) {
        let Some(hop) = parse(&item) else { break };
        client = canonical(hop);
        if !trusted(client, proxies) {
            break;
        }
    }
    client
}

/// Reads one hop of a forwarding header.
type NodeParser = fn(&[u8]) -> Option<IpAddr>;

/// The last [`MAX_HOPS`] comma-separated items of every value of a header, nearest hop first.
/// Read as bytes, so a value that is not text spoils only the items that are not.
fn last_items(headers: &HeaderMap, name: &str) -> Vec<Vec<u8>> {
    let mut items = std::collections::VecDeque::with_capacity(MAX_HOPS + 1);
    for v in headers.get_all(name) {
        for item in v.as_bytes().split(|b| *b == b',') {
            items.push_back(item.trim_ascii().to_vec());
            if items.len() > MAX_HOPS {
                items.pop_front();
            }
        }
    }
    items.into_iter().rev().collect()
}

/// The `for=` node of one element of `Forwarded`, if it has a usable one.
fn forwarded_node(element: &[u8]) -> Option<IpAddr> {
    let element = std::str::from_utf8(element).ok()?;
    let node = element.split(';').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        k.trim().eq_ignore_ascii_case("for").then(|| v.trim())
    })?;
    let node = node
        .strip_prefix('"')
        .and_then(|n| n.strip_suffix('"'))
        .unwrap_or(node);
    parse_node(node)
}

/// `192.0.2.1`, `192.0.2.1:443`, `[2001:db8::1]`, `[2001:db8::1]:443` or a bare IPv6 address.
fn parse_node(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Some(sa.ip());
    }
    let inner = s.strip_prefix('[')?.strip_suffix(']')?;
    inner.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn blocks_parse_and_contain() {
        let n: IpNet = "10.1.0.0/16".parse().unwrap();
        assert!(n.contains(ip("10.1.200.3")));
        assert!(!n.contains(ip("10.2.0.1")));
        assert!(n.contains(ip("::ffff:10.1.0.9")));
        let all: IpNet = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("203.0.113.9")));
        assert!(!all.contains(ip("2001:db8::1")));
        let v6: IpNet = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains(ip("2001:db8:ffff::1")));
        for bad in [
            "",
            "10.0.0.1/33",
            "2001:db8::/129",
            "x",
            "10.0.0.0/-1",
            "10.0.0.0/",
        ] {
            assert!(bad.parse::<IpNet>().is_err(), "{bad}");
        }
    }

    #[test]
    fn headers_from_an_untrusted_peer_are_ignored() {
        let h = headers(&[
            ("x-forwarded-for", "198.51.100.7"),
            ("forwarded", "for=1.2.3.4"),
        ]);
        assert_eq!(resolve(ip("203.0.113.5"), &h, &[]), ip("203.0.113.5"));
        assert_eq!(
            resolve(ip("203.0.113.5"), &h, &nets(&["10.0.0.0/8"])),
            ip("203.0.113.5")
        );
    }

    #[test]
    fn the_chain_is_walked_from_the_right_to_the_first_untrusted_hop() {
        let p = nets(&["10.0.0.0/8"]);
        // The client forged the leftmost entry; the proxy appended the real one.
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.0.0.2")]);
        assert_eq!(resolve(ip("10.0.0.1"), &h, &p), ip("198.51.100.7"));
        let h = headers(&[
            ("forwarded", "for=6.6.6.6"),
            (
                "forwarded",
                "for=\"[2001:db8:cafe::17]:4711\";proto=https, for=10.0.0.2:80",
            ),
        ]);
        assert_eq!(resolve(ip("10.0.0.1"), &h, &p), ip("2001:db8:cafe::17"));
        // Forwarded wins over X-Forwarded-For.
        let h = headers(&[
            ("forwarded", "for=192.0.2.60"),
            ("x-forwarded-for", "192.0.2.61"),
        ]);
        assert_eq!(resolve(ip("10.0.0.1"), &h, &p), ip("192.0.2.60"));
        // Every hop trusted: the leftmost is the client as far as anyone knows.
        let h = headers(&[("x-forwarded-for", "10.9.9.9")]);
        assert_eq!(resolve(ip("10.0.0.1"), &h, &p), ip("10.9.9.9"));
        // No header: the proxy itself.
        assert_eq!(
            resolve(ip("10.0.0.1"), &HeaderMap::new(), &p),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn malformed_headers_fall_back_to_the_peer() {
        let p = nets(&["127.0.0.1"]);
        let peer = ip("127.0.0.1");
        for bad in [
            ("forwarded", "for=unknown"),
            ("forwarded", "for=_hidden"),
            ("forwarded", "proto=https"),
            ("forwarded", "for=\"[2001:db8::1\""),
            ("forwarded", ""),
            ("x-forwarded-for", "not-an-ip"),
            ("x-forwarded-for", "192.0.2.1,,"),
            ("x-forwarded-for", "999.0.0.1"),
        ] {
            assert_eq!(resolve(peer, &headers(&[bad]), &p), peer, "{bad:?}");
        }
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_bytes(b"\xff\xfe").unwrap(),
        );
        assert_eq!(resolve(peer, &h, &p), peer);
    }

    #[test]
    fn what_a_client_writes_at_the_left_cannot_hide_the_address_its_proxy_appended() {
        // Review: one unparseable item, or a chain over the hop limit, made the whole header
        // unusable and every such client "came from" the proxy, sharing its throttle budget.
        let p = nets(&["10.0.0.1"]);
        let peer = ip("10.0.0.1");
        let long = format!(
            "{}, 198.51.100.7",
            vec!["192.0.2.1"; 5 * MAX_HOPS].join(",")
        );
        for h in [
            headers(&[("x-forwarded-for", "x, 198.51.100.7")]),
            headers(&[("x-forwarded-for", "unknown,,, 198.51.100.7")]),
            headers(&[("x-forwarded-for", long.as_str())]),
            headers(&[("forwarded", "for=_hidden, for=198.51.100.7")]),
        ] {
            assert_eq!(resolve(peer, &h, &p), ip("198.51.100.7"), "{h:?}");
        }
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_bytes(b"\xff\xfe, 198.51.100.7").unwrap(),
        );
        assert_eq!(resolve(peer, &h, &p), ip("198.51.100.7"));
    }

    #[test]
    fn arbitrary_header_text_never_panics() {
        // A small deterministic fuzz: every byte string of a mutated sample.
        let sample = b"for=\"[2001:db8::1]:80\";by=x, for=192.0.2.1";
        let p = nets(&["127.0.0.1"]);
        for i in 0..sample.len() {
            for b in [
                b'[', b']', b'"', b',', b';', b'=', b':', b'/', b' ', b'9', 0x7f,
            ] {
                let mut v = sample.to_vec();
                v[i] = b;
                if let Ok(hv) = HeaderValue::from_bytes(&v) {
                    let mut h = HeaderMap::new();
                    h.insert("forwarded", hv.clone());
                    let _ = resolve(ip("127.0.0.1"), &h, &p);
                    h.insert("x-forwarded-for", hv);
                    let _ = resolve(ip("::ffff:127.0.0.1"), &h, &p);
                }
            }
        }
    }
}
