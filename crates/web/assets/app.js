// berth's few lines of progressive enhancement. Every page works without
// them: copy buttons, the pairing code's countdown, an uploaded app.json
// filling the textarea, and live app status from server-sent events.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("button.copy[data-copy]").forEach(function (button) {
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source || !navigator.clipboard) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(source.textContent).then(function () {
        button.textContent = "Copied";
        setTimeout(function () { button.textContent = "Copy"; }, 1500);
      });
    });
  });

  document.querySelectorAll(".countdown[data-deadline]").forEach(function (el) {
    var deadline = Date.parse(el.getAttribute("data-deadline"));
    function tick() {
      var left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
      el.textContent = left > 0
        ? "(" + Math.floor(left / 60) + ":" + String(left % 60).padStart(2, "0") + " left)"
        : "(expired)";
      if (left > 0) { setTimeout(tick, 1000); }
    }
    tick();
  });

  document.querySelectorAll("input[type=file][data-fills]").forEach(function (input) {
    var target = document.getElementById(input.getAttribute("data-fills"));
    input.addEventListener("change", function () {
      var file = input.files && input.files[0];
      if (!file || !target) { return; }
      file.text().then(function (text) { target.value = text; });
    });
  });

  // Live app status. A status or phase changes in place; a tile that
  // comes or goes (or whose buttons no longer fit its status) is redrawn
  // from a fresh copy of this page of the home fetched in the background,
  // so that the tiles have one template and the page is never reloaded.
  // On a paged home the other pages' apps have no tile here, so there only
  // a change in the set of apps redraws.
  var apps = document.getElementById("apps");
  if (apps && window.EventSource && window.fetch && window.DOMParser) {
    var fetching = false, again = false;
    var redraw = function () {
      if (fetching) { again = true; return; }
      fetching = true;
      fetch(location.pathname + location.search, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (html) {
          var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("apps");
          if (fresh) { apps.innerHTML = fresh.innerHTML; }
        })
        .catch(function () {})
        .then(function () {
          fetching = false;
          if (again) { again = false; redraw(); }
        });
    };
    var lastNames = null;
    var source = new EventSource("/home/events");
    source.addEventListener("apps", function (event) {
      var list = JSON.parse(event.data);
      var known = {};
      var stale = false;
      var paged = apps.querySelector(".pager") !== null;
      var names = list.map(function (app) { return app.name; }).sort().join(" ");
      if (lastNames !== null && names !== lastNames) { stale = true; }
      lastNames = names;
      list.forEach(function (app) {
        known[app.name] = true;
        var tile = apps.querySelector('[data-app="' + CSS.escape(app.name) + '"]');
        if (!tile) { stale = stale || !paged; return; }
        var status = tile.querySelector('[data-field="status"]');
        if (status && status.textContent !== app.status) {
          stale = stale || (status.textContent === "running") !== (app.status === "running");
          status.textContent = app.status;
          status.className = "status status-" + app.status;
        }
        var phase = tile.querySelector('[data-field="phase"]');
        if (phase) { phase.textContent = app.phase === "installed" ? "" : app.phase; }
      });
      apps.querySelectorAll("[data-app]").forEach(function (tile) {
        if (!known[tile.getAttribute("data-app")]) { stale = true; }
      });
      if (stale) { redraw(); }
    });
  }
});
