//! The site's origin, for WebAuthn (RP ID and origin), for links Trygg hands out, and for the
//! same-origin check of state-changing requests.
//!
//! **Rule.** With `public_url` set, that URL's origin is the only origin. Without it, the origin is
//! taken from the request's `Host` header with the listener's scheme, and for WebAuthn the host
//! must be `localhost` (an IP address is not a valid RP ID, and without `public_url` Trygg listens
//! on loopback only, so no other name reaches it legitimately).

use axum::http::{header, HeaderMap};
use webauthn_rs::prelude::Url;

use crate::config::Config;

/// Why no usable origin could be worked out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OriginError {
    /// The request has no usable `Host` header.
    #[error("the request names no host")]
    NoHost,
    /// A loopback IP address: passkeys need the name `localhost`.
    #[error("passkeys need the address http://localhost:<port>, not an IP address")]
    UseLocalhost,
    /// A host that is not loopback while `public_url` is unset.
    #[error("set public_url to the address people use to reach Trygg")]
    NotConfigured,
    /// `public_url` does not parse.
    #[error("public_url is not a valid URL")]
    BadPublicUrl,
}

/// The site origin a request is served under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteOrigin {
    /// `scheme://host[:port]`.
    pub origin: Url,
    /// The WebAuthn relying party id (the host name).
    pub rp_id: String,
}

impl SiteOrigin {
    /// The origin as text without a trailing slash, e.g. `http://localhost:8080`.
    pub fn as_str(&self) -> String {
        self.origin.as_str().trim_end_matches('/').to_owned()
    }
}

fn scheme(config: &Config) -> &'static str {
    if config.tls() {
        "https"
    } else {
        "http"
    }
}

/// Whether cookies must be `Secure` (HTTPS here, or behind a proxy with an `https` public URL).
pub fn secure_cookies(config: &Config) -> bool {
    config.tls()
        || config
            .public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"))
}

fn host_header(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| !h.is_empty() && !h.contains(['/', '@', ' ', '?', '#']))
}

