// The version page reloads itself every few seconds while its gate runs (the server marks
// the page with data-refresh-seconds), until the person unticks the on-page checkbox.
// No inline script: the page's Content-Security-Policy allows only this file.
"use strict";

(function () {
  const marker = document.querySelector("[data-refresh-seconds]");
  const toggle = document.getElementById("auto-refresh");
  if (!marker || !toggle) {
    return;
  }
  const seconds = Number(marker.getAttribute("data-refresh-seconds"));
  if (!(seconds >= 1 && seconds <= 600)) {
    return;
  }
  const key = "slipway-console-auto-refresh";
  // the choice outlives the reload it prevents: unticked stays unticked in this tab
  if (window.sessionStorage.getItem(key) === "off") {
    toggle.checked = false;
  }
  toggle.addEventListener("change", function () {
    window.sessionStorage.setItem(key, toggle.checked ? "on" : "off");
  });
  window.setTimeout(function reload() {
    if (toggle.checked) {
      window.location.reload();
    } else {
      window.setTimeout(reload, seconds * 1000);
    }
  }, seconds * 1000);
})();
