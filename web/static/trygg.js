// Trygg's progressive enhancement. Pages work without this file; it only adds conveniences.
// Loaded as an ES module from this origin (CSP script-src 'self'); it makes no request elsewhere.

/** Keeps the language choice when following links inside the site. */
function keepLanguage() {
  const lang = document.documentElement.lang;
  if (!lang || lang === "nb") return;
  for (const a of document.querySelectorAll("a[href^='/']")) {
    if (a.closest(".langs")) continue;
    const url = new URL(a.getAttribute("href"), location.origin);
    if (!url.searchParams.has("lang")) {
      url.searchParams.set("lang", lang);
      a.setAttribute("href", url.pathname + url.search + url.hash);
    }
  }
}

keepLanguage();
