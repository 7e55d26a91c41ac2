// htmx 2 leaves 4xx responses unswapped. The trades page answers a rejected order form (422)
// or a cancel that lost its race (409) with the re-rendered block carrying the message, so
// swap those in when the target asked for it with data-swap-errors.
(function () {
  document.addEventListener("htmx:beforeSwap", function (event) {
    const status = event.detail.xhr.status;
    const target = event.detail.target;
    if ((status === 409 || status === 422) && target && target.closest("[data-swap-errors]")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
})();
