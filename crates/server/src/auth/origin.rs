//! The site's origin at the HTTP edge: reads the `Host`, `Origin` and `Sec-Fetch-Site` headers and
//! `public_url` / TLS from the configuration, and asks `trygg_identity::origin` (the decision over
//! plain strings, re-exported here) for the WebAuthn RP ID and origin, the links' origin and the
//! same-origin check of state-changing requests.
//!
//! **Rule.** With `public_url` set, that URL's origin is the only origin. Without it, the origin is
//! taken from the request's `Host` header with the listener's scheme, and for WebAuthn the host
//! must be `localhost` (an IP address is not a valid RP ID, and without `public_url` Trygg listens
//! on loopback only, so no other name reaches it legitimately).

use axum::http::{header, HeaderMap};

pub use trygg_identity::origin::{
    host_name, is_loopback_host, valid_host, OriginError, Site, SiteOrigin,
};

use crate::config::Config;

/// The settings the origin rules need.
pub fn site(config: &Config) -> Site<'_> {
    Site {
        public_url: config.public_url.as_deref(),
        tls: config.tls(),
    }
}

/// Whether cookies must be `Secure` (HTTPS here, or behind a proxy with an `https` public URL).
pub fn secure_cookies(config: &Config) -> bool {
    site(config).secure_cookies()
}

fn host_header(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| valid_host(h))
}

/// The origin to compare `Origin` headers with: `public_url`'s, else the request's own.
pub fn expected_origin(config: &Config, headers: &HeaderMap) -> Option<String> {
    site(config).expected_origin(host_header(headers))
}

/// The site origin for WebAuthn and for links.
pub fn site_origin(config: &Config, headers: &HeaderMap) -> Result<SiteOrigin, OriginError> {
    site(config).site_origin(host_header(headers))
}

/// For a loopback IP `Host` without `public_url`: the same path on `localhost`, where passkeys
/// work.
pub fn localhost_redirect(config: &Config, headers: &HeaderMap, path: &str) -> Option<String> {
    site(config).localhost_redirect(host_header(headers), path)
}

/// Whether a request is same-origin ([`Site::same_origin`] over the request's `Host`,
/// `Sec-Fetch-Site` and `Origin`).
pub fn same_origin(config: &Config, headers: &HeaderMap) -> bool {
    site(config).same_origin(
        host_header(headers),
        headers.get("sec-fetch-site").map(|v| v.as_bytes()),
        headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()),
    )
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
