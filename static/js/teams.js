// The header's space switcher (templates/partials/teams/switcher.html), a <details> menu: Escape
// closes it and gives the focus back to its button; a click elsewhere closes it too.
document.addEventListener("keydown", (event) => {
  const open = document.querySelector("#space-switcher[open]");
  if (event.key === "Escape" && open) {
    open.removeAttribute("open");
    open.querySelector("summary").focus();
  }
});
document.addEventListener("click", (event) => {
  const open = document.querySelector("#space-switcher[open]");
  if (open && !open.contains(event.target)) open.removeAttribute("open");
});