/// The host part of a `Host` value (no port; IPv6 without brackets).
pub fn host_name(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

/// Whether a `Host` value names this machine's loopback.
pub fn is_loopback_host(host: &str) -> bool {
    let name = host_name(host);
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The origin to compare `Origin` headers with: `public_url`'s, else the request's own.
pub fn expected_origin(config: &Config, headers: &HeaderMap) -> Option<String> {
    if let Some(u) = &config.public_url {
        return Url::parse(u).ok().map(|u| u.origin().ascii_serialization());
    }
    host_header(headers).map(|h| format!("{}://{}", scheme(config), h.to_ascii_lowercase()))
}

/// The site origin for WebAuthn and for links.
pub fn site_origin(config: &Config, headers: &HeaderMap) -> Result<SiteOrigin, OriginError> {
    if let Some(u) = &config.public_url {
        let url = Url::parse(u).map_err(|_| OriginError::BadPublicUrl)?;
        let rp_id = url.host_str().ok_or(OriginError::BadPublicUrl)?.to_owned();
        let origin = Url::parse(&url.origin().ascii_serialization())
            .map_err(|_| OriginError::BadPublicUrl)?;
        return Ok(SiteOrigin { origin, rp_id });
    }
    let host = host_header(headers).ok_or(OriginError::NoHost)?;
    let name = host_name(host);
    if name.eq_ignore_ascii_case("localhost") {
        let origin = Url::parse(&format!(
            "{}://{}",
            scheme(config),
            host.to_ascii_lowercase()
        ))
        .map_err(|_| OriginError::NoHost)?;
        return Ok(SiteOrigin {
            origin,
            rp_id: "localhost".to_owned(),
        });
    }
    if is_loopback_host(host) {
        return Err(OriginError::UseLocalhost);
    }
    Err(OriginError::NotConfigured)
}

/// For a loopback IP `Host` without `public_url`: the same path on `localhost`, where passkeys
/// work.
pub fn localhost_redirect(config: &Config, headers: &HeaderMap, path: &str) -> Option<String> {
    if config.public_url.is_some() {
        return None;
    }
    let host = host_header(headers)?;
    let name = host_name(host);
    if name.eq_ignore_ascii_case("localhost") || !is_loopback_host(host) {
        return None;
    }
    let port = if host.starts_with('[') {
        host.rsplit_once("]:").map(|(_, p)| p)
    } else {
        host.rsplit_once(':').map(|(_, p)| p)
    };
    let port = port.filter(|p| p.bytes().all(|b| b.is_ascii_digit()));
    Some(match port {
        Some(p) => format!("{}://localhost:{p}{path}", scheme(config)),
        None => format!("{}://localhost{path}", scheme(config)),
    })
}

/// Whether a request is same-origin. `Sec-Fetch-Site`, when sent (every current browser does),
/// must be `same-origin`; `Origin`, when sent and not `null`, must equal the expected origin; and
/// at least one of the two must vouch for the request. (Under `Referrer-Policy: no-referrer`
/// browsers send `Origin: null` with a form post, so for forms `Sec-Fetch-Site` decides.)
pub fn same_origin(config: &Config, headers: &HeaderMap) -> bool {
    let site = headers.get("sec-fetch-site").map(|v| v.as_bytes());
    if site.is_some_and(|s| s != b"same-origin") {
        return false;
    }
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .filter(|o| *o != "null");
    match origin {
        Some(o) => expected_origin(config, headers).is_some_and(|e| e.eq_ignore_ascii_case(o)),
        None => site.is_some(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn loopback_defaults_to_localhost() {
        let c = Config::default();
        let o = site_origin(&c, &headers(&[("host", "localhost:8080")])).unwrap();
        assert_eq!(o.rp_id, "localhost");
        assert_eq!(o.as_str(), "http://localhost:8080");
        assert_eq!(
            site_origin(&c, &headers(&[("host", "127.0.0.1:8080")])),
            Err(OriginError::UseLocalhost)
        );
        assert_eq!(
            localhost_redirect(&c, &headers(&[("host", "127.0.0.1:8080")]), "/personell"),
            Some("http://localhost:8080/personell".into())
        );
        assert_eq!(
            localhost_redirect(&c, &headers(&[("host", "[::1]:9")]), "/x"),
            Some("http://localhost:9/x".into())
        );
        assert_eq!(
            site_origin(&c, &headers(&[("host", "evil.example")])),
            Err(OriginError::NotConfigured)
        );
    }

    #[test]
    fn public_url_wins() {
        let c = Config {
            public_url: Some("https://trygg.example.no/".into()),
            ..Config::default()
        };
        let o = site_origin(&c, &headers(&[("host", "localhost:1")])).unwrap();
        assert_eq!(o.rp_id, "trygg.example.no");
        assert_eq!(o.as_str(), "https://trygg.example.no");
        assert!(secure_cookies(&c));
        assert!(same_origin(
            &c,
            &headers(&[("origin", "https://trygg.example.no")])
        ));
        assert!(!same_origin(
            &c,
            &headers(&[("origin", "https://evil.example")])
        ));
    }

    #[test]
    fn same_origin_needs_origin_or_fetch_metadata() {
        let c = Config::default();
        let h = |o: &str| headers(&[("host", "localhost:8080"), ("origin", o)]);
        assert!(same_origin(&c, &h("http://localhost:8080")));
        assert!(!same_origin(&c, &h("http://localhost:8081")));
        assert!(!same_origin(&c, &h("null")));
        assert!(same_origin(
            &c,
            &headers(&[
                ("host", "localhost:8080"),
                ("origin", "null"),
                ("sec-fetch-site", "same-origin")
            ])
        ));
        assert!(!same_origin(
            &c,
            &headers(&[
                ("host", "localhost:8080"),
                ("origin", "http://localhost:8080"),
                ("sec-fetch-site", "same-site")
            ])
        ));
        assert!(!same_origin(&c, &headers(&[("host", "localhost:8080")])));
        assert!(same_origin(
            &c,
            &headers(&[
                ("host", "localhost:8080"),
                ("sec-fetch-site", "same-origin")
            ])
        ));
        assert!(!same_origin(
            &c,
            &headers(&[("host", "localhost:8080"), ("sec-fetch-site", "cross-site")])
        ));
    }
}
