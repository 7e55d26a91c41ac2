// Members page behaviour that htmx attributes alone cannot express (the CSP forbids inline
// handlers, so it lives here).
(function () {
  // A refused change (409: the last admin; 422: a bad invitation) answers with the row or
  // form again, carrying the reason; htmx leaves 4xx unswapped unless told.
  document.addEventListener("htmx:beforeSwap", function (event) {
    const status = event.detail.xhr.status;
    const target = event.detail.target;
    if ((status === 400 || status === 409 || status === 422) && target &&
        target.closest("[data-swap-errors]")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // The one-time invitation link's copy button.
  document.addEventListener("click", function (event) {
    const button = event.target.closest("[data-copy-target]");
    if (!button) {
      return;
    }
    const field = document.querySelector(button.dataset.copyTarget);
    if (!field) {
      return;
    }
    field.select();
    const done = function () { button.textContent = "Copied"; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done, function () {
        document.execCommand("copy");
        done();
      });
    } else {
      document.execCommand("copy");
      done();
    }
  });
})();
