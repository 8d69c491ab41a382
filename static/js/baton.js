// Baton's page behaviour, in one file so that the Content-Security-Policy can forbid inline scripts
// and event-handler attributes (app/web/security_headers.py). Templates opt in with data-attributes;
// the listeners are on the document, so fragments swapped in later by htmx behave the same.
"use strict";

// An HTMX request a person made (not a poll or a lazy load) that fails without a fragment of its
// own says so in #flash.
function batonFlash(text) { const el = document.getElementById("flash"); if (el) el.textContent = text; }
function byPerson(e) {
  const ev = e.detail.requestConfig && e.detail.requestConfig.triggeringEvent;
  return !!ev && !["load", "revealed", "intersect"].includes(ev.type);
}
document.addEventListener("htmx:beforeRequest", (e) => { if (byPerson(e)) batonFlash(""); });
document.addEventListener("htmx:responseError", (e) => {
  if (!byPerson(e)) return;
  const status = e.detail.xhr.status;
  batonFlash(status === 403 ? "This page has expired or the action is not allowed. Reload the page and try again."
    : status === 404 ? "That is no longer here. Reload the page."
    : status === 409 ? (e.detail.xhr.responseText || "That was already done.")
    : "Something went wrong. Nothing was lost; try again in a moment.");
});
document.addEventListener("htmx:sendError", (e) => {
  if (byPerson(e)) batonFlash("Baton could not be reached. Check your connection and try again.");
});

// <button data-clears="workflow-panel">: empties that element (closes the chat's workflow panel).
document.addEventListener("click", (e) => {
  const button = e.target.closest("[data-clears]");
  if (!button) return;
  const target = document.getElementById(button.dataset.clears);
  if (target) target.innerHTML = "";
});

// <textarea data-enter-submits>: Enter sends the form, Shift+Enter adds a line.
document.addEventListener("keydown", (e) => {
  const box = e.target.closest && e.target.closest("textarea[data-enter-submits]");
  if (!box || e.key !== "Enter" || e.shiftKey || e.isComposing) return;
  e.preventDefault();
  box.form.requestSubmit();
});

// <form data-reset-after-send>: emptied once its own request succeeded.
document.addEventListener("htmx:afterRequest", (e) => {
  const form = e.target;
  if (form.matches && form.matches("form[data-reset-after-send]") && e.detail.elt === form && e.detail.successful) {
    form.reset();
  }
});

// <form data-max-body="bytes">: files over the limit together are refused before uploading them.
document.addEventListener("htmx:beforeRequest", (e) => {
  const form = e.detail.elt;
  if (!form.matches || !form.matches("form[data-max-body]")) return;
  const size = [...form.querySelectorAll("input[type=file]")].flatMap((i) => [...i.files]).reduce((s, f) => s + f.size, 0);
  if (size > Number(form.dataset.maxBody)) {
    e.preventDefault();
    form.querySelector(".upload-too-big").hidden = false;
  }
});

// <input data-select-on-focus>: a secret shown once, selected for copying.
document.addEventListener("focusin", (e) => {
  if (e.target.matches && e.target.matches("input[data-select-on-focus]")) e.target.select();
});

// <select data-submit-on-change>: applies the choice at once (its form still has a submit button).
document.addEventListener("change", (e) => {
  if (e.target.matches && e.target.matches("[data-submit-on-change]")) e.target.form.requestSubmit();
});

// <input data-browser-time-zone>: the browser's IANA time zone (sign-up, settings), so that dates
// are shown in the person's own zone from the first page on.
function batonFillTimeZone(root) {
  let zone = "";
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (err) { return; }
  root.querySelectorAll("input[data-browser-time-zone]").forEach((input) => { if (!input.value) input.value = zone; });
  root.querySelectorAll("[data-browser-time-zone-name]").forEach((el) => { el.textContent = zone; });
}
document.addEventListener("DOMContentLoaded", () => batonFillTimeZone(document));
document.addEventListener("htmx:load", (e) => batonFillTimeZone(e.target));

// <button data-copies="element-id">: copies that element's text (a trigger's curl example).
document.addEventListener("click", (e) => {
  const button = e.target.closest && e.target.closest("[data-copies]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copies);
  if (!source || !navigator.clipboard) return;
  navigator.clipboard.writeText(source.textContent).then(() => {
    const label = button.textContent;
    button.textContent = "Copied";
    setTimeout(() => { button.textContent = label; }, 1500);
  });
});

// A conversation opens at its latest message (a long one used to open at its first, so a run card
// just started or a reply at the end was out of sight); a link to #run-<id> opens at that card.
function batonOpenConversation(root) {
  const scroller = root.querySelector && root.querySelector(".messages-scroll");
  if (!scroller) return;
  const target = location.hash.length > 1 && document.getElementById(decodeURIComponent(location.hash.slice(1)));
  if (target && scroller.contains(target)) target.scrollIntoView({ block: "start" });
  else scroller.scrollTop = scroller.scrollHeight;
}
document.addEventListener("DOMContentLoaded", () => batonOpenConversation(document));
document.addEventListener("htmx:load", (e) => batonOpenConversation(e.target)); // a boosted visit swaps the page in
// The run page's body re-reads itself on live events (templates/partials/dashboard/run_body.html): the
// steps the reader opened come back open, with their values, instead of closing under them.
document.addEventListener("htmx:configRequest", (e) => {
  const body = e.detail.elt;
  if (!body || body.id !== "run-body" || e.detail.verb !== "get") return;
  const open = [...body.querySelectorAll("details.wf-details[open][data-seq]")].map((d) => d.dataset.seq);
  if (open.length) e.detail.parameters.open = open.join(",");
});
