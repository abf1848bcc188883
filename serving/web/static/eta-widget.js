/* eta-service checkout widget: delivery windows per shipping option from POST /v1/quotes.
 *
 * Embed:
 *   <div class="eta-quotes" data-endpoint="https://eta.example.com/v1/quotes" data-key="eta_…"
 *        data-origin-country="DE" data-origin-region="BER"
 *        data-destination-country="FR" data-destination-region="PAR"
 *        data-options="northwind:express,postal:economy" data-coverage="0.8"
 *        data-name="shipping_option"></div>
 *   <script src="https://eta.example.com/static/eta-widget.js" defer></script>
 *
 * Without data-key no Authorization header is sent: point data-endpoint at the shop's own server, which adds
 * the key (see the README, "Checkout widget"). EtaQuotes.refresh(element) asks again after a change of
 * destination; the chosen option is a radio input named data-name, submitted with the shop's own form.
 */
(function () {
  "use strict";

  function dateText(iso) {
    if (!iso) return "";
    var p = iso.split("-");
    var d = new Date(Number(p[0]), Number(p[1]) - 1, Number(p[2]));
    return d.toLocaleDateString(undefined, { weekday: "short", day: "numeric", month: "short" });
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text) node.textContent = text;
    return node;
  }

  function request(root) {
    var ds = root.dataset;
    var options = (ds.options || "").split(",").filter(Boolean).map(function (pair) {
      var parts = pair.split(":");
      return { carrier: parts[0].trim(), service: (parts[1] || "").trim() };
    });
    var body = {
      origin: { country: ds.originCountry },
      destination: { country: ds.destinationCountry },
      options: options
    };
    if (ds.originRegion) body.origin.region = ds.originRegion;
    if (ds.destinationRegion) body.destination.region = ds.destinationRegion;
    if (ds.coverage) body.coverage = Number(ds.coverage);
    if (ds.weightKg) body.weight_kg = Number(ds.weightKg);
    return body;
  }

  function describe(q) {
    if (!q.earliest_date) return "No delivery estimate available";
    var window = q.earliest_date === q.latest_date
      ? "Arrives " + dateText(q.earliest_date)
      : "Arrives " + dateText(q.earliest_date) + " – " + dateText(q.latest_date);
    return window + " (most likely " + dateText(q.most_likely_date) + ")";
  }

  function render(root, quotes) {
    var id = root.id || "eta-quotes";
    var fieldset = el("fieldset", { "class": "eta-options" });
    fieldset.appendChild(el("legend", {}, "Shipping option"));
    quotes.forEach(function (q, i) {
      var inputId = id + "-option-" + i;
      var row = el("div", { "class": "eta-option" });
      var input = el("input", {
        type: "radio", id: inputId, name: root.dataset.name || "shipping_option",
        value: q.carrier + ":" + q.service
      });
      if (i === 0) input.checked = true;
      var label = el("label", { "for": inputId });
      label.appendChild(el("span", { "class": "eta-carrier" }, q.carrier + " " + q.service));
      label.appendChild(el("span", { "class": "eta-dates" }, describe(q)));
      row.appendChild(input);
      row.appendChild(label);
      fieldset.appendChild(row);
    });
    var list = root.querySelector(".eta-list");
    list.replaceChildren(fieldset);
  }

  function status(root, text, isError) {
    var box = root.querySelector(".eta-status");
    box.textContent = text;
    box.className = "eta-status" + (isError ? " eta-error" : "");
  }

  function prepare(root) {
    if (!root.querySelector(".eta-status")) {
      root.appendChild(el("div", { "class": "eta-list" }));
      root.appendChild(el("p", { "class": "eta-status", role: "status", "aria-live": "polite" }));
    }
  }

  function refresh(root) {
    prepare(root);
    var headers = { "Content-Type": "application/json" };
    if (root.dataset.key) headers.Authorization = "Bearer " + root.dataset.key;
    status(root, "Finding delivery dates…", false);
    return fetch(root.dataset.endpoint, { method: "POST", headers: headers, body: JSON.stringify(request(root)) })
      .then(function (response) {
        return response.json().then(function (data) { return { ok: response.ok, data: data }; });
      })
      .then(function (answer) {
        if (!answer.ok) throw new Error(answer.data.detail || answer.data.title || "The quote failed");
        render(root, answer.data.quotes);
        var n = answer.data.quotes.length;
        status(root, n + " shipping option" + (n === 1 ? "" : "s") + " with delivery dates.", false);
      })
      .catch(function (error) {
        root.querySelector(".eta-list").replaceChildren();
        status(root, "Delivery dates are unavailable: " + error.message, true);
      });
  }

  function mount(root) {
    prepare(root);
    if (root.dataset.key || root.dataset.autoload === "true") return refresh(root);
    return Promise.resolve();
  }

  window.EtaQuotes = { mount: mount, refresh: refresh };
  function start() { document.querySelectorAll(".eta-quotes[data-endpoint]").forEach(mount); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
