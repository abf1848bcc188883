/* The widget demo page: the key comes from the URL fragment (#key=…) or the input; the destination menu
 * changes the widget's data attributes and asks again. */
(function () {
  "use strict";
  var form = document.getElementById("demo-settings");
  var keyInput = document.getElementById("api-key");
  var destination = document.getElementById("destination");
  var widget = document.getElementById("checkout-widget");
  var match = /(?:^#|&)key=([^&]+)/.exec(window.location.hash);
  if (match) keyInput.value = decodeURIComponent(match[1]);

  function apply() {
    var parts = destination.value.split("|");
    widget.dataset.destinationCountry = parts[0];
    widget.dataset.destinationRegion = parts[1];
    widget.dataset.key = keyInput.value.trim();
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    apply();
    window.EtaQuotes.refresh(widget);
  });
  destination.addEventListener("change", function () {
    apply();
    if (widget.dataset.key) window.EtaQuotes.refresh(widget);
  });
  apply();  // before the widget mounts (on DOMContentLoaded): with a key it asks at once
})();
