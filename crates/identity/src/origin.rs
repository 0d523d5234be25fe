//! The site's origin, for WebAuthn (RP ID and origin), for links Trygg hands out, and for the
//! same-origin check of state-changing requests, decided over plain strings: the HTTP edge reads
//! the `Host`, `Origin` and `Sec-Fetch-Site` headers and passes their values in.
//!
//! **Rule.** With `public_url` set, that URL's origin is the only origin. Without it, the origin is
//! taken from the request's `Host` header with the listener's scheme, and for WebAuthn the host
//! must be `localhost` (an IP address is not a valid RP ID, and without `public_url` Trygg listens
//! on loopback only, so no other name reaches it legitimately).

use webauthn_rs::prelude::Url;

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

/// The two settings the decision needs: `public_url` and whether this listener speaks TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Site<'a> {
    /// The configured public URL, if any.
    pub public_url: Option<&'a str>,
    /// Whether Trygg itself serves HTTPS.
    pub tls: bool,
}

/// Whether a `Host` header value is usable: not empty, and nothing that would change a URL's
/// meaning (a path, user info, a query or a fragment).
pub fn valid_host(host: &str) -> bool {
    !host.is_empty() && !host.contains(['/', '@', ' ', '?', '#'])
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

impl Site<'_> {
    fn scheme(self) -> &'static str {
        if self.tls {
            "https"
        } else {
            "http"
        }
    }

    /// Whether cookies must be `Secure` (HTTPS here, or behind a proxy with an `https` public
    /// URL).
    pub fn secure_cookies(self) -> bool {
        self.tls || self.public_url.is_some_and(|u| u.starts_with("https://"))
    }

    /// The origin to compare `Origin` headers with: `public_url`'s, else the request's own
    /// (`host`, already checked with [`valid_host`]).
    pub fn expected_origin(self, host: Option<&str>) -> Option<String> {
        if let Some(u) = self.public_url {
            return Url::parse(u).ok().map(|u| u.origin().ascii_serialization());
        }
        host.map(|h| format!("{}://{}", self.scheme(), h.to_ascii_lowercase()))
    }

    /// The site origin for WebAuthn and for links.
    pub fn site_origin(self, host: Option<&str>) -> Result<SiteOrigin, OriginError> {
        if let Some(u) = self.public_url {
            let url = Url::parse(u).map_err(|_| OriginError::BadPublicUrl)?;
            let rp_id = url.host_str().ok_or(OriginError::BadPublicUrl)?.to_owned();
            let origin = Url::parse(&url.origin().ascii_serialization())
                .map_err(|_| OriginError::BadPublicUrl)?;
            return Ok(SiteOrigin { origin, rp_id });
        }
        let host = host.ok_or(OriginError::NoHost)?;
        let name = host_name(host);
        if name.eq_ignore_ascii_case("localhost") {
            let origin = Url::parse(&format!(
                "{}://{}",
                self.scheme(),
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
    pub fn localhost_redirect(self, host: Option<&str>, path: &str) -> Option<String> {
        if self.public_url.is_some() {
            return None;
        }
        let host = host?;
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
            Some(p) => format!("{}://localhost:{p}{path}", self.scheme()),
            None => format!("{}://localhost{path}", self.scheme()),
        })
    }

    /// Whether a request is same-origin. `Sec-Fetch-Site` (`fetch_site`), when sent (every
    /// current browser does), must be `same-origin`; `Origin`, when sent and not `null`, must
    /// equal the expected origin; and at least one of the two must vouch for the request. (Under
    /// `Referrer-Policy: no-referrer` browsers send `Origin: null` with a form post, so for forms
    /// `Sec-Fetch-Site` decides.)
    pub fn same_origin(
        self,
        host: Option<&str>,
        fetch_site: Option<&[u8]>,
        origin: Option<&str>,
    ) -> bool {
        if fetch_site.is_some_and(|s| s != b"same-origin") {
            return false;
        }
        match origin.filter(|o| *o != "null") {
            Some(o) => self
                .expected_origin(host)
                .is_some_and(|e| e.eq_ignore_ascii_case(o)),
            None => fetch_site.is_some(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const LOOPBACK: Site<'static> = Site {
        public_url: None,
        tls: false,
    };

    #[test]
    fn loopback_defaults_to_localhost() {
        let o = LOOPBACK.site_origin(Some("localhost:8080")).unwrap();
        assert_eq!(o.rp_id, "localhost");
        assert_eq!(o.as_str(), "http://localhost:8080");
        assert_eq!(
            LOOPBACK.site_origin(Some("127.0.0.1:8080")),
            Err(OriginError::UseLocalhost)
        );
        assert_eq!(LOOPBACK.site_origin(None), Err(OriginError::NoHost));
        assert_eq!(
            LOOPBACK.localhost_redirect(Some("127.0.0.1:8080"), "/personell"),
            Some("http://localhost:8080/personell".into())
        );
        assert_eq!(
            LOOPBACK.localhost_redirect(Some("[::1]:9"), "/x"),
            Some("http://localhost:9/x".into())
        );
        assert_eq!(LOOPBACK.localhost_redirect(Some("localhost:9"), "/x"), None);
        assert_eq!(
            LOOPBACK.site_origin(Some("evil.example")),
            Err(OriginError::NotConfigured)
        );
        let tls = Site {
            public_url: None,
            tls: true,
        };
        assert_eq!(
            tls.site_origin(Some("LOCALHOST:8443")).unwrap().as_str(),
            "https://localhost:8443"
        );
        assert!(tls.secure_cookies() && !LOOPBACK.secure_cookies());
    }

    #[test]
    fn public_url_wins() {
        let c = Site {
            public_url: Some("https://trygg.example.no/"),
            tls: false,
        };
        let o = c.site_origin(Some("localhost:1")).unwrap();
        assert_eq!(o.rp_id, "trygg.example.no");
        assert_eq!(o.as_str(), "https://trygg.example.no");
        assert!(c.secure_cookies());
        assert_eq!(c.localhost_redirect(Some("127.0.0.1:1"), "/x"), None);
        assert!(c.same_origin(None, None, Some("https://trygg.example.no")));
        assert!(!c.same_origin(None, None, Some("https://evil.example")));
        let bad = Site {
            public_url: Some("not a url"),
            tls: false,
        };
        assert_eq!(bad.site_origin(None), Err(OriginError::BadPublicUrl));
    }

    #[test]
    fn same_origin_needs_origin_or_fetch_metadata() {
        let h = Some("localhost:8080");
        let same = Some(&b"same-origin"[..]);
        assert!(LOOPBACK.same_origin(h, None, Some("http://localhost:8080")));
        assert!(!LOOPBACK.same_origin(h, None, Some("http://localhost:8081")));
        assert!(!LOOPBACK.same_origin(h, None, Some("null")));
        assert!(LOOPBACK.same_origin(h, same, Some("null")));
        assert!(!LOOPBACK.same_origin(h, Some(b"same-site"), Some("http://localhost:8080")));
        assert!(!LOOPBACK.same_origin(h, None, None));
        assert!(LOOPBACK.same_origin(h, same, None));
        assert!(!LOOPBACK.same_origin(h, Some(b"cross-site"), None));
        assert!(!LOOPBACK.same_origin(None, None, Some("http://localhost:8080")));
    }

    #[test]
    fn hosts() {
        assert!(valid_host("localhost:8080"));
        for bad in ["", "a/b", "u@h", "a b", "h?x", "h#x"] {
            assert!(!valid_host(bad), "{bad}");
        }
        assert_eq!(host_name("[::1]:80"), "::1");
        assert_eq!(host_name("example.no:443"), "example.no");
        assert!(is_loopback_host("[::1]:80") && is_loopback_host("127.0.0.2"));
        assert!(!is_loopback_host("10.0.0.1:80"));
    }
}
