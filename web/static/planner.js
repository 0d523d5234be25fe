// The personnel's consultation page (issue 10): plan a consultation through the API (the host
// is the signed-in person), show the invitation links once, enter with a fresh link of one's
// own, end or cancel. Every request carries the session's CSRF token; only this origin is
// contacted; links are shown as text, never as HTML.
const root = document.getElementById("planner");
if (root) {
  const { org, csrf, me } = root.dataset;
  const roles = JSON.parse(root.dataset.roles);
  const msgs = JSON.parse(root.dataset.msgs);
  const status = document.getElementById("planner-status");
  const api = async (path, body) => {
    const res = await fetch(`/api/v1/orgs/${encodeURIComponent(org)}/consultations${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-csrf-token": csrf },
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
    if (!res.ok) {
      const problem = await res.json().catch(() => ({}));
      // The API's refusal in the page's language where there is a text for it.
      status.textContent = msgs[problem.code] ?? problem.detail ?? `HTTP ${res.status}`;
      return null;
    }
    status.textContent = "";
    return res.status === 204 ? {} : res.json();
  };
  const form = document.getElementById("plan-form");
  form?.addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = new FormData(form);
    const body = { patient: f.get("patient"), host: me, minutes: Number(f.get("minutes") || 30) };
    if (f.get("interpreter")) body.interpreter = f.get("interpreter");
    if (f.get("start")) body.start = new Date(f.get("start")).toISOString();
    const out = await api("", body);
    if (!out) return;
    const list = document.getElementById("link-list");
    list.replaceChildren();
    for (const i of out.invitations) {
      const li = document.createElement("li");
      li.dataset.role = i.role;
      const role = document.createElement("strong");
      role.textContent = `${roles[i.role] ?? i.role}: ${i.name}`;
      const code = document.createElement("code");
      code.textContent = i.url;
      li.append(role, " ", code);
      list.append(li);
    }
    document.getElementById("links").hidden = false;
    document.getElementById("links-title").focus();
  });
  for (const b of root.querySelectorAll("[data-enter]")) {
    b.addEventListener("click", async () => {
      const out = await api(`/${b.dataset.consultation}/invitations`, { renew: b.dataset.enter });
      if (out) location.assign(new URL(out.url).pathname);
    });
  }
  // A new link for one participant (the old one stops working), shown once, as text.
  for (const b of root.querySelectorAll("[data-renew]")) {
    b.addEventListener("click", async () => {
      const out = await api(`/${b.dataset.consultation}/invitations`, { renew: b.dataset.renew });
      if (!out) return;
      const box = document.getElementById("planner-link");
      const code = document.createElement("code");
      code.textContent = out.url;
      box.replaceChildren(`${roles[out.role] ?? out.role}: ${out.name} – `, code);
    });
  }
  for (const b of root.querySelectorAll("[data-end]")) {
    b.addEventListener("click", async () => {
      if (!window.confirm(msgs["end-confirm"])) return;
      if (await api(`/${b.dataset.end}/end`)) location.reload();
    });
  }
}
