// The counter's QR page: poll the request's status (JSON, same origin) until the citizen has
// decided, then show the outcome. No personal data ever reaches this page.
(function () {
  "use strict";
  var root = document.getElementById("counter");
  if (!root) { return; }
  var url = root.getAttribute("data-status-url");
  var line = document.getElementById("counter-status");
  var every = 2000;

  function show(state) {
    root.setAttribute("data-state", state.status);
    line.className = "status-line " + state.status;
    line.textContent = state.label;
  }

  function poll() {
    fetch(url, { credentials: "same-origin", cache: "no-store", headers: { "Accept": "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (state) {
        show(state);
        if (!state.final) { window.setTimeout(poll, every); }
      })
      .catch(function () { window.setTimeout(poll, every * 3); });
  }

  if (root.getAttribute("data-state") === "pending") { window.setTimeout(poll, every); }
}());
