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
  var proofInput = document.getElementById("demo-proof");
  var proofStatus = document.getElementById("demo-proof-status");
  var solving = null;      // the Promise of the current challenge's proof of work
  var generation = 0;
  var requestOut = document.querySelector("#demo-request code");
  var responseOut = document.querySelector("#demo-response code");
  var statusBadge = document.getElementById("demo-status");
  var tokenBox = document.getElementById("demo-token");
  var claimsOut = document.querySelector("#demo-claims code");

  function pretty(value) {
    return JSON.stringify(value, null, 2);
  }

  function shorten(text) {
    return text.slice(0, 40) + "\u2026 (" + text.length + " characters)";
  }

  /* Long base64 images and proofs would drown the JSON: show their start and length instead. */
  function forDisplay(data) {
    var copy = Object.assign({}, data);
    ["image", "proof"].forEach(function (name) {
      if (typeof copy[name] === "string" && copy[name].length > 60) {
        copy[name] = shorten(copy[name]);
      }
    });
    return copy;
  }

  /* The challenge's proof-of-work part, solved by widget.js's workers into the proof field. */
  function solveProof(pow) {
    var mine = ++generation;
    proofInput.value = "";
    proofStatus.textContent = "";
    if (!pow || !window.FlaskCaptcha) {
      solving = null;
      return;
    }
    proofStatus.textContent = "Solving the proof of work\u2026";
    solving = window.FlaskCaptcha.solvePow(pow, { workersUrl: root.getAttribute("data-workers-url") })
      .then(function (found) {
        if (mine === generation) {
          proofInput.value = found.payload;
          proofStatus.textContent = "Solved: counter " + found.counter + " (" + found.algorithm +
            ", " + found.workers + " worker(s), " + Math.round(found.time) + " ms).";
        }
      }, function (error) {
        if (mine === generation) {
          proofStatus.textContent = "Could not solve the proof of work: " + error.message;
        }
      });
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
    requestOut.textContent = "POST " + url + "\nContent-Type: application/json\n\n" +
      pretty(forDisplay(body));
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
      img.alt = "Type the " + (data.length ? data.length + " " : "") + "characters in this image.";
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
          solveProof(result.data.pow);
        }
      });
    });
  });

  document.getElementById("demo-validate").addEventListener("submit", function (event) {
    event.preventDefault();
    // Validating before the workers are done waits for them.
    Promise.resolve(solving).then(function () {
      var body = {
        site_key: siteKeyInput.value,
        captcha_id: idInput.value,
        user_input: answerInput.value
      };
      if (proofInput.value) {
        body.proof = proofInput.value;
      }
      return post(root.getAttribute("data-validate-url"), body);
    }).then(function (result) {
      if (result.ok && result.data.token) {
        claimsOut.textContent = pretty(decodeClaims(result.data.token));
        tokenBox.hidden = false;
      } else {
        tokenBox.hidden = true;
      }
    });
  });
})();
