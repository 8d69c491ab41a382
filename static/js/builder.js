// The template builder's page behaviour (templates/pages/builder/editor.html): variables inserted
// where the person was typing, focus kept on the block just moved or added, and a warning before
// leaving with changes that are not saved as a version. Loaded only on the editor's page.
"use strict";

let builderLastField = null;
let builderTyped = false;

document.addEventListener("focusin", (e) => {
  if (e.target.matches && e.target.matches("[data-var-target]")) builderLastField = e.target;
});

// <button data-insert-var="name">: "{{ name }}" at the cursor of the last text field of its block.
document.addEventListener("click", (e) => {
  const button = e.target.closest("[data-insert-var]");
  if (!button) return;
  const block = button.closest(".block");
  let field = builderLastField;
  if (!field || !document.contains(field) || (block && !block.contains(field))) {
    field = block && block.querySelector(".block-body [data-var-target]");
  }
  if (!field) return;
  const text = "{{ " + button.dataset.insertVar + " }}";
  const start = field.selectionStart ?? field.value.length;
  const end = field.selectionEnd ?? field.value.length;
  field.setRangeText(text, start, end, "end");
  field.focus();
  field.dispatchEvent(new Event("input", { bubbles: true }));
});

document.addEventListener("input", (e) => {
  if (e.target.closest && e.target.closest("[data-editor]")) builderTyped = true;
});

// After a structural edit the editor is re-rendered: focus goes to the block it concerned.
document.addEventListener("htmx:afterSwap", (e) => {
  if (!e.target || e.target.id !== "editor") return;
  builderTyped = false;
  const target = document.querySelector("#editor [data-focus]");
  if (target) {
    target.setAttribute("tabindex", "-1");
    target.focus();
  }
});
// The live check answers with the error slots that have a problem: the others are emptied first.
document.addEventListener("htmx:beforeSwap", (e) => {
  if (!e.detail.elt || !e.detail.elt.matches || !e.detail.elt.matches("[data-live-check]")) return;
  document.querySelectorAll("#editor-form .field-error").forEach((slot) => { slot.textContent = ""; });
});
// A check answered: what was typed is kept as the draft.
document.addEventListener("htmx:afterSettle", () => {
  const status = document.getElementById("editor-status");
  if (status && status.dataset.unsaved === "false") builderTyped = false;
});

function builderUnsaved() {
  const status = document.getElementById("editor-status");
  return !!document.querySelector("[data-editor]") && (builderTyped || (status && status.dataset.unsaved === "true"));
}

window.addEventListener("beforeunload", (e) => {
  if (!builderUnsaved()) return;
  e.preventDefault();
  e.returnValue = "";
});

// Links followed by htmx (hx-boost) do not unload the page: ask the same question for them.
document.addEventListener("htmx:confirm", (e) => {
  const elt = e.detail.elt;
  if (!elt || elt.tagName !== "A" || !builderUnsaved() || (elt.closest && elt.closest("[data-editor]"))) return;
  e.preventDefault();
  if (window.confirm("This template has changes that are not saved as a version. Leave anyway?")) {
    e.detail.issueRequest(true);
  }
});
