// Alerts page behaviour that htmx attributes alone cannot express (the CSP forbids inline
// handlers, so it lives here).
(function () {
  // The new-alert form answers 422 with itself and the validation errors; htmx leaves 4xx
  // answers unswapped by default, so let this one through.
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.xhr.status === 422 && event.detail.elt.closest("#new-alert-form")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // Filters left at "All" stay out of the request, so the pushed URL only names real filters.
  document.addEventListener("htmx:configRequest", function (event) {
    if (event.detail.verb !== "get" || !event.detail.elt.matches("[data-drop-empty-params]")) {
      return;
    }
    const formData = event.detail.formData;
    for (const [name, value] of Array.from(formData.entries())) {
      if (value === "") {
        formData.delete(name);
      }
    }
  });
})();
