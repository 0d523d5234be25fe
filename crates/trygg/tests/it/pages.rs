//! The web shell: pages render in each language, with the language control, and unknown pages get
//! a page, not a problem document.

use crate::common::TestServer;

#[tokio::test]
async fn start_page_in_each_language() {
    let s = TestServer::start().await;
    for (lang, heading) in [
        ("", "Velkommen til Trygg"),
        ("?lang=nb", "Velkommen til Trygg"),
        ("?lang=nn", "Velkomen til Trygg"),
        ("?lang=en", "Welcome to Trygg"),
    ] {
        let r = s
            .client
            .get(s.url(&format!("/{lang}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        let html = r.text().await.unwrap();
        let tag = if lang.is_empty() { "nb" } else { &lang[6..] };
        assert!(html.contains(&format!("<html lang=\"{tag}\">")), "{lang}");
        assert!(html.contains(heading), "{lang}");
        for l in ["nb", "nn", "en"] {
            assert!(
                html.contains(&format!("href=\"/?lang={l}\"")),
                "language control for {l}"
            );
        }
        assert!(!html.contains("<script>"), "no inline script");
        assert!(!html.contains("style="), "no inline style");
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "no other origin"
        );
    }
}

#[tokio::test]
async fn unknown_page_is_a_page() {
    let s = TestServer::start().await;
    let r = s
        .client
        .get(s.url("/finnes-ikke?lang=en"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let html = r.text().await.unwrap();
    assert!(html.contains("Page not found"));
}

#[tokio::test]
async fn static_assets_are_served_from_the_binary() {
    let s = TestServer::start().await;
    for (path, ct) in [
        ("/static/trygg.css", "text/css"),
        ("/static/trygg.js", "text/javascript"),
        ("/static/favicon.svg", "image/svg+xml"),
    ] {
        let r = s.client.get(s.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with(ct));
        // An SVG's XML namespace is a name, not a request; anything else with a scheme is.
        let body = r
            .text()
            .await
            .unwrap()
            .replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
        assert!(
            !body.contains("http://") && !body.contains("https://"),
            "{path} names another origin"
        );
    }
}
