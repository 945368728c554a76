/*! flask-captcha-ext self-hosted widget. Plain JavaScript, no build step, no third-party code.
 *
 * Mounts every `.fce-widget` container on DOMContentLoaded. A container carries data attributes
 * (see templates/flask_captcha_ext/widgets/selfhosted.html): data-fce-site-key, -generate-url,
 * -validate-url, -type, -types, -theme, -lang, -token-ttl, -action, and for proof of work -pow-worker-url,
 * -pow-progress ("visible") and -pow-start ("load" or "focus"). On success the widget writes a
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
 * {detail: {status, detail}}, fce:solved {detail: {type, number, took, hashing, checked, workers}}
 * when the browser has solved a proof of work (took: milliseconds from the challenge to the number,
 * hashing: the workers' own time, workers: how many; 0 when solved in the page).
 *
 * Submitting the form before verifying: the widget holds the submit once, validates what the
 * person typed, then submits again (form.requestSubmit, keeping the submitter) if it was right.
 * With nothing typed it holds the submit and asks for an answer. When no challenge could be
 * loaded (network error, rate limit, service down) it never blocks: the server decides.
 *
 * Proof of work ("pow", an ALTCHA v1 challenge) needs no person: the widget solves it in a Web
 * Worker (pow-worker.js, loaded by URL from beside this file: CSP worker-src 'self' is enough)
 * with WebCrypto SHA-256, validates the payload and stores the token. It shows only a short status
 * ("Verifying you are human...", then "Verified") unless data-fce-pow-progress="visible" asks
 * for a progress bar. Solving starts when the widget mounts, or with data-fce-pow-start="focus"
 * when something in its form first gets focus (or the form is submitted). A submit before the
 * solve is done is held, then sent once verified. The challenge is replaced before it expires, and
 * a new one solved when the token is about to expire. Without WebCrypto (plain http on a host
 * other than localhost) the widget switches to an image or math challenge if the site allows one,
 * else it says why it cannot work; without workers (or when pow-worker.js cannot load, e.g. this
 * script served from another origin) it solves in the page instead. "Use an image instead" (or "a
 * text question") lets a person leave proof of work for a typed challenge the site allows.
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
  var MAX_AUTO_FAILURES = 3;   // proof of work: give up after this many refused solutions in a row
  var POW_BATCH = 500;         // digests in flight per step when solving in the page
  var POW_MAX_WORKERS = 4;
  // Where pow-worker.js lives when the container does not say: beside this script.
  var SCRIPT_URL = document.currentScript && document.currentScript.src
    ? document.currentScript.src : "";

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
      rateLimitedMinutes: "Too many attempts. Please try again in {m} minutes.",
      network: "Could not reach the server. Check your connection, then choose \u201cNew challenge\u201d.",
      unavailable: "The security check is unavailable right now. Please try again shortly.",
      failed: "The security check could not be loaded. Please try again later.",
      unsupported: "This kind of challenge is not supported here.",
      powWorking: "Verifying you are human\u2026",
      powVerified: "Verified",
      powProgress: "Verification progress",
      powFallback: "Automatic verification is not available in this browser. Please answer this challenge instead.",
      powUnsupported: "Automatic verification is not available in this browser. It needs a secure (https) connection."
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
      rateLimitedMinutes: "Zu viele Versuche. Bitte versuchen Sie es in {m} Minuten erneut.",
      network: "Der Server ist nicht erreichbar. Pr\u00fcfen Sie die Verbindung und w\u00e4hlen Sie \u201eNeue Aufgabe\u201c.",
      unavailable: "Die Sicherheitspr\u00fcfung ist gerade nicht verf\u00fcgbar. Bitte versuchen Sie es gleich noch einmal.",
      failed: "Die Sicherheitspr\u00fcfung konnte nicht geladen werden. Bitte versuchen Sie es sp\u00e4ter.",
      unsupported: "Diese Art von Aufgabe wird hier nicht unterst\u00fctzt.",
      powWorking: "Wir pr\u00fcfen, ob Sie ein Mensch sind\u2026",
      powVerified: "Best\u00e4tigt",
      powProgress: "Fortschritt der Pr\u00fcfung",
      powFallback: "Die automatische Pr\u00fcfung ist in diesem Browser nicht m\u00f6glich. Bitte l\u00f6sen Sie stattdessen diese Aufgabe.",
      powUnsupported: "Die automatische Pr\u00fcfung ist in diesem Browser nicht m\u00f6glich. Sie braucht eine sichere (https-)Verbindung."
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
      rateLimitedMinutes: "Trop de tentatives. R\u00e9essayez dans {m} minutes.",
      network: "Serveur injoignable. V\u00e9rifiez votre connexion, puis choisissez \u00ab\u00a0Nouveau d\u00e9fi\u00a0\u00bb.",
      unavailable: "La v\u00e9rification est indisponible pour le moment. R\u00e9essayez bient\u00f4t.",
      failed: "La v\u00e9rification n\u2019a pas pu \u00eatre charg\u00e9e. R\u00e9essayez plus tard.",
      unsupported: "Ce type de d\u00e9fi n\u2019est pas pris en charge ici.",
      powWorking: "V\u00e9rification que vous \u00eates humain\u2026",
      powVerified: "V\u00e9rifi\u00e9",
      powProgress: "Progression de la v\u00e9rification",
      powFallback: "La v\u00e9rification automatique n\u2019est pas disponible dans ce navigateur. R\u00e9pondez plut\u00f4t \u00e0 ce d\u00e9fi.",
      powUnsupported: "La v\u00e9rification automatique n\u2019est pas disponible dans ce navigateur. Elle n\u00e9cessite une connexion s\u00e9curis\u00e9e (https)."
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
      rateLimitedMinutes: "Demasiados intentos. Vuelva a intentarlo dentro de {m} minutos.",
      network: "No se puede contactar con el servidor. Compruebe la conexi\u00f3n y elija \u00abNuevo reto\u00bb.",
      unavailable: "La comprobaci\u00f3n no est\u00e1 disponible ahora. Int\u00e9ntelo de nuevo en breve.",
      failed: "No se pudo cargar la comprobaci\u00f3n. Int\u00e9ntelo m\u00e1s tarde.",
      unsupported: "Este tipo de reto no es compatible aqu\u00ed.",
      powWorking: "Comprobando que es una persona\u2026",
      powVerified: "Verificado",
      powProgress: "Progreso de la comprobaci\u00f3n",
      powFallback: "La comprobaci\u00f3n autom\u00e1tica no est\u00e1 disponible en este navegador. Responda a este reto en su lugar.",
      powUnsupported: "La comprobaci\u00f3n autom\u00e1tica no est\u00e1 disponible en este navegador. Necesita una conexi\u00f3n segura (https)."
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
   *                 Optional supported() says whether this browser can solve it at all; when it
   *                 cannot, the widget offers a typed type the site allows instead.
   *
   * ctx = {view, t(key), el(tag, attrs, text), signal, announce(text), emit(name, detail), lang,
   *        options} (options: the widget's configuration, e.g. powWorkerUrl, powProgress).
   * Register with FlaskCaptcha.registerType(name, handler) from a script loaded after this one.
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
    // pow: POW, defined below with the solver it needs
  };

  // -- proof of work (ALTCHA v1) ---------------------------------------------------------------
  var DIGEST_SIZES = { "SHA-1": 20, "SHA-256": 32, "SHA-384": 48, "SHA-512": 64 };
  var powJobs = 0;

  function now() {
    return window.performance && performance.now ? performance.now() : Date.now();
  }

  function powSupported() {
    var c = window.crypto;
    return !!(c && c.subtle && typeof c.subtle.digest === "function" &&
      typeof TextEncoder === "function" && typeof Uint8Array === "function");
  }

  function abortError() {
    var error = new Error("aborted");
    error.name = "AbortError";
    return error;
  }

  function hexBytes(hex, length) {
    if (typeof hex !== "string" || hex.length !== length * 2 || /[^0-9a-f]/i.test(hex)) {
      return null;
    }
    var out = new Uint8Array(length);
    for (var i = 0; i < length; i++) {
      out[i] = parseInt(hex.substr(i * 2, 2), 16);
    }
    return out;
  }

  /* generate's `challenge` object, checked: {algorithm, challenge, salt, signature, maxnumber}. */
  function powChallenge(data) {
    var c = data && data.challenge;
    if (!c || typeof c !== "object") {
      return null;
    }
    var algorithm = typeof c.algorithm === "string" ? c.algorithm : "SHA-256";
    var max = c.maxnumber === undefined ? 1000000 : Number(c.maxnumber);
    if (!DIGEST_SIZES[algorithm.toUpperCase()] || typeof c.salt !== "string" ||
        typeof c.signature !== "string" ||
        !hexBytes(c.challenge, DIGEST_SIZES[algorithm.toUpperCase()]) ||
        !(max >= 0) || Math.floor(max) !== max || max > 1e9) {
      return null;
    }
    return {
      algorithm: algorithm, challenge: c.challenge, salt: c.salt, signature: c.signature,
      maxnumber: max
    };
  }

  /* The ALTCHA payload: base64 of JSON {algorithm, challenge, number, salt, signature}. */
  function powPayload(c, number) {
    var json = JSON.stringify({
      algorithm: c.algorithm, challenge: c.challenge, number: number, salt: c.salt,
      signature: c.signature
    });
    var bytes = new TextEncoder().encode(json);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) {
      binary += String.fromCharCode(bytes[i]);
    }
    return window.btoa(binary);
  }

  /* The in-page copy of pow-worker.js's loop, for browsers or pages where workers fail: digests
   * in batches (the next issued before the last is checked), one reused input buffer, byte
   * comparison. Resolves {number (-1: none), checked}; stops early when stopped() is true. */
  function scanRange(c, start, end, onProgress, stopped) {
    var subtle = window.crypto.subtle;
    var algorithm = c.algorithm.toUpperCase();
    var target = hexBytes(c.challenge, DIGEST_SIZES[algorithm]);
    var prefix = new TextEncoder().encode(c.salt);
    var p = prefix.length;
    var buffer = new Uint8Array(p + 16);
    buffer.set(prefix);
    var views = [];
    for (var len = 0; len <= 16; len++) {
      views.push(buffer.subarray(0, p + len));
    }
    var checked = 0;
    var reported = now();

    function issue(from) {
      var to = Math.min(end, from + POW_BATCH - 1);
      var digests = new Array(to - from + 1);
      for (var n = from; n <= to; n++) {
        var digits = String(n);
        for (var i = 0; i < digits.length; i++) {
          buffer[p + i] = digits.charCodeAt(i);
        }
        digests[n - from] = subtle.digest(algorithm, views[digits.length]);
      }
      return { from: from, to: to, done: Promise.all(digests) };
    }

    function same(result) {
      var digest = new Uint8Array(result);
      for (var i = 0; i < target.length; i++) {
        if (digest[i] !== target[i]) {
          return false;
        }
      }
      return true;
    }

    function step(batch) {
      var next = batch.to < end ? issue(batch.to + 1) : null;
      return batch.done.then(function (results) {
        if (stopped()) {
          return { number: -1, checked: checked, stopped: true };
        }
        for (var i = 0; i < results.length; i++) {
          if (same(results[i])) {
            return { number: batch.from + i, checked: checked + i + 1 };
          }
        }
        checked += results.length;
        if (now() - reported >= 100) {
          reported = now();
          onProgress(checked);
        }
        return next ? step(next) : { number: -1, checked: checked };
      });
    }

    return step(issue(start));
  }

  function solveInPage(ctx, c, report) {
    var began = now();
    var stopped = function () { return !!(ctx.signal && ctx.signal.aborted); };
    return scanRange(c, 0, c.maxnumber, report, stopped).then(function (found) {
      if (found.stopped) {
        throw abortError();
      }
      return { number: found.number, checked: found.checked, workers: 0, hashing: now() - began };
    });
  }

  /* Split 0..maxnumber over a few workers (contiguous slices); the first to find n wins. */
  function solveWithWorkers(ctx, c, report) {
    return new Promise(function (resolve, reject) {
      var url = ctx.options.powWorkerUrl;
      if (typeof Worker !== "function" || !url) {
        reject(new Error("no Web Worker support"));
        return;
      }
      var cores = (navigator.hardwareConcurrency || 2);
      var count = Math.max(1, Math.min(POW_MAX_WORKERS, cores, Math.ceil((c.maxnumber + 1) / 20000)));
      var slice = Math.ceil((c.maxnumber + 1) / count);
      var id = ++powJobs;
      var workers = [];
      var checked = [];
      var exhausted = 0;
      var finished = false;

      function total() {
        return checked.reduce(function (a, b) { return a + b; }, 0);
      }
      function stop() {
        finished = true;
        workers.forEach(function (w) { w.terminate(); });
        if (ctx.signal) {
          ctx.signal.removeEventListener("abort", onAbort);
        }
      }
      function onAbort() {
        if (!finished) {
          stop();
          reject(abortError());
        }
      }
      function listen(index, worker) {
        worker.onmessage = function (event) {
          var m = event.data || {};
          if (finished || m.id !== id) {
            return;
          }
          if (typeof m.checked === "number") {
            checked[index] = m.checked;
          }
          if (m.type === "progress") {
            report(total());
          } else if (m.type === "found") {
            stop();
            resolve({ number: m.number, checked: total(), workers: workers.length, hashing: m.took });
          } else if (m.type === "exhausted") {
            exhausted += 1;
            if (exhausted === workers.length) {
              stop();
              resolve({ number: -1, checked: total(), workers: workers.length, hashing: m.took });
            }
          } else if (m.type === "error") {
            stop();
            reject(new Error("proof-of-work worker: " + m.message));
          }
        };
        worker.onerror = function (event) {   // could not load (404, CSP) or crashed
          if (event && event.preventDefault) {
            event.preventDefault();
          }
          if (!finished) {
            stop();
            reject(new Error("the proof-of-work worker failed"));
          }
        };
      }

      if (ctx.signal) {
        if (ctx.signal.aborted) {
          reject(abortError());
          return;
        }
        ctx.signal.addEventListener("abort", onAbort);
      }
      for (var i = 0; i < count; i++) {
        var start = i * slice;
        var end = Math.min(c.maxnumber, start + slice - 1);
        if (start > end) {
          break;
        }
        var worker;
        try {
          worker = new Worker(url);      // throws for a cross-origin URL
        } catch (error) {
          stop();
          reject(error);
          return;
        }
        workers.push(worker);
        checked.push(0);
        listen(workers.length - 1, worker);
        worker.postMessage({
          type: "solve", id: id, algorithm: c.algorithm, challenge: c.challenge, salt: c.salt,
          start: start, end: end
        });
      }
    });
  }

  var POW = {
    typed: false,
    supported: powSupported,
    render: function (ctx) {
      if (!ctx.options.powProgress) {
        return {};
      }
      var bar = ctx.el("div", {
        "class": "fce-progress", role: "progressbar", "aria-label": ctx.t("powProgress"),
        "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": "0"
      });
      var fill = ctx.el("div", { "class": "fce-progress-fill" });
      bar.appendChild(fill);
      ctx.view.appendChild(bar);
      ctx.progress = function (fraction) {
        var percent = Math.max(0, Math.min(100, Math.floor(fraction * 100)));
        if (bar.getAttribute("aria-valuenow") !== String(percent)) {
          bar.setAttribute("aria-valuenow", String(percent));
          fill.style.transform = "scaleX(" + (percent / 100) + ")";   // CSSOM: CSP-safe
        }
      };
      return {};
    },
    solve: function (ctx, data) {
      var c = powChallenge(data);
      if (!c) {
        return Promise.reject(new Error("malformed proof-of-work challenge"));
      }
      var began = now();
      var report = function (checked) {
        if (ctx.progress) {
          ctx.progress(checked / (c.maxnumber + 1));
        }
      };
      return solveWithWorkers(ctx, c, report).catch(function (error) {
        if (error && error.name === "AbortError") {
          throw error;
        }
        if (window.console) {
          window.console.warn("flask-captcha-ext: solving in the page (" + error.message + ")");
        }
        return solveInPage(ctx, c, report);
      }).then(function (found) {
        if (found.number < 0) {
          throw new Error("proof of work: no solution up to maxnumber");
        }
        if (ctx.progress) {
          ctx.progress(1);
        }
        ctx.emit("fce:solved", {
          type: "pow", number: found.number, took: now() - began, hashing: found.hashing,
          checked: found.checked, workers: found.workers
        });
        return powPayload(c, found.number);
      });
    }
  };
  TYPES.pow = POW;

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
    var types = o.types || (d.fceTypes || "pow image").split(/[\s,]+/).filter(Boolean);
    return {
      siteKey: o.siteKey || d.fceSiteKey || "",
      generateUrl: o.generateUrl || d.fceGenerateUrl || "",
      validateUrl: o.validateUrl || d.fceValidateUrl || "",
      type: o.type || d.fceType || types[0] || "pow",
      action: o.action || d.fceAction || "",
      types: types,
      theme: o.theme || d.fceTheme || "auto",
      lang: pickLanguage(o.lang || d.fceLang),
      tokenTtl: parseSeconds(o.tokenTtl || d.fceTokenTtl, 300),
      powWorkerUrl: o.powWorkerUrl || d.fcePowWorkerUrl || defaultWorkerUrl(),
      powProgress: String(o.powProgress || d.fcePowProgress || "") === "visible" ||
        o.powProgress === true,
      powStart: (o.powStart || d.fcePowStart) === "focus" ? "focus" : "load"
    };
  }

  function defaultWorkerUrl() {
    try {
      return SCRIPT_URL ? new URL("pow-worker.js", SCRIPT_URL).href : "";
    } catch (error) {
      return "";
    }
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
    var waiters = [];          // held submits of solved-by-the-browser types, waiting for a result
    var autoFailures = 0;      // refused proof-of-work solutions in a row

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
      return Object.prototype.hasOwnProperty.call(TYPES, name) && TYPES[name] ? TYPES[name] : null;
    }

    /* A type the browser solves by itself (proof of work), as opposed to a typed one. */
    function isAuto(name) {
      var h = handlerFor(name === undefined ? type : name);
      return !!(h && !h.typed);
    }

    function canRun(name) {
      var h = handlerFor(name);
      return !!h && (typeof h.supported !== "function" || h.supported());
    }

    function typedTypes() {
      return cfg.types.filter(function (name) {
        var h = handlerFor(name);
        return h && h.typed;
      });
    }

    function usableType(name) {
      if (canRun(name)) {
        return name;
      }
      for (var i = 0; i < cfg.types.length; i++) {
        if (canRun(cfg.types[i])) {
          return cfg.types[i];
        }
      }
      return null;
    }

    /* Look: the compact proof-of-work status line (class fce-auto), with a progress bar if asked. */
    function applyMode() {
      var auto = isAuto();
      root.classList.toggle("fce-auto", auto);
      root.classList.toggle("fce-auto-progress", auto && cfg.powProgress);
      root.classList.toggle("fce-failed", state === "error");
      // Proof of work reads top down: status line, then progress (or "New challenge" after a
      // failure), then the switch to a typed challenge. Typed ones keep the status last.
      if (auto && status.nextSibling !== body) {
        box.insertBefore(status, body);
      } else if (!auto && status.parentNode === box && box.lastChild !== status) {
        box.appendChild(status);
      }
      if (auto) {
        status.setAttribute("tabindex", "-1");   // focus lands here when the body hides
      } else {
        status.removeAttribute("tabindex");
      }
    }

    function updateSwitch() {
      var choices = typedTypes();
      var handler = handlerFor(type);
      var next = null;
      if (handler && !handler.typed) {
        next = choices.length ? choices[0] : null;    // leave proof of work for a typed type
      } else if (choices.length >= 2 && handler) {
        next = choices[(choices.indexOf(type) + 1) % choices.length];
      }
      if (!next) {
        switchButton.hidden = true;
        return;
      }
      switchButton.textContent = strings["switch_" + next] ? t("switch_" + next) : t("switch_other");
      switchButton.setAttribute("data-next", next);
      switchButton.hidden = false;
    }

    function setToken(value) {
      token = value || "";
      tokenInput.value = token;
    }

    /* Held submits of proof-of-work widgets wait here: true once verified, false on failure. */
    function settle(ok) {
      var list = waiters;
      waiters = [];
      list.forEach(function (resolve) { resolve(ok); });
    }

    function whenSettled() {
      return new Promise(function (resolve) { waiters.push(resolve); });
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
        var tell = !isAuto() && (focusInside() || input.value !== "");
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
        if (!root.isConnected) {
          return;
        }
        if (!isAuto()) {
          load(t("tokenExpired"), "error");
        } else if (document.hidden) {
          state = "idle";        // solve again when the person comes back (or submits)
          stale = true;
          say("");
        } else {
          load("");              // proof of work: quietly solve a new one
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
      applyMode();
      if (isAuto() && typedTypes().length) {
        updateSwitch();          // proof of work failed: a typed challenge may still do
      }
      if (hadFocus) {
        refreshButton.focus();
      }
      settle(false);
    }

    function fail(response, during) {
      var code = response ? response.status : 0;
      var detail = response && response.data ? response.data.detail : "network error";
      var message;
      if (!response) {
        message = t("network");
      } else if (code === 429) {
        var wait = response.retryAfter;
        if (wait > 90) {  // people read minutes, not "2157 seconds"
          message = t("rateLimitedMinutes", { m: Math.ceil(wait / 60) });
        } else {
          message = wait > 0 ? t("rateLimited", { s: wait }) : t("rateLimitedShort");
        }
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
      var wanted = type;
      var chosen = usableType(type);
      if (!chosen) {
        applyMode();
        broken();
        say(isAuto(wanted) ? t("powUnsupported") : t("unsupported"), "error");
        return Promise.resolve(false);
      }
      if (chosen !== wanted && isAuto(wanted) && !isAuto(chosen)) {
        message = t("powFallback");     // e.g. no WebCrypto on plain http: a typed one instead
        kind = "info";
        settle(false);
      }
      type = chosen;
      applyMode();
      if (isAuto()) {
        updateSwitch();                 // a typed challenge is one click away from the start
        say(t("powWorking"), "working");
      } else {
        view.appendChild(el("p", { "class": "fce-loading" }, t("loading")));
      }
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
        view: view, t: t, el: el, signal: signal, lang: cfg.lang, options: cfg, emit: emit,
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
      applyMode();
      setBusy(false);
      updateSwitch();
      scheduleChallengeExpiry(parseSeconds(data.expires_in, 300));
      if (handler.typed || typeof handler.solve !== "function") {
        say(message || "", kind || (message ? "info" : null));
        return;
      }
      var mine = seq;
      setBusy(true);
      say(message || t("powWorking"), message ? (kind || "info") : "working");
      Promise.resolve().then(function () {
        return handler.solve(ctx, data);
      }).then(function (value) {
        if (mine === seq && state === "ready") {
          return submitAnswer(String(value));
        }
      }, function (error) {
        if (mine !== seq || (error && error.name === "AbortError")) {
          return;
        }
        if (window.console) {
          window.console.error("flask-captcha-ext: could not solve the challenge: " +
            (error && error.message));
        }
        broken();
        say(t("failed"), "error");
        emit("fce:error", { status: 0, detail: String(error && error.message) });
      });
    }

    /* Validate `value` against the live challenge; resolves true when verified. */
    function submitAnswer(value) {
      if (!challenge || state !== "ready") {
        return Promise.resolve(state === "verified");
      }
      var mine = seq;
      var spent = challenge;
      var auto = isAuto();
      state = "checking";
      setBusy(true);
      if (!auto) {
        say(t("checking"));
      }
      var body = { site_key: cfg.siteKey, captcha_id: spent.captcha_id, user_input: value };
      if (cfg.action) {
        body.action = cfg.action;
      }
      pending = postJson(cfg.validateUrl, body).then(function (response) {
        if (mine !== seq) {
          return false;
        }
        if (response.ok && response.data.valid === true && response.data.token) {
          verified(response.data.token);
          return true;
        }
        if (auto && (response.ok || response.status === 400)) {
          // A refused solution (or an expired challenge): solve a new one, a few times at most.
          autoFailures += 1;
          if (autoFailures >= MAX_AUTO_FAILURES) {
            broken();
            fail(response.ok ? { status: 400, data: {} } : response, "validate");
            return false;
          }
          return load("").then(function () { return false; });
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
        if (response.status === 429 && !auto) {  // a 429 leaves the challenge unspent: retry later
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
        if (auto) {
          broken();                      // nothing to retype: "New challenge" starts afresh
        } else {
          state = "ready";               // unknown whether it was spent; let them retry
          setBusy(false);
        }
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
      autoFailures = 0;
      setToken(value);
      setBusy(false);
      input.value = "";
      input.removeAttribute("aria-invalid");
      body.hidden = true;
      done.hidden = false;
      applyMode();
      if (isAuto()) {
        say(t("powVerified"), "success");
        if (hadFocus) {
          status.focus();
        }
      } else {
        say(t("verifiedLong"), "success");
        if (hadFocus) {
          done.focus();
        }
      }
      scheduleTokenExpiry();
      emit("fce:verified", { token: value });
      settle(true);
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

    /* Start the first challenge (on mount, or on first focus for data-fce-pow-start="focus"). */
    function start() {
      if (state === "idle") {
        load("");
      }
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
      autoFailures = 0;
      load(isAuto() ? "" : t("ready"));
    });
    switchButton.addEventListener("click", function () {
      var next = switchButton.getAttribute("data-next");
      if (next) {
        var fromAuto = isAuto();
        type = next;
        settle(false);                  // a held submit waits for the person instead
        load(t("ready")).then(function () {
          if (fromAuto && state === "ready" && !isAuto()) {
            input.focus();              // from proof of work: the new answer box is the next step
          }
        });
      }
    });
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden && stale && root.isConnected) {
        load("");
      }
    });

    function submitAgain(submitter) {
      if (typeof form.requestSubmit === "function") {
        if (submitter && submitter.form === form) {
          form.requestSubmit(submitter);
        } else {
          form.requestSubmit();
        }
      } else {
        form.submit();
      }
    }

    /* Submit before verifying: hold this submit, validate the typed answer, then submit again.
     * Proof of work: hold it until the browser has solved and validated, then submit again.
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
      var submitter = event.submitter || null;
      if (isAuto() && state !== "error") {
        event.preventDefault();
        event.stopImmediatePropagation();
        holding = true;
        say(t("powWorking"), "working");
        var settled = whenSettled();
        start();                         // not started yet (data-fce-pow-start="focus")
        settled.then(function (ok) {
          holding = false;
          if (ok) {
            submitAgain(submitter);
          }
        });
        return;
      }
      if (state !== "ready" && state !== "checking") {
        return;                          // no challenge to answer: let the server decide
      }
      event.preventDefault();
      event.stopImmediatePropagation();
      if (state === "ready" && !input.value.trim()) {
        say(t("required"), "error");
        input.setAttribute("aria-invalid", "true");
        input.focus();
        return;
      }
      holding = true;
      verify().then(function (ok) {
        holding = false;
        if (!ok) {
          if (state === "ready") {
            input.focus();             // wrong or expired: the new challenge waits for them
          }
          return;
        }
        submitAgain(submitter);
      }, function () {
        holding = false;
      });
    }
    if (form) {
      form.addEventListener("submit", onSubmit, true);
    }

    applyMode();
    if (isAuto() && cfg.powStart === "focus" && form) {
      form.addEventListener("focusin", start);
    } else {
      start();
    }

    return {
      element: root,
      reset: function () {
        clearTimer("token");
        autoFailures = 0;
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
