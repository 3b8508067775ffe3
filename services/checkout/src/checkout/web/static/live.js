// Live cards and rows that hold forms: when a live update replaces one (htmx-ext-sse), what the
// person had typed or chosen in its fields and not yet saved is put back, so another manager's
// change or a new reservation never wipes a value being entered. htmx itself keeps the focus (by
// the field's id).
(() => {
  "use strict";
  const edited = (field) =>
    field.tagName === "SELECT"
      ? [...field.options].some((option) => option.selected !== option.defaultSelected)
      : field.value !== field.defaultValue;

  document.addEventListener("htmx:sseBeforeMessage", (event) => {
    const fields = event.target.querySelectorAll ? event.target.querySelectorAll("input[id], select[id]") : [];
    const typed = [...fields].filter(edited).map((field) => [field.id, field.value]);
    if (!typed.length) return;
    // The swap runs right after this handler, in the same task: put the values back once it is done.
    queueMicrotask(() => {
      for (const [id, value] of typed) {
        const field = document.getElementById(id);
        if (field) field.value = value;
      }
    });
  });
})();
