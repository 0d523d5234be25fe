// The messages page's forms: each form with data-api is sent to that API path as JSON, with the
// session's CSRF token; the page reloads to show the result, or reads out the problem's detail in
// the status region. Only this origin is contacted.

const root = document.getElementById("messages");
const status = document.getElementById("messages-status");

if (root) {
  for (const form of root.querySelectorAll("form[data-api]")) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = {};
      for (const [key, value] of new FormData(form)) if (value !== "") body[key] = value;
      const res = await fetch(form.dataset.api, {
        method: "POST",
        headers: { "content-type": "application/json", "x-csrf-token": root.dataset.csrf },
        body: JSON.stringify(body),
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
