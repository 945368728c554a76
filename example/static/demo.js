/* Live demo of the self-hosted API: shows each request and its raw JSON response. */
(function () {
  "use strict";

  var root = document.getElementById("demo");
  if (!root) {
    return;
  }
  var siteKeyInput = document.getElementById("demo-site-key");
  var challengeBox = document.getElementById("demo-challenge");
  var idInput = document.getElementById("demo-captcha-id");
  var answerInput = document.getElementById("demo-user-input");
  var requestOut = document.querySelector("#demo-request code");
  var responseOut = document.querySelector("#demo-response code");
  var statusBadge = document.getElementById("demo-status");
  var tokenBox = document.getElementById("demo-token");
  var claimsOut = document.querySelector("#demo-claims code");

  function pretty(value) {
    return JSON.stringify(value, null, 2);
  }

  /* Long base64 images would drown the JSON: show their start and length instead. */
  function forDisplay(data) {
    if (data && typeof data.image === "string" && data.image.length > 60) {
      var copy = Object.assign({}, data);
      copy.image = data.image.slice(0, 40) + "\u2026 (" + data.image.length + " characters)";
      return copy;
    }
    return data;
  }

  function decodeClaims(token) {
    try {
      var part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      while (part.length % 4) {
        part += "=";
      }
      var claims = JSON.parse(atob(part));
      ["iat", "exp"].forEach(function (name) {
        if (typeof claims[name] === "number") {
          claims[name + " (UTC)"] = new Date(claims[name] * 1000).toISOString();
        }
      });
      return claims;
    } catch (error) {
      return { error: "not a JWT" };
    }
  }

  function post(url, body) {
    requestOut.textContent = "POST " + url + "\nContent-Type: application/json\n\n" + pretty(body);
    responseOut.textContent = "\u2026";
    statusBadge.textContent = "";
    statusBadge.removeAttribute("data-ok");
    return fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        var retry = response.headers.get("Retry-After");
        statusBadge.textContent = response.status + " " + response.statusText +
          (retry ? " \u00b7 Retry-After: " + retry : "");
        statusBadge.setAttribute("data-ok", response.ok ? "true" : "false");
        responseOut.textContent = pretty(forDisplay(data));
        return { ok: response.ok, status: response.status, data: data };
      });
    }, function (error) {
      statusBadge.textContent = "network error";
      statusBadge.setAttribute("data-ok", "false");
      responseOut.textContent = String(error);
      return { ok: false, status: 0, data: {} };
    });
  }

  function showChallenge(data) {
    challengeBox.textContent = "";
    if (data.image) {
      var img = document.createElement("img");
      img.src = "data:image/png;base64," + data.image;
      img.alt = "CAPTCHA image with distorted characters";
      img.width = 160;
      img.height = 60;
      challengeBox.appendChild(img);
    } else if (data.question) {
      var p = document.createElement("p");
      p.className = "demo-question";
      p.textContent = data.question;
      challengeBox.appendChild(p);
    }
    var note = document.createElement("p");
    note.className = "muted";
    note.textContent = "Expires in " + data.expires_in + " seconds.";
    challengeBox.appendChild(note);
  }

  Array.prototype.forEach.call(root.querySelectorAll("[data-generate]"), function (button) {
    button.addEventListener("click", function () {
      var body = { site_key: siteKeyInput.value, type: button.getAttribute("data-generate") };
      post(root.getAttribute("data-generate-url"), body).then(function (result) {
        tokenBox.hidden = true;
        if (result.ok) {
          showChallenge(result.data);
          idInput.value = result.data.captcha_id;
          answerInput.value = "";
          answerInput.focus();
        }
      });
    });
  });

  document.getElementById("demo-validate").addEventListener("submit", function (event) {
    event.preventDefault();
    var body = {
      site_key: siteKeyInput.value,
      captcha_id: idInput.value,
      user_input: answerInput.value
    };
    post(root.getAttribute("data-validate-url"), body).then(function (result) {
      if (result.ok && result.data.token) {
        claimsOut.textContent = pretty(decodeClaims(result.data.token));
        tokenBox.hidden = false;
      } else {
        tokenBox.hidden = true;
      }
    });
  });
})();
