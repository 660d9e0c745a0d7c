// deskprov admin: the little the pages need beyond HTML (copy, reveal, live previews).
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

  document.addEventListener("click", async (event) => {
    const button = event.target.closest("button");
    if (!button) return;
    if (button.matches(".copy")) copied(button, button.dataset.copy);
    if (button.matches(".print")) window.print();
    if (button.matches(".reveal")) {
      const out = button.closest("td").querySelector("output.password");
      if (out.dataset.masked === "true") {
        try { out.textContent = await reveal(button.dataset.reveal); out.dataset.masked = "false"; }
        catch (err) { out.textContent = err.message; }
      } else { out.textContent = "••••••••••••"; out.dataset.masked = "true"; }
    }
    if (button.matches(".copy-password")) {
      try { copied(button, await reveal(button.dataset.reveal)); } catch (err) { button.textContent = err.message; }
    }
  });

  document.addEventListener("submit", (event) => {
    const message = event.target.dataset.confirm;
    if (message && !window.confirm(message)) event.preventDefault();
  });

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
})();
