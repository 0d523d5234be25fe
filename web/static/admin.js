// Administration actions: each form with data-api is sent to that API path as JSON, with the
// session's CSRF token, and the page reloads to show the result. Errors are read out in the
// status region. Only this origin is contacted.

const root = document.getElementById("admin");
const status = document.getElementById("admin-status");

function value(el, raw) {
  // Compliance forms (issue #15) say what a field holds: a number, a yes/no, a time in the
  // browser's zone (sent as UTC), lines, or measures as "what | owner | YYYY-MM-DD" lines.
  if (el.type === "number") return Number(raw);
  if (el.type === "checkbox") return true;
  switch (el.dataset.kind) {
    case "bool": return raw === "true";
    case "time": return new Date(raw).toISOString();
    case "lines": return raw.split("\n").map((l) => l.trim()).filter((l) => l !== "");
    case "measures":
      return raw.split("\n").map((l) => l.trim()).filter((l) => l !== "").map((l) => {
        const [what = "", owner = "", due = ""] = l.split("|").map((x) => x.trim());
        return { what, owner, due };
      });
    default: return raw;
  }
}

function body(form) {
  const out = {};
  if (form.dataset.shape === "incident") out.facts = {};
  for (const el of form.elements) {
    if (!el.name || el.disabled || el.type === "submit") continue;
    // A radio group (a case's outcome, issue #16) sends the one chosen.
    if ((el.type === "checkbox" || el.type === "radio") && !el.checked) continue;
    const raw = el.value;
    if (raw === "") continue;
    // A date means the end of that day, in UTC.
    const v = el.name === "valid_to" ? `${raw}T23:59:59Z` : value(el, raw);
    if (el.name.startsWith("facts.")) out.facts[el.name.slice(6)] = v;
    else out[el.name] = v;
  }
  return out;
}

if (root && sessionStorage.getItem("trygg-admin-saved")) {
  sessionStorage.removeItem("trygg-admin-saved");
  status.textContent = root.dataset.msgSaved;
  status.focus();
}

if (root) {
  for (const form of root.querySelectorAll("form[data-api]")) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const res = await fetch(form.dataset.api, {
        method: "POST",
        headers: { "content-type": "application/json", "x-csrf-token": root.dataset.csrf },
        body: JSON.stringify(body(form)),
        credentials: "same-origin",
      });
      if (res.ok) {
        // Post/redirect/get: the page reloads to show the result, and says so there.
        sessionStorage.setItem("trygg-admin-saved", "1");
        location.reload();
      } else {
        const problem = await res.json().catch(() => ({}));
        status.textContent = problem.detail ?? `HTTP ${res.status}`;
        status.focus();
      }
    });
  }
}
