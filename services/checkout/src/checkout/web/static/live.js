// Live rows that hold a form: when a live update replaces a row (htmx-ext-sse), what the person
// had typed into its fields and not yet saved is put back, so another manager's change or a new
// reservation never wipes a count being typed. htmx itself keeps the focus (by the field's id).
(() => {
  "use strict";
  document.addEventListener("htmx:sseBeforeMessage", (event) => {
    const fields = event.target.querySelectorAll ? event.target.querySelectorAll("input[id]") : [];
    const typed = [...fields].filter((f) => f.value !== f.defaultValue).map((f) => [f.id, f.value]);
    if (!typed.length) return;
    // The swap runs right after this handler, in the same task: put the words back once it is done.
    queueMicrotask(() => {
      for (const [id, value] of typed) {
        const field = document.getElementById(id);
        if (field) field.value = value;
      }
    });
  });
})();
