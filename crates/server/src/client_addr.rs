//! The client's address behind reverse proxies (review finding 5). The TCP peer is the client
//! unless it is one of the `trusted_proxies`; then the client is read from `Forwarded` (RFC 7239,
//! preferred) or `X-Forwarded-For`, walking the chain from the right (the hop nearest to us) and
//! stopping at the first address that is not a trusted proxy. A header sent by anyone else is
//! ignored, so a client cannot pick the address its attempts are counted under, and a hostile or
//! malformed header falls back to the peer: it never panics and never names an address the
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
pub fn resolve(peer: IpAddr, headers: &HeaderMap, proxies: &[IpNet]) -> IpAddr {
    let peer = canonical(peer);
    if !trusted(peer, proxies) {
        return peer;
    }
    let chain = if headers.contains_key("forwarded") {
        forwarded_chain(headers)
    } else if headers.contains_key("x-forwarded-for") {
        header_list(headers, "x-forwarded-for").and_then(|items| {
            items
                .iter()
                .map(|i| parse_node(i))
                .collect::<Option<Vec<_>>>()
        })
    } else {
        return peer;
    };
    let Some(chain) = chain.filter(|c| !c.is_empty() && c.len() <= MAX_HOPS) else {
        return peer;
    };
    let mut client = peer;
    for hop in chain.into_iter().rev() {
        client = canonical(hop);
        if !trusted(client, proxies) {
            break;
        }
    }
    client
}

/// Every value of a header, joined in order and split at commas; `None` if a value is not text
/// or there are too many items.
fn header_list(headers: &HeaderMap, name: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    for v in headers.get_all(name) {
        for item in v.to_str().ok()?.split(',') {
            out.push(item.trim().to_owned());
            if out.len() > MAX_HOPS {
                return None;
            }
        }
    }
    Some(out)
}

/// The `for=` of each element of `Forwarded`. An element without `for=`, or with an unknown or
/// obfuscated one, makes the header unusable.
fn forwarded_chain(headers: &HeaderMap) -> Option<Vec<IpAddr>> {
    header_list(headers, "forwarded")?
        .iter()
        .map(|element| {
            let node = element.split(';').find_map(|pair| {
                let (k, v) = pair.split_once('=')?;
                k.trim().eq_ignore_ascii_case("for").then(|| v.trim())
            })?;
            let node = node
                .strip_prefix('"')
                .and_then(|n| n.strip_suffix('"'))
                .unwrap_or(node);
            parse_node(node)
        })
        .collect()
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
        let long = vec!["192.0.2.1"; MAX_HOPS + 1].join(",");
        for bad in [
            ("forwarded", "for=unknown"),
            ("forwarded", "for=_hidden"),
            ("forwarded", "proto=https"),
            ("forwarded", "for=\"[2001:db8::1\""),
            ("forwarded", ""),
            ("x-forwarded-for", "not-an-ip"),
            ("x-forwarded-for", "192.0.2.1,,"),
            ("x-forwarded-for", "999.0.0.1"),
            ("x-forwarded-for", long.as_str()),
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
