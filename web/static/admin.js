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
        location.reload();
      } else {
        const problem = await res.json().catch(() => ({}));
        status.textContent = problem.detail ?? `HTTP ${res.status}`;
      }
    });
  }
}
