// The copy button beside a new API key. Delegated, so it works on keys swapped in by htmx.
(function () {
  document.addEventListener("click", function (event) {
    const button = event.target.closest("[data-copy-target]");
    if (!button) return;
    const value = document.getElementById(button.dataset.copyTarget).textContent.trim();
    navigator.clipboard.writeText(value).then(function () {
      const done = button.parentElement.querySelector("[data-copied]");
      if (done) done.hidden = false;
    });
  });
})();
