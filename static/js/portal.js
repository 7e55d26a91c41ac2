// The portal's only script: what htmx's attributes and its meta config (base.html) cannot
// express. The CSP forbids inline handlers, so it lives here, delegated on the document so it
// also works on content htmx swaps in.
(function () {
  function cookie(name) {
    const match = document.cookie.match(new RegExp("(?:^|;\\s*)" + name + "=([^;]*)"));
    return match ? decodeURIComponent(match[1]) : "";
  }

  // The CSRF double-submit header with every htmx request, read from the cookie at send
  // time, so a token refreshed by an earlier response is picked up at once.
  document.addEventListener("htmx:configRequest", function (event) {
    const meta = document.querySelector('meta[name="csrf-cookie"]');
    const token = cookie(meta ? meta.content : "portal_csrf");
    if (token) {
      event.detail.headers["X-CSRF-TOKEN"] = token;
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

  // An answer htmx does not swap (403, 404, 5xx; see responseHandling in base.html) or no
  // answer at all would otherwise leave the page silently as it was: say so, until the next
  // request gets through.
  function showRequestError(text) {
    const box = document.getElementById("request-error");
    if (box) {
      box.textContent = text;
      box.hidden = false;
    }
  }
  document.addEventListener("htmx:responseError", function (event) {
    const status = event.detail.xhr.status;
    showRequestError(status >= 500
      ? "The portal could not answer just now (" + status + "); try again in a few seconds."
      : "That request was refused (" + status + "); reload the page and try again.");
  });
  document.addEventListener("htmx:sendError", function () {
    showRequestError("The portal could not be reached; check the connection and try again.");
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    const box = document.getElementById("request-error");
    if (box && event.detail.successful) {
      box.hidden = true;
    }
  });

  // Copy buttons: data-copy-target names the element (an input or any text) to copy.
  document.addEventListener("click", function (event) {
    const button = event.target.closest("[data-copy-target]");
    const field = button && document.querySelector(button.dataset.copyTarget);
    if (!field) {
      return;
    }
    const value = "value" in field ? field.value : field.textContent.trim();
    const done = function () { button.textContent = "Copied"; };
    const fallback = function () {
      if ("select" in field) {
        field.select();
      }
      document.execCommand("copy");
      done();
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(value).then(done, fallback);
    } else {
      fallback();
    }
  });
})();
