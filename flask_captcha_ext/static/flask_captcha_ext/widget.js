/*! flask-captcha-ext self-hosted widget. Plain JavaScript, no build step, no third-party code.
 *
 * Mounts every `.fce-widget` container on DOMContentLoaded. A container carries data attributes
 * (see templates/flask_captcha_ext/widgets/selfhosted.html): data-fce-site-key, -generate-url,
 * -validate-url, -type, -types, -theme, -lang, -token-ttl. On success the widget writes a
 * single-use token into the container's <input type="hidden" name="captcha-token">.
 *
 * window.FlaskCaptcha:
 *   mount(el, options?)   mount one container (idempotent); options override data attributes
 *   reset(el)             drop the token and show a new challenge (e.g. after a fetch() used it)
 *   token(el)             the current token, or "" when not verified
 *   registerType(name, handler)   add or replace a challenge type (see TYPES below)
 *   strings               the string table by language; add a language by adding a key
 *
 * Events (bubbling, on the container): fce:verified {detail: {token}}, fce:expired, fce:error
 * {detail: {status, detail}}.
 *
 * Submitting the form before verifying: the widget holds the submit once, validates what the
 * person typed, then submits again (form.requestSubmit, keeping the submitter) if it was right.
 * With nothing typed it holds the submit and asks for an answer. When no challenge could be
 * loaded (network error, rate limit, service down) it never blocks: the server decides.
 *
 * Loaded twice (one script tag per widget on a page)? The second run does nothing.
 */
