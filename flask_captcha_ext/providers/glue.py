"""The small script third-party widget templates embed (in a nonce'd ``<script>``), as text.

It is static (no template values inside: it reads the widget's ``data-fce-*`` attributes), so
a strict CSP can allow it by nonce or by hash, and nothing a template passes can inject script. It
does three things for the widget whose id its ``data-fce-init`` attribute names:

- invisible and score widgets: hold the form's submit, ask the provider for a token, submit again;
- render widgets (gkCAPTCHA): call the provider's ``render`` once its script has loaded;
- CAPTCHA_FALLBACK="selfhosted": when the provider's script fails to load (its ``error`` event,
  caught at the document in the capture phase, so no inline ``onerror`` handler is needed) or has
  not defined its global after ``data-fce-wait`` ms, remove the provider's element and field,
  insert the self-hosted widget from its inert ``<template>`` and mount it with
  ``window.FlaskCaptcha.mount``. The template keeps the fallback from loading or holding the form
  while the provider works.
"""

from __future__ import annotations

GLUE_JS = r"""(function (w, d) {
  "use strict";
  var me = d.currentScript, id = me && me.getAttribute("data-fce-init");
  var box = id && d.getElementById(id);
  if (!box || box.getAttribute("data-fce-ready")) { return; }
  box.setAttribute("data-fce-ready", "1");
  var P = w.FCEProviders = w.FCEProviders || { widgets: {} };
  if (!P.fallback) {
    P.fallback = function (wid) {
      var b = d.getElementById(wid);
      var tpl = b && b.querySelector("template[data-fce-fallback]");
      if (!tpl || b.getAttribute("data-fce-state") === "fallback") { return; }
      b.setAttribute("data-fce-state", "fallback");
      var gone = b.querySelectorAll("[data-fce-el],[data-fce-token]");
      for (var i = 0; i < gone.length; i++) { gone[i].parentNode.removeChild(gone[i]); }
      var spare = d.createElement("div");
      spare.className = "fce-fallback";
      spare.appendChild(d.importNode(tpl.content, true));
      b.appendChild(spare);
      var el = spare.querySelector(".fce-widget");
      (function mount(n) {
        var F = w.FlaskCaptcha;
        if (el && F && typeof F.mount === "function") { F.mount(el); }
        else if (el && n < 100) { setTimeout(function () { mount(n + 1); }, 100); }
      })(0);
    };
    var watch = function (type, fn) {
      d.addEventListener(type, function (e) {
        var t = e.target, wid = t && t.getAttribute && t.getAttribute("data-fce-for");
        if (wid) { fn(wid); }
      }, true);
    };
    watch("error", P.fallback);
    watch("load", function (wid) { var h = P.widgets[wid]; if (h) { h(); } });
  }
  var api = box.getAttribute("data-fce-api") || "";
  var mode = box.getAttribute("data-fce-mode") || "auto";
  var key = id.slice(4);
  var form = box.closest ? box.closest("form") : null;
  var state = { done: false, waiting: false, submitter: null, rendered: false };
  function lib() {
    if (api.indexOf("element:") === 0) {
      return w.customElements && w.customElements.get(api.slice(8)) ? {} : null;
    }
    return w[api] || null;
  }
  function field() { return box.querySelector("[data-fce-token]"); }
  function resubmit() {
    var s = state.submitter;
    state.waiting = false;
    if (!form) { return; }
    // Later, not now: a token that arrives while the submit event is still being dispatched
    // (a resolved promise) would make requestSubmit a silent no-op.
    setTimeout(function () {
      if (form.requestSubmit) { form.requestSubmit(s && s.form === form ? s : undefined); }
      else { form.submit(); }
    }, 0);
  }
  var done = w["fceDone_" + key] = function (token) {
    var f = field();
    if (f && typeof token === "string") { f.value = token; }
    state.done = true;
    if (state.waiting) { resubmit(); }
  };
  w["fceExpired_" + key] = function () {
    var f = field();
    state.done = false;
    if (f) { f.value = ""; }
  };
  if (form && (mode === "invisible" || mode === "score")) {
    form.addEventListener("submit", function (e) {
      var g = lib();
      if (state.done || !g || box.getAttribute("data-fce-state") === "fallback") { return; }
      e.preventDefault();
      state.waiting = true;
      state.submitter = e.submitter || null;
      if (mode === "score") {
        g.ready(function () {
          g.execute(box.getAttribute("data-fce-sitekey"), {
            action: box.getAttribute("data-fce-action")
          }).then(done);
        });
      } else {
        g.execute();
      }
    });
  }
  if (mode === "render") {
    P.widgets[id] = function () {
      var g = lib(), el = box.querySelector("[data-fce-el]");
      if (!g || !el || state.rendered) { return; }
      state.rendered = true;
      var opts = { siteKey: box.getAttribute("data-fce-sitekey"), onSuccess: done,
                   onExpired: w["fceExpired_" + key] };
      var size = box.getAttribute("data-fce-size"), theme = box.getAttribute("data-fce-theme");
      if (size) { opts.mode = size; }
      if (theme) { opts.theme = theme; }
      g.render(el.id, opts);
    };
    if (lib()) { P.widgets[id](); }
  }
  if (box.querySelector("template[data-fce-fallback]")) {
    setTimeout(function () { if (!lib()) { P.fallback(id); } },
               parseInt(box.getAttribute("data-fce-wait"), 10) || 10000);
  }
})(window, document);
"""
