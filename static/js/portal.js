// Sends the CSRF double-submit header with every htmx request. The value is read from the
// cookie at send time, so a token refreshed by an earlier response is picked up at once.
(function () {
  function cookie(name) {
    const match = document.cookie.match(new RegExp("(?:^|;\\s*)" + name + "=([^;]*)"));
    return match ? decodeURIComponent(match[1]) : "";
  }
  document.addEventListener("htmx:configRequest", function (event) {
    const meta = document.querySelector('meta[name="csrf-cookie"]');
    const token = cookie(meta ? meta.content : "portal_csrf");
    if (token) {
      event.detail.headers["X-CSRF-TOKEN"] = token;
    }
  });
})();
