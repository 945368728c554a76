/* The JSON + fetch page: post to the @captcha_protected endpoint with the widget's token. */
(function () {
  "use strict";

  var form = document.getElementById("subscribe-form");
  var output = document.getElementById("subscribe-result");
  if (!form || !output) {
    return;
  }

  function show(text, ok) {
    output.textContent = text;
    output.setAttribute("data-ok", ok ? "true" : "false");
  }

  // The widget holds a submit until its answer is checked, then submits again: by the time this
  // listener runs, the token is in place.
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var widget = form.querySelector(".fce-widget");
    var captcha = window.FlaskCaptcha;
    var token = captcha && widget ? captcha.token(widget) : "";
    fetch(form.action, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "X-Captcha-Token": token
      },
      body: JSON.stringify({ email: form.elements.email.value })
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (response.ok) {
          show("Subscribed " + data.subscribed + ". Thank you!", true);
          form.reset();
        } else {
          show("Not subscribed: " + (data.detail || response.statusText), false);
        }
      });
    }, function () {
      show("Could not reach the server. Please try again.", false);
    }).then(function () {
      if (captcha && widget) {
        captcha.reset(widget);   // tokens are single use
      }
    });
  });
})();