(function () {
  "use strict";

  if (window.FlaskCaptcha && window.FlaskCaptcha.version) {
    return;
  }

  var VERSION = "1";
  var TOKEN_FIELD = "captcha-token";
  var MAX_INPUT = 64;
  var MAX_AUTO_RETRY_S = 120;

  var STRINGS = {
    en: {
      title: "Security check",
      loading: "Loading a challenge\u2026",
      imageAlt: "CAPTCHA image with distorted characters",
      imageLabel: "Characters in the image",
      imageHint: "Type the characters you see. Upper or lower case does not matter.",
      mathLabel: "Answer",
      mathHint: "Type the result as a number.",
      verify: "Verify",
      refresh: "New challenge",
      switch_math: "Use a text question instead",
      switch_image: "Use an image instead",
      switch_other: "Try another kind of challenge",
      ready: "New challenge ready.",
      checking: "Checking\u2026",
      working: "Working\u2026",
      verified: "Verified",
      verifiedLong: "Verified. You can send the form now.",
      wrong: "That answer was not right. Please try this new challenge.",
      empty: "Please type your answer first.",
      required: "Please complete the security check first.",
      expired: "The challenge expired. Here is a new one.",
      tokenExpired: "Your verification expired. Please solve a new challenge.",
      rateLimited: "Too many attempts. Please wait {s} seconds, then try again.",
      rateLimitedShort: "Too many attempts. Please wait a moment, then try again.",
      network: "Could not reach the server. Check your connection, then choose \u201cNew challenge\u201d.",
      unavailable: "The security check is unavailable right now. Please try again shortly.",
      failed: "The security check could not be loaded. Please try again later.",
      unsupported: "This kind of challenge is not supported here."
    },
    de: {
      title: "Sicherheitspr\u00fcfung",
      loading: "Aufgabe wird geladen\u2026",
      imageAlt: "CAPTCHA-Bild mit verzerrten Zeichen",
      imageLabel: "Zeichen im Bild",
      imageHint: "Geben Sie die Zeichen ein. Gro\u00df- und Kleinschreibung ist egal.",
      mathLabel: "Antwort",
      mathHint: "Geben Sie das Ergebnis als Zahl ein.",
      verify: "Pr\u00fcfen",
      refresh: "Neue Aufgabe",
      switch_math: "Stattdessen eine Textfrage",
      switch_image: "Stattdessen ein Bild",
      switch_other: "Andere Art von Aufgabe",
      ready: "Neue Aufgabe bereit.",
      checking: "Wird gepr\u00fcft\u2026",
      working: "Wird berechnet\u2026",
      verified: "Best\u00e4tigt",
      verifiedLong: "Best\u00e4tigt. Sie k\u00f6nnen das Formular jetzt absenden.",
      wrong: "Diese Antwort war nicht richtig. Bitte l\u00f6sen Sie die neue Aufgabe.",
      empty: "Bitte geben Sie zuerst Ihre Antwort ein.",
      required: "Bitte schlie\u00dfen Sie zuerst die Sicherheitspr\u00fcfung ab.",
      expired: "Die Aufgabe ist abgelaufen. Hier ist eine neue.",
      tokenExpired: "Ihre Best\u00e4tigung ist abgelaufen. Bitte l\u00f6sen Sie eine neue Aufgabe.",
      rateLimited: "Zu viele Versuche. Bitte warten Sie {s} Sekunden und versuchen Sie es erneut.",
      rateLimitedShort: "Zu viele Versuche. Bitte warten Sie einen Moment.",
      network: "Der Server ist nicht erreichbar. Pr\u00fcfen Sie die Verbindung und w\u00e4hlen Sie \u201eNeue Aufgabe\u201c.",
      unavailable: "Die Sicherheitspr\u00fcfung ist gerade nicht verf\u00fcgbar. Bitte versuchen Sie es gleich noch einmal.",
      failed: "Die Sicherheitspr\u00fcfung konnte nicht geladen werden. Bitte versuchen Sie es sp\u00e4ter.",
      unsupported: "Diese Art von Aufgabe wird hier nicht unterst\u00fctzt."
    },
    fr: {
      title: "V\u00e9rification de s\u00e9curit\u00e9",
      loading: "Chargement du d\u00e9fi\u2026",
      imageAlt: "Image CAPTCHA avec des caract\u00e8res d\u00e9form\u00e9s",
      imageLabel: "Caract\u00e8res de l\u2019image",
      imageHint: "Saisissez les caract\u00e8res affich\u00e9s. Majuscules ou minuscules, peu importe.",
      mathLabel: "R\u00e9ponse",
      mathHint: "Saisissez le r\u00e9sultat en chiffres.",
      verify: "V\u00e9rifier",
      refresh: "Nouveau d\u00e9fi",
      switch_math: "Utiliser une question texte",
      switch_image: "Utiliser une image",
      switch_other: "Essayer un autre type de d\u00e9fi",
      ready: "Nouveau d\u00e9fi pr\u00eat.",
      checking: "V\u00e9rification\u2026",
      working: "Calcul en cours\u2026",
      verified: "V\u00e9rifi\u00e9",
      verifiedLong: "V\u00e9rifi\u00e9. Vous pouvez envoyer le formulaire.",
      wrong: "Cette r\u00e9ponse est incorrecte. Essayez ce nouveau d\u00e9fi.",
      empty: "Saisissez d\u2019abord votre r\u00e9ponse.",
      required: "Veuillez d\u2019abord terminer la v\u00e9rification de s\u00e9curit\u00e9.",
      expired: "Le d\u00e9fi a expir\u00e9. En voici un nouveau.",
      tokenExpired: "Votre v\u00e9rification a expir\u00e9. R\u00e9solvez un nouveau d\u00e9fi.",
      rateLimited: "Trop de tentatives. Attendez {s} secondes, puis r\u00e9essayez.",
      rateLimitedShort: "Trop de tentatives. Attendez un instant, puis r\u00e9essayez.",
      network: "Serveur injoignable. V\u00e9rifiez votre connexion, puis choisissez \u00ab\u00a0Nouveau d\u00e9fi\u00a0\u00bb.",
      unavailable: "La v\u00e9rification est indisponible pour le moment. R\u00e9essayez bient\u00f4t.",
      failed: "La v\u00e9rification n\u2019a pas pu \u00eatre charg\u00e9e. R\u00e9essayez plus tard.",
      unsupported: "Ce type de d\u00e9fi n\u2019est pas pris en charge ici."
    },
    es: {
      title: "Comprobaci\u00f3n de seguridad",
      loading: "Cargando el reto\u2026",
      imageAlt: "Imagen CAPTCHA con caracteres distorsionados",
      imageLabel: "Caracteres de la imagen",
      imageHint: "Escriba los caracteres que ve. No importan may\u00fasculas ni min\u00fasculas.",
      mathLabel: "Respuesta",
      mathHint: "Escriba el resultado como n\u00famero.",
      verify: "Verificar",
      refresh: "Nuevo reto",
      switch_math: "Usar una pregunta de texto",
      switch_image: "Usar una imagen",
      switch_other: "Probar otro tipo de reto",
      ready: "Nuevo reto listo.",
      checking: "Comprobando\u2026",
      working: "Calculando\u2026",
      verified: "Verificado",
      verifiedLong: "Verificado. Ya puede enviar el formulario.",
      wrong: "La respuesta no es correcta. Pruebe con este nuevo reto.",
      empty: "Escriba primero su respuesta.",
      required: "Complete primero la comprobaci\u00f3n de seguridad.",
      expired: "El reto ha caducado. Aqu\u00ed tiene uno nuevo.",
      tokenExpired: "Su verificaci\u00f3n ha caducado. Resuelva un nuevo reto.",
      rateLimited: "Demasiados intentos. Espere {s} segundos y vuelva a intentarlo.",
      rateLimitedShort: "Demasiados intentos. Espere un momento y vuelva a intentarlo.",
      network: "No se puede contactar con el servidor. Compruebe la conexi\u00f3n y elija \u00abNuevo reto\u00bb.",
      unavailable: "La comprobaci\u00f3n no est\u00e1 disponible ahora. Int\u00e9ntelo de nuevo en breve.",
      failed: "No se pudo cargar la comprobaci\u00f3n. Int\u00e9ntelo m\u00e1s tarde.",
      unsupported: "Este tipo de reto no es compatible aqu\u00ed."
    }
  };

  /* Challenge types: the extension point. One handler per `type` the generate endpoint returns.
   *
   *   typed: true   the person types the answer into the widget's text input;
   *                 render(ctx, data) shows the challenge in ctx.view and returns
   *                 {label, hint, inputMode} for that input.
   *   typed: false  the browser finds the answer itself (proof of work);
   *                 render(ctx, data) may show progress in ctx.view, and
   *                 solve(ctx, data) returns a Promise of the `user_input` string to validate.
   *                 ctx.signal aborts when the challenge is replaced; ctx.announce(text) speaks.
   *
   * ctx = {view, t(key), el(tag, attrs, text), signal, announce(text), lang}.
   * Register with FlaskCaptcha.registerType("pow", handler) from a script loaded after this one.
   */
  var TYPES = {
    image: {
      typed: true,
      render: function (ctx, data) {
        ctx.view.appendChild(ctx.el("img", {
          "class": "fce-image",
          src: "data:image/png;base64," + data.image,
          alt: ctx.t("imageAlt"),
          width: "160",
          height: "60"
        }));
        return { label: ctx.t("imageLabel"), hint: ctx.t("imageHint"), inputMode: "text" };
      }
    },
    math: {
      typed: true,
      render: function (ctx, data) {
        ctx.view.appendChild(ctx.el("p", { "class": "fce-question" }, data.question));
        return { label: ctx.t("mathLabel"), hint: ctx.t("mathHint"), inputMode: "numeric" };
      }
    }
    // pow: { typed: false, render: function (ctx, data) {...}, solve: function (ctx, data) {...} }
  };

  var controllers = new WeakMap();
  var counter = 0;

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (name) {
        if (attrs[name] !== null && attrs[name] !== undefined) {
          node.setAttribute(name, attrs[name]);
        }
      });
    }
    if (text !== undefined) {
      node.textContent = text;
    }
    return node;
  }

  var SVG_NS = "http://www.w3.org/2000/svg";

  function icon(path) {
    var svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "20");
    svg.setAttribute("height", "20");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    var p = document.createElementNS(SVG_NS, "path");
    p.setAttribute("d", path);
    svg.appendChild(p);
    return svg;
  }

  var ICON_REFRESH = "M17.65 6.35A7.96 7.96 0 0 0 12 4a8 8 0 1 0 7.73 10h-2.08A6 6 0 1 1 12 6c1.66 " +
    "0 3.14.69 4.22 1.78L13 11h7V4l-2.35 2.35z";
  var ICON_CHECK = "M9 16.17 4.83 12l-1.42 1.41L9 19 21 7l-1.41-1.41z";

  function pickLanguage(requested) {
    var candidates = [requested, document.documentElement.getAttribute("lang")];
    for (var i = 0; i < candidates.length; i++) {
      var code = (candidates[i] || "").toLowerCase().split(/[-_]/)[0];
      if (STRINGS[code]) {
        return code;
      }
    }
    return "en";
  }

  function parseSeconds(value, fallback) {
    var n = parseInt(value, 10);
    return n > 0 ? n : fallback;
  }

  /* Refresh this long before something expires: 10 s, or a fifth of short lifetimes. */
  function lead(seconds) {
    return Math.min(10, seconds / 5) * 1000;
  }

  function postJson(url, body, signal) {
    return fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(body),
      cache: "no-store",
      signal: signal
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        return {
          status: response.status,
          ok: response.ok,
          data: data || {},
          retryAfter: parseInt(response.headers.get("Retry-After") || "", 10)
        };
      });
    });
  }

  function readConfig(root, options) {
    var d = root.dataset;
    var o = options || {};
    var types = o.types || (d.fceTypes || "image math").split(/[\s,]+/).filter(Boolean);
    return {
      siteKey: o.siteKey || d.fceSiteKey || "",
      generateUrl: o.generateUrl || d.fceGenerateUrl || "",
      validateUrl: o.validateUrl || d.fceValidateUrl || "",
      type: o.type || d.fceType || types[0] || "image",
      types: types,
      theme: o.theme || d.fceTheme || "auto",
      lang: pickLanguage(o.lang || d.fceLang),
      tokenTtl: parseSeconds(o.tokenTtl || d.fceTokenTtl, 300)
    };
  }

  function createWidget(root, options) {
    var cfg = readConfig(root, options);
    var strings = STRINGS[cfg.lang];
    var uid = "fce-" + (++counter) + "-" + Math.random().toString(36).slice(2, 8);
    var form = root.closest("form");
    var type = cfg.type;
    var challenge = null;      // the live challenge (generate's reply), or null
    var token = "";
    var state = "idle";        // idle, loading, ready, checking, verified, error
    var seq = 0;               // bumps on every new challenge: late replies are ignored
    var abort = null;          // AbortController of the current challenge
    var timers = { challenge: 0, token: 0, retry: 0 };
    var stale = false;         // expired while the page was hidden: refresh when shown
    var pending = null;        // the Promise of a validation in flight

    function t(key, vars) {
      var text = strings[key] || STRINGS.en[key] || key;
      if (vars) {
        Object.keys(vars).forEach(function (k) { text = text.replace("{" + k + "}", vars[k]); });
      }
      return text;
    }

    // -- DOM ------------------------------------------------------------------------------
    var tokenInput = root.querySelector('input[name="' + TOKEN_FIELD + '"]');
    if (!tokenInput) {
      tokenInput = el("input", { type: "hidden", name: TOKEN_FIELD });
      root.insertBefore(tokenInput, root.firstChild);
    }
    tokenInput.value = "";
    ["light", "dark", "auto"].forEach(function (name) {
      root.classList.toggle("fce-theme-" + name, name === cfg.theme);
    });
    root.classList.add("fce-widget", "fce-js");

    var box = el("div", { "class": "fce-box", role: "group", "aria-labelledby": uid + "-title" });
    box.setAttribute("lang", cfg.lang);
    var title = el("p", { "class": "fce-title", id: uid + "-title" }, t("title"));
    var body = el("div", { "class": "fce-body" });
    var challengeRow = el("div", { "class": "fce-challenge" });
    var view = el("div", { "class": "fce-view", id: uid + "-view", "aria-busy": "true" });
    var refreshButton = el("button", {
      type: "button", "class": "fce-icon-button fce-refresh",
      "aria-label": t("refresh"), title: t("refresh")
    });
    refreshButton.appendChild(icon(ICON_REFRESH));
    challengeRow.appendChild(view);
    challengeRow.appendChild(refreshButton);

    var answer = el("div", { "class": "fce-answer" });
    var label = el("label", { "class": "fce-label", "for": uid + "-input" }, t("imageLabel"));
    var row = el("div", { "class": "fce-row" });
    var input = el("input", {
      "class": "fce-input", id: uid + "-input", type: "text", autocomplete: "off",
      autocapitalize: "off", autocorrect: "off", spellcheck: "false", maxlength: String(MAX_INPUT),
      enterkeyhint: "done",
      "aria-describedby": uid + "-view " + uid + "-hint " + uid + "-status"
    });
    var verifyButton = el("button", { type: "button", "class": "fce-button fce-verify" }, t("verify"));
    row.appendChild(input);
    row.appendChild(verifyButton);
    var hint = el("p", { "class": "fce-hint", id: uid + "-hint" });
    answer.appendChild(label);
    answer.appendChild(row);
    answer.appendChild(hint);

    var switchButton = el("button", { type: "button", "class": "fce-link fce-switch", hidden: "" });

    body.appendChild(challengeRow);
    body.appendChild(answer);
    body.appendChild(switchButton);

    var done = el("div", { "class": "fce-done", tabindex: "-1", hidden: "" });
    done.appendChild(icon(ICON_CHECK));
    done.appendChild(el("span", null, t("verified")));

    var status = el("p", {
      "class": "fce-status", id: uid + "-status", role: "status",
      "aria-live": "polite", "aria-atomic": "true"
    });

    box.appendChild(title);
    box.appendChild(body);
    box.appendChild(done);
    box.appendChild(status);
    root.appendChild(box);

    // -- helpers --------------------------------------------------------------------------
    function focusInside() {
      return box.contains(document.activeElement);
    }

    function say(text, kind) {
      status.textContent = text || "";
      if (kind) {
        status.setAttribute("data-kind", kind);
      } else {
        status.removeAttribute("data-kind");
      }
    }

    function emit(name, detail) {
      root.dispatchEvent(new CustomEvent(name, { bubbles: true, detail: detail || {} }));
    }

    function clearTimer(name) {
      if (timers[name]) {
        clearTimeout(timers[name]);
        timers[name] = 0;
      }
    }

    function setBusy(busy) {
      view.setAttribute("aria-busy", busy ? "true" : "false");
      verifyButton.setAttribute("aria-disabled", busy ? "true" : "false");
    }

    function handlerFor(name) {
      return Object.prototype.hasOwnProperty.call(TYPES, name) ? TYPES[name] : null;
    }

    function typedTypes() {
      return cfg.types.filter(function (name) {
        var h = handlerFor(name);
        return h && h.typed;
      });
    }

    function usableType(name) {
      if (handlerFor(name)) {
        return name;
      }
      for (var i = 0; i < cfg.types.length; i++) {
        if (handlerFor(cfg.types[i])) {
          return cfg.types[i];
        }
      }
      return null;
    }

    function updateSwitch() {
      var choices = typedTypes();
      var handler = handlerFor(type);
      if (choices.length < 2 || !handler || !handler.typed) {
        switchButton.hidden = true;
        return;
      }
      var next = choices[(choices.indexOf(type) + 1) % choices.length];
      switchButton.textContent = strings["switch_" + next] ? t("switch_" + next) : t("switch_other");
      switchButton.setAttribute("data-next", next);
      switchButton.hidden = false;
    }

    function setToken(value) {
      token = value || "";
      tokenInput.value = token;
    }

    function scheduleChallengeExpiry(seconds) {
      clearTimer("challenge");
      timers.challenge = setTimeout(function () {
        timers.challenge = 0;
        if (state !== "ready" || !root.isConnected) {
          return;
        }
        if (document.hidden) {
          stale = true;       // refresh when the person comes back, not in a background tab
          return;
        }
        var tell = focusInside() || input.value !== "";
        load(tell ? t("expired") : "");
      }, Math.max(1000, seconds * 1000 - lead(seconds)));
    }

    function scheduleTokenExpiry() {
      clearTimer("token");
      timers.token = setTimeout(function () {
        timers.token = 0;
        if (state !== "verified") {
          return;
        }
        setToken("");
        emit("fce:expired");
        if (root.isConnected) {
          load(t("tokenExpired"), "error");
        }
      }, Math.max(1000, cfg.tokenTtl * 1000 - lead(cfg.tokenTtl)));
    }

    function showAnswer() {
      body.hidden = false;
      done.hidden = true;
    }

    /* No usable challenge: hide the answer box, keep "New challenge" (and focus) at hand. */
    function broken() {
      var hadFocus = focusInside();
      state = "error";
      challenge = null;
      setBusy(false);
      view.textContent = "";
      answer.hidden = true;
      switchButton.hidden = true;
      if (hadFocus) {
        refreshButton.focus();
      }
    }

    function fail(response, during) {
      var code = response ? response.status : 0;
      var detail = response && response.data ? response.data.detail : "network error";
      var message;
      if (!response) {
        message = t("network");
      } else if (code === 429) {
        var wait = response.retryAfter;
        message = wait > 0 ? t("rateLimited", { s: wait }) : t("rateLimitedShort");
        if (during === "generate" && wait > 0 && wait <= MAX_AUTO_RETRY_S) {
          clearTimer("retry");
          timers.retry = setTimeout(function () {
            timers.retry = 0;
            if (root.isConnected) {
              load("");
            }
          }, wait * 1000);
        }
      } else if (code >= 500) {
        message = t("unavailable");
      } else {
        message = t("failed");
        if (window.console) {
          window.console.error("flask-captcha-ext: " + during + " failed (" + code + "): " + detail);
        }
      }
      say(message, "error");
      emit("fce:error", { status: code, detail: detail });
    }

    // -- challenge lifecycle --------------------------------------------------------------
    function load(message, kind) {
      seq += 1;
      var mine = seq;
      if (abort) {
        abort.abort();
      }
      abort = typeof AbortController === "function" ? new AbortController() : null;
      clearTimer("challenge");
      clearTimer("retry");
      stale = false;
      challenge = null;
      state = "loading";
      setToken("");
      showAnswer();
      setBusy(true);
      input.value = "";
      input.removeAttribute("aria-invalid");
      view.textContent = "";
      view.appendChild(el("p", { "class": "fce-loading" }, t("loading")));
      var chosen = usableType(type);
      if (!chosen) {
        broken();
        say(t("unsupported"), "error");
        return Promise.resolve(false);
      }
      type = chosen;
      return postJson(cfg.generateUrl, { site_key: cfg.siteKey, type: type },
        abort ? abort.signal : undefined)
        .then(function (response) {
          if (mine !== seq) {
            return false;
          }
          if (!response.ok || !response.data.captcha_id) {
            broken();
            fail(response, "generate");
            return false;
          }
          show(response.data, message, kind);
          return true;
        }, function (error) {
          if (mine !== seq || (error && error.name === "AbortError")) {
            return false;
          }
          broken();
          fail(null, "generate");
          return false;
        });
    }

    function context(signal) {
      return {
        view: view, t: t, el: el, signal: signal, lang: cfg.lang,
        announce: function (text) { say(text); }
      };
    }

    function show(data, message, kind) {
      challenge = data;
      type = data.type || type;
      root.setAttribute("data-fce-captcha-id", data.captcha_id);
      view.textContent = "";
      var handler = handlerFor(type);
      if (!handler) {
        broken();
        say(t("unsupported"), "error");
        return;
      }
      var ctx = context(abort ? abort.signal : undefined);
      var shown = handler.render(ctx, data) || {};
      answer.hidden = !handler.typed;
      if (handler.typed) {
        label.textContent = shown.label || t("mathLabel");
        hint.textContent = shown.hint || "";
        input.setAttribute("inputmode", shown.inputMode || "text");
      }
      state = "ready";
      setBusy(false);
      updateSwitch();
      say(message || "", kind || (message ? "info" : null));
      scheduleChallengeExpiry(parseSeconds(data.expires_in, 300));
      if (!handler.typed && typeof handler.solve === "function") {
        var mine = seq;
        say(t("working"));
        Promise.resolve(handler.solve(ctx, data)).then(function (value) {
          if (mine === seq && state === "ready") {
            submitAnswer(String(value));
          }
        }, function (error) {
          if (mine === seq && !(error && error.name === "AbortError")) {
            broken();
            fail(null, "solve");
          }
        });
      }
    }

    /* Validate `value` against the live challenge; resolves true when verified. */
    function submitAnswer(value) {
      if (!challenge || state !== "ready") {
        return Promise.resolve(state === "verified");
      }
      var mine = seq;
      var spent = challenge;
      state = "checking";
      setBusy(true);
      say(t("checking"));
      pending = postJson(cfg.validateUrl, {
        site_key: cfg.siteKey, captcha_id: spent.captcha_id, user_input: value
      }).then(function (response) {
        if (mine !== seq) {
          return false;
        }
        if (response.ok && response.data.valid === true && response.data.token) {
          verified(response.data.token);
          return true;
        }
        if (response.ok) {               // a wrong answer spends the challenge
          var keepFocus = focusInside();
          return load(t("wrong"), "error").then(function () {
            input.setAttribute("aria-invalid", "true");
            if (keepFocus && state === "ready") {
              input.focus();
            }
            return false;
          });
        }
        if (response.status === 400) {  // expired, unknown or already used
          return load(t("expired"), "error").then(function () { return false; });
        }
        if (response.status === 429) {  // a 429 leaves the challenge unspent: retry later
          state = "ready";
          setBusy(false);
        } else {
          broken();
        }
        fail(response, "validate");
        return false;
      }, function () {
        if (mine !== seq) {
          return false;
        }
        state = "ready";                 // unknown whether it was spent; let them retry
        setBusy(false);
        fail(null, "validate");
        return false;
      }).then(function (ok) {
        pending = null;
        return ok;
      });
      return pending;
    }

    function verified(value) {
      var hadFocus = focusInside();
      clearTimer("challenge");
      challenge = null;
      state = "verified";
      setToken(value);
      setBusy(false);
      input.value = "";
      input.removeAttribute("aria-invalid");
      body.hidden = true;
      done.hidden = false;
      say(t("verifiedLong"), "success");
      if (hadFocus) {
        done.focus();
      }
      scheduleTokenExpiry();
      emit("fce:verified", { token: value });
    }

    function verify() {
      if (state === "checking" && pending) {
        return pending;
      }
      if (state !== "ready" || !handlerFor(type).typed) {
        return Promise.resolve(state === "verified");
      }
      var value = input.value.trim();
      if (!value) {
        say(t("empty"), "error");
        input.setAttribute("aria-invalid", "true");
        input.focus();
        return Promise.resolve(false);
      }
      return submitAnswer(value);
    }

    // -- events ---------------------------------------------------------------------------
    verifyButton.addEventListener("click", function () {
      if (verifyButton.getAttribute("aria-disabled") !== "true") {
        verify();
      }
    });
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.isComposing) {
        event.preventDefault();         // verify, do not submit the surrounding form
        verify();
      }
    });
    input.addEventListener("input", function () {
      input.removeAttribute("aria-invalid");
    });
    input.addEventListener("focus", function () {
      if (stale) {
        load(t("expired"));
      }
    });
    refreshButton.addEventListener("click", function () {
      load(t("ready"));
    });
    switchButton.addEventListener("click", function () {
      var next = switchButton.getAttribute("data-next");
      if (next) {
        type = next;
        load(t("ready"));
      }
    });
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden && stale && root.isConnected) {
        load("");
      }
    });

    /* Submit before verifying: hold this submit, validate the typed answer, then submit again.
     * Registered in the capture phase so it runs before the page's own submit listeners. */
    var holding = false;
    function onSubmit(event) {
      if (state === "verified" && token) {
        return;
      }
      if (holding) {                     // already validating: swallow double submits
        event.preventDefault();
        event.stopImmediatePropagation();
        return;
      }
      if (state !== "ready" && state !== "checking") {
        return;                          // no challenge to answer: let the server decide
      }
      event.preventDefault();
      event.stopImmediatePropagation();
      var handler = handlerFor(type);
      if (handler && !handler.typed) {
        say(t("working"));
        return;
      }
      if (state === "ready" && !input.value.trim()) {
        say(t("required"), "error");
        input.setAttribute("aria-invalid", "true");
        input.focus();
        return;
      }
      var submitter = event.submitter || null;
      holding = true;
      verify().then(function (ok) {
        holding = false;
        if (!ok) {
          if (state === "ready") {
            input.focus();             // wrong or expired: the new challenge waits for them
          }
          return;
        }
        if (typeof form.requestSubmit === "function") {
          if (submitter && submitter.form === form) {
            form.requestSubmit(submitter);
          } else {
            form.requestSubmit();
          }
        } else {
          form.submit();
        }
      }, function () {
        holding = false;
      });
    }
    if (form) {
      form.addEventListener("submit", onSubmit, true);
    }

    load("");

    return {
      element: root,
      reset: function () {
        clearTimer("token");
        return load("");
      },
      token: function () {
        return token;
      },
      verify: verify
    };
  }

  function resolve(target) {
    return typeof target === "string" ? document.querySelector(target) : target;
  }

  function mount(target, options) {
    var root = resolve(target);
    if (!root || root.nodeType !== 1) {
      throw new TypeError("FlaskCaptcha.mount: expected an element or a selector");
    }
    var existing = controllers.get(root);
    if (existing) {
      return existing;
    }
    var controller = createWidget(root, options);
    controllers.set(root, controller);
    return controller;
  }

  function mountAll(scope) {
    var nodes = (scope || document).querySelectorAll(".fce-widget");
    Array.prototype.forEach.call(nodes, function (node) { mount(node); });
  }

  function reset(target) {
    var controller = controllers.get(resolve(target));
    return controller ? controller.reset() : Promise.resolve(false);
  }

  function token(target) {
    var controller = controllers.get(resolve(target));
    return controller ? controller.token() : "";
  }

  function registerType(name, handler) {
    if (!name || !handler || typeof handler.render !== "function") {
      throw new TypeError("FlaskCaptcha.registerType(name, {typed, render, solve?})");
    }
    TYPES[name] = handler;
  }

  window.FlaskCaptcha = {
    version: VERSION,
    mount: mount,
    mountAll: mountAll,
    reset: reset,
    token: token,
    registerType: registerType,
    strings: STRINGS
  };

  /* Coming back through the back/forward cache: the token was probably spent, start afresh. */
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) {
      Array.prototype.forEach.call(document.querySelectorAll(".fce-widget"), function (node) {
        reset(node);
      });
    }
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { mountAll(); });
  } else {
    mountAll();
  }
})();
