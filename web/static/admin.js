// Administration actions: each form with data-api is sent to that API path as JSON, with the
// session's CSRF token, and the page reloads to show the result. Errors are read out in the
// status region. Only this origin is contacted.

const root = document.getElementById("admin");
const status = document.getElementById("admin-status");

function body(form) {
  const out = {};
  for (const [key, value] of new FormData(form)) {
    if (value === "") continue;
    // A date means the end of that day, in UTC.
    out[key] = key === "valid_to" ? `${value}T23:59:59Z` : value;
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
