// deskprov admin: the little the pages need beyond HTML (copy, reveal, menus, pickers, live
// previews, local times, a self-refreshing device list). Every page works without it.
"use strict";
(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";

  async function reveal(url) {
    const resp = await fetch(url, { method: "POST", headers: { "X-CSRF-Token": csrf }, credentials: "same-origin" });
    const body = await resp.json();
    if (!resp.ok) throw new Error(body.error || "not allowed");
    return body.password;
  }

  function copied(button, text) {
    const done = () => { const was = button.textContent; button.textContent = "Copied"; setTimeout(() => (button.textContent = was), 1200); };
    if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(done, done);
    else { const t = document.createElement("textarea"); t.value = text; document.body.appendChild(t); t.select(); document.execCommand("copy"); t.remove(); done(); }
    button.dataset.copied = text;
  }

  // Menus (⋮): one open at a time; Escape or a click elsewhere closes them.
  function closeMenus(except) {
    for (const m of document.querySelectorAll("details.menu[open]")) if (m !== except) m.open = false;
  }
  document.addEventListener("toggle", (event) => {
    if (event.target.matches?.("details.menu") && event.target.open) closeMenus(event.target);
  }, true);
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    const open = document.querySelector("details.menu[open]");
    if (open) { open.open = false; open.querySelector("summary").focus(); }
  });

  document.addEventListener("click", async (event) => {
    if (!event.target.closest("details.menu")) closeMenus(null);
    const button = event.target.closest("button");
    if (!button) return;
    if (button.matches(".print")) window.print();
    if (button.matches(".move-up")) {
      const member = button.closest(".member");
      member.previousElementSibling?.before(member);
      orderMembers(member.parentElement);
      button.focus();
    }
    if (button.matches(".copy-password")) {
      try { copied(button, await reveal(button.dataset.reveal)); } catch (err) { button.textContent = err.message; }
    } else if (button.matches(".copy")) copied(button, button.dataset.copy);
    if (button.matches(".reveal")) {
      const out = button.closest("td, .secret").querySelector("output.password");
      if (out.dataset.masked === "true") {
        try { out.textContent = await reveal(button.dataset.reveal); out.dataset.masked = "false"; }
        catch (err) { out.textContent = err.message; }
      } else { out.textContent = "••••••••••••"; out.dataset.masked = "true"; }
    }
  });

  document.addEventListener("submit", (event) => {
    const message = event.target.dataset.confirm;
    if (message && !window.confirm(message)) event.preventDefault();
  });

  // A refused form: the first field with a problem gets the focus (else the problem itself).
  const bad = document.querySelector("[aria-invalid='true']");
  if (bad) { bad.closest("details")?.setAttribute("open", ""); bad.focus(); }
  else {
    const problem = document.getElementById("problem");
    if (problem) { problem.tabIndex = -1; problem.focus(); }
  }

  // Members in order (teams, queues): ↑ moves one earlier; the form posts them in this order.
  function orderMembers(box) {
    const members = box.querySelectorAll(".member");
    members.forEach((m, i) => { const up = m.querySelector(".move-up"); up.hidden = false; up.disabled = i === 0; });
  }
  for (const box of document.querySelectorAll("fieldset.members")) orderMembers(box);

  // The final SIP domain, shown as the prefix is typed.
  for (const input of document.querySelectorAll("[data-domain-preview]")) {
    const out = document.querySelector(input.dataset.domainPreview);
    const show = () => (out.textContent = (input.value || "<prefix>") + out.dataset.suffix);
    input.addEventListener("input", show); show();
  }

  // Show only the fields that apply: credentials per provider, owner per scope, target per kind.
  function toggle(select, selector, attr, match) {
    const form = select.closest("form");
    const apply = () => {
      for (const box of form.querySelectorAll(selector)) {
        const on = match(box.getAttribute(attr), select.value);
        box.hidden = !on;
        for (const el of box.querySelectorAll("input, select")) el.disabled = !on;
      }
    };
    select.addEventListener("change", apply); apply();
  }
  for (const s of document.querySelectorAll("select[data-shows-credentials]")) toggle(s, "fieldset.credentials", "data-provider", (a, v) => a === v);
  for (const s of document.querySelectorAll("select[data-shows-owner]")) toggle(s, "[data-owner]", "data-owner", (a, v) => v === "user");
  for (const s of document.querySelectorAll("select[data-target-kind]")) toggle(s, "[data-target]", "data-target", (a, v) => a === v);

  // Pickers: typing asks the server for what matches; the choices are replaced by its answer.
  for (const search of document.querySelectorAll("input[data-pick]")) {
    const select = document.getElementById(search.dataset.pickFor);
    let timer = null;
    search.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(async () => {
        const url = new URL(search.dataset.pick, location.href);
        url.searchParams.set("q", search.value.trim());
        const resp = await fetch(url, { credentials: "same-origin" });
        if (!resp.ok) return;
        const found = await resp.json();
        const keep = [...select.options].filter((o) => o.value === "" || o.selected);
        select.replaceChildren(...keep);
        for (const item of found) {
          if (keep.some((o) => o.value === item.id)) continue;
          select.add(new Option(item.text, item.id));
        }
        if (found.length && !select.value) select.value = found[0].id;
      }, 200);
    });
  }

  // Times in the reader's own time zone.
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const format = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  function localTimes(root) {
    for (const t of root.querySelectorAll("time[datetime]")) {
      const when = new Date(t.getAttribute("datetime"));
      if (!isNaN(when)) { t.textContent = format.format(when); t.title = t.getAttribute("datetime"); }
    }
    for (const z of root.querySelectorAll(".tz")) z.textContent = zone;
  }
  localTimes(document);

  // A list that refreshes itself (devices), while the page is in view and no menu is open.
  for (const region of document.querySelectorAll("[data-refresh]")) {
    const seconds = Number(region.dataset.refresh) || 15;
    setInterval(async () => {
      if (document.hidden || region.querySelector("details[open]") || region.contains(document.activeElement)) return;
      const resp = await fetch(location.href, { credentials: "same-origin" });
      if (!resp.ok) return;
      const fresh = new DOMParser().parseFromString(await resp.text(), "text/html").getElementById(region.id);
      if (!fresh) return;
      region.replaceChildren(...fresh.childNodes);
      localTimes(region);
      region.dataset.refreshed = String(Date.now());
    }, seconds * 1000);
  }
})();
