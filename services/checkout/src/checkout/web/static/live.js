// Live cards and rows that hold forms: when a live update replaces one (an event through
// htmx-ext-sse, or a block asking for its data again: `data-refresh`), what the person had typed
// or chosen in its fields and not yet saved is put back, and an edit form they had opened stays
// open, so another manager's change never wipes a value being entered. The hidden fields of a form
// being edited keep their values too: they say what the form showed when the typing began (a
// stock row's `expected` total), so a save made from an older figure is refused, not applied. htmx keeps the focus (by
// the field's id) where it can; a field inside an edit form that was closed until put back here
// gets it back here, with its caret.
(() => {
  "use strict";
  const edited = (field) =>
    field.tagName === "SELECT"
      ? [...field.options].some((option) => option.selected !== option.defaultSelected)
      : field.value !== field.defaultValue;

  // What to put back once `root` is replaced: typed values and open <details>, by id.
  const keep = (root) => {
    if (!root.querySelectorAll) return;
    const changed = [...root.querySelectorAll("input[id], select[id], textarea[id]")].filter(edited);
    const forms = new Set(changed.map((field) => field.form).filter(Boolean));
    const shown = [...forms].flatMap((form) => [...form.querySelectorAll('input[type="hidden"][id]')]);
    const typed = [...changed, ...shown].map((field) => [field.id, field.value]);
    const open = [...root.querySelectorAll("details[id][open]")].map((details) => details.id);
    const active = document.activeElement;
    const focused = active && active.id && root.contains(active) ? active : null;
    const caret = focused && "selectionStart" in focused ? [focused.selectionStart, focused.selectionEnd] : null;
    if (!typed.length && !open.length) return;
    // The swap runs right after these handlers, in the same task: put things back once it is done.
    queueMicrotask(() => {
      for (const [id, value] of typed) {
        const field = document.getElementById(id);
        if (field) field.value = value;
      }
      for (const id of open) {
        const details = document.getElementById(id);
        if (details) details.open = true;
      }
      const field = focused && document.getElementById(focused.id);
      if (field && document.activeElement !== field) {
        field.focus({ preventScroll: true });
        if (caret && caret[0] !== null && field.setSelectionRange) field.setSelectionRange(caret[0], caret[1]);
      }
    });
  };

  document.addEventListener("htmx:sseBeforeMessage", (event) => keep(event.target));
  document.addEventListener("htmx:beforeSwap", (event) => {
    const target = event.detail.target;
    if (event.detail.shouldSwap && target && target.hasAttribute("data-refresh")) keep(target);
  });
})();
