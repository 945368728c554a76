/*! flask-captcha-ext self-hosted widget. Plain JavaScript, no build step; proof of work runs in
 * ALTCHA's own Web Workers (altcha/, vendored unchanged: see altcha/README.md).
 *
 * Mounts every `.fce-widget` container on DOMContentLoaded. A container carries data attributes
 * (see templates/flask_captcha_ext/widgets/selfhosted.html): data-fce-site-key, -generate-url,
 * -validate-url, -type, -types, -theme, -lang, -token-ttl, -action, -min-work (sent to generate as
 * min_work), -pow-workers-url (the folder of the workers; default: altcha/ beside this file),
 * -pow-progress ("visible") and -pow-start ("load" or "focus"). On success the widget writes a
 * single-use token into the container's <input type="hidden" name="captcha-token">.
 *
 * window.FlaskCaptcha:
 *   mount(el, options?)   mount one container (idempotent); options override data attributes
 *   reset(el)             drop the token and show a new challenge (e.g. after a fetch() used it)
 *   token(el)             the current token, or "" when not verified
 *   registerType(name, handler)   add or replace a challenge type (see TYPES below)
 *   solvePow(challenge, options?) solve an ALTCHA challenge object (v2, or v1) in the workers;
 *                         a Promise of {payload, counter, algorithm, time, workers}
 *   strings               the string table by language; add a language by adding a key
 *
 * Events (bubbling, on the container): fce:verified {detail: {token}}, fce:expired, fce:error
 * {detail: {status, detail}}, fce:solved {detail: {type, algorithm, number, took, hashing, checked,
 * workers}} when the browser has solved a proof of work (number: the counter found; took:
 * milliseconds from the challenge to the counter; hashing: the finding worker's own time; checked:
 * about how many counters were tried; workers: how many ran).
 *
 * Every challenge carries proof of work (ALTCHA PoW v2, or v1 with CAPTCHA_POW_ALGORITHM =
 * "ALTCHA-V1"): a "pow" challenge is nothing else, and needs no person: the widget solves it,
 * validates the payload and stores the token, showing only a short status ("Verifying you are
 * human...", then "Verified") unless data-fce-pow-progress="visible" asks for a progress bar.
 * Solving starts when the widget mounts, or with data-fce-pow-start="focus" when something in its
 * form first gets focus (or the form is submitted). An "image" or "math" challenge has a `pow`
 * part that the widget solves in the background while the person reads and types; its proof goes
 * to validate with the answer (if it is not done yet, "Checking..." shows until it is).
 *
 * The workers (pbkdf2.js, sha.js, scrypt.js, argon2id.js, picked by the challenge's algorithm) are
 * started by URL, so a CSP of worker-src 'self' (or script-src 'self') is enough; up to four split
 * the counters between them. From another origin (a central service's widget) they start through
 * a blob: URL that imports them (worker-src blob:). PBKDF2 and SHA need WebCrypto, i.e. a secure
 * context (https, or localhost); where the browser cannot run the workers, or they cannot load,
 * the widget shows an error saying so and does not block the form: the server decides.
 *
 * Submitting the form before verifying: the widget holds the submit once, validates what the
 * person typed, then submits again (form.requestSubmit, keeping the submitter) if it was right.
 * With nothing typed it holds the submit and asks for an answer. A proof-of-work widget holds the
 * submit until it is verified. When no challenge could be loaded (network error, rate limit,
 * service down) it never blocks: the server decides.
 *
 * Switching kinds (only among the site's types, data-fce-types): from proof of work, "Use an
 * image instead" (or "a text question") leads to a typed challenge. Beside a typed challenge,
 * "Can't read it? Verify without typing" leads back to proof of work wherever "pow" is allowed,
 * so nobody has to read or answer anything (focus then goes to the status line), and "Use a text
 * question instead" / "Use an image instead" goes between image and math when both are allowed.
 * The image's alt text says what to do: "Type the 5 characters in this image." (the count when
 * generate's reply has `length`, else "Type the characters in this image."), and where proof of
 * work is allowed it points to "Verify without typing" (strings imageAlt, imageAltCount,
 * imageAltPow, switch_pow). The image shows at 160x60 CSS pixels whatever the PNG's size (twice
 * that for high-density screens).
 *
 * Loaded twice (one script tag per widget on a page)? The second run does nothing.
 *
 * Parts, in order: constants; strings (i18n); DOM helpers; network; configuration; proof of work;
 * challenge types; the widget (look and status, challenge lifecycle, answering, held submits,
 * lifetimes, event wiring); the public API.
 */
(function () {
  "use strict";

  if (window.FlaskCaptcha && window.FlaskCaptcha.version) {
    return;
  }

  // == constants ==================================================================================
  var VERSION = "2";
  var TOKEN_FIELD = "captcha-token";
  var MAX_INPUT = 64;
  var MAX_AUTO_RETRY_S = 120;
  var MAX_AUTO_FAILURES = 3;   // proof of work: give up after this many refused solutions in a row
  var POW_MAX_WORKERS = 4;
  var POW_TIMEOUT_MS = 90000;  // the workers give up after this (or the challenge's lifetime)
  // Where the altcha/ folder of workers is when the container does not say: beside this script.
  var SCRIPT_URL = document.currentScript && document.currentScript.src
    ? document.currentScript.src : "";

  // == strings (i18n) =============================================================================
  var STRINGS = {
    en: {
      title: "Security check",
      loading: "Loading a challenge\u2026",
      imageAlt: "Type the characters in this image.",
      imageAltCount: "Type the {n} characters in this image.",
      imageAltPow: "Can\u2019t read it? Choose \u201cVerify without typing\u201d.",
      imageLabel: "Characters in the image",
      imageHint: "Type the characters you see. Upper or lower case does not matter.",
      mathLabel: "Answer",
      mathHint: "Type the result as a number.",
      verify: "Verify",
      refresh: "New challenge",
      switch_math: "Use a text question instead",
      switch_image: "Use an image instead",
      switch_other: "Try another kind of challenge",
      switch_pow: "Can\u2019t read it? Verify without typing",
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
      powUnsupported: "Automatic verification is not available in this browser. It needs a secure (https) connection.",
      powNoWorker: "Automatic verification is not available in this browser. It needs Web Workers.",
      powWorkerFailed: "The security check could not start in this browser. Please reload the page and try again."
    },
    de: {
      title: "Sicherheitspr\u00fcfung",
      loading: "Aufgabe wird geladen\u2026",
      imageAlt: "Geben Sie die Zeichen in diesem Bild ein.",
      imageAltCount: "Geben Sie die {n} Zeichen in diesem Bild ein.",
      imageAltPow: "Nicht lesbar? W\u00e4hlen Sie \u201eOhne Eingabe best\u00e4tigen\u201c.",
      imageLabel: "Zeichen im Bild",
      imageHint: "Geben Sie die Zeichen ein. Gro\u00df- und Kleinschreibung ist egal.",
      mathLabel: "Antwort",
      mathHint: "Geben Sie das Ergebnis als Zahl ein.",
      verify: "Pr\u00fcfen",
      refresh: "Neue Aufgabe",
      switch_math: "Stattdessen eine Textfrage",
      switch_image: "Stattdessen ein Bild",
      switch_other: "Andere Art von Aufgabe",
      switch_pow: "Nicht lesbar? Ohne Eingabe best\u00e4tigen",
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
      powUnsupported: "Die automatische Pr\u00fcfung ist in diesem Browser nicht m\u00f6glich. Sie braucht eine sichere (https-)Verbindung.",
      powNoWorker: "Die automatische Pr\u00fcfung ist in diesem Browser nicht m\u00f6glich. Sie braucht Web Worker.",
      powWorkerFailed: "Die Sicherheitspr\u00fcfung konnte in diesem Browser nicht starten. Bitte laden Sie die Seite neu und versuchen Sie es erneut."
    },
    fr: {
      title: "V\u00e9rification de s\u00e9curit\u00e9",
      loading: "Chargement du d\u00e9fi\u2026",
      imageAlt: "Saisissez les caract\u00e8res de cette image.",
      imageAltCount: "Saisissez les {n} caract\u00e8res de cette image.",
      imageAltPow: "Illisible\u00a0? Choisissez \u00ab\u00a0V\u00e9rifier sans saisie\u00a0\u00bb.",
      imageLabel: "Caract\u00e8res de l\u2019image",
      imageHint: "Saisissez les caract\u00e8res affich\u00e9s. Majuscules ou minuscules, peu importe.",
      mathLabel: "R\u00e9ponse",
      mathHint: "Saisissez le r\u00e9sultat en chiffres.",
      verify: "V\u00e9rifier",
      refresh: "Nouveau d\u00e9fi",
      switch_math: "Utiliser une question texte",
      switch_image: "Utiliser une image",
      switch_other: "Essayer un autre type de d\u00e9fi",
      switch_pow: "Illisible\u00a0? V\u00e9rifier sans saisie",
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
      powUnsupported: "La v\u00e9rification automatique n\u2019est pas disponible dans ce navigateur. Elle n\u00e9cessite une connexion s\u00e9curis\u00e9e (https).",
      powNoWorker: "La v\u00e9rification automatique n\u2019est pas disponible dans ce navigateur. Elle n\u00e9cessite les Web Workers.",
      powWorkerFailed: "La v\u00e9rification n\u2019a pas pu d\u00e9marrer dans ce navigateur. Rechargez la page, puis r\u00e9essayez."
    },
    es: {
      title: "Comprobaci\u00f3n de seguridad",
      loading: "Cargando el reto\u2026",
      imageAlt: "Escriba los caracteres de esta imagen.",
      imageAltCount: "Escriba los {n} caracteres de esta imagen.",
      imageAltPow: "\u00bfNo se lee? Elija \u00abVerificar sin escribir\u00bb.",
      imageLabel: "Caracteres de la imagen",
      imageHint: "Escriba los caracteres que ve. No importan may\u00fasculas ni min\u00fasculas.",
      mathLabel: "Respuesta",
      mathHint: "Escriba el resultado como n\u00famero.",
      verify: "Verificar",
      refresh: "Nuevo reto",
      switch_math: "Usar una pregunta de texto",
      switch_image: "Usar una imagen",
      switch_other: "Probar otro tipo de reto",
      switch_pow: "\u00bfNo se lee? Verificar sin escribir",
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
      powUnsupported: "La comprobaci\u00f3n autom\u00e1tica no est\u00e1 disponible en este navegador. Necesita una conexi\u00f3n segura (https).",
      powNoWorker: "La comprobaci\u00f3n autom\u00e1tica no est\u00e1 disponible en este navegador. Necesita Web Workers.",
      powWorkerFailed: "La comprobaci\u00f3n no pudo iniciarse en este navegador. Recargue la p\u00e1gina e int\u00e9ntelo de nuevo."
    }
  };

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

  /* t(key, vars): the string of `lang` (English when missing), with {name} filled from vars. */
  function translator(lang) {
    return function t(key, vars) {
      var text = (STRINGS[lang] || {})[key] || STRINGS.en[key] || key;
      if (vars) {
        Object.keys(vars).forEach(function (k) { text = text.replace("{" + k + "}", vars[k]); });
      }
      return text;
    };
  }

  // == DOM helpers ================================================================================
  var SVG_NS = "http://www.w3.org/2000/svg";
  var ICON_REFRESH = "M17.65 6.35A7.96 7.96 0 0 0 12 4a8 8 0 1 0 7.73 10h-2.08A6 6 0 1 1 12 6" +
    "c1.66 0 3.14.69 4.22 1.78L13 11h7V4l-2.35 2.35z";
  var ICON_CHECK = "M9 16.17 4.83 12l-1.42 1.41L9 19 21 7l-1.41-1.41z";

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

  // == network ====================================================================================
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

  /* What to tell the person about a failed request (`response` null: it never arrived). */
  function failureMessage(t, response) {
    if (!response) {
      return t("network");
    }
    if (response.status === 429) {
      var wait = response.retryAfter;
      if (wait > 90) {  // people read minutes, not "2157 seconds"
        return t("rateLimitedMinutes", { m: Math.ceil(wait / 60) });
      }
      return wait > 0 ? t("rateLimited", { s: wait }) : t("rateLimitedShort");
    }
    return response.status >= 500 ? t("unavailable") : t("failed");
  }

  // == configuration ==============================================================================
  function parseSeconds(value, fallback) {
    var n = parseInt(value, 10);
    return n > 0 ? n : fallback;
  }

  /* Refresh this long before something expires: 10 s, or a fifth of short lifetimes. */
  function lead(seconds) {
    return Math.min(10, seconds / 5) * 1000;
  }

  function defaultWorkersUrl() {
    try {
      return SCRIPT_URL ? new URL("altcha/", SCRIPT_URL).href : "";
    } catch (error) {
      return "";
    }
  }

  function readConfig(root, options) {
    var d = root.dataset;
    var o = options || {};
    var types = o.types || (d.fceTypes || "pow image").split(/[\s,]+/).filter(Boolean);
    var minWork = parseFloat(o.minWork || d.fceMinWork);
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
      minWork: minWork > 0 ? minWork : null,
      powWorkersUrl: o.powWorkersUrl || d.fcePowWorkersUrl || defaultWorkersUrl(),
      powProgress: String(o.powProgress || d.fcePowProgress || "") === "visible" ||
        o.powProgress === true,
      powStart: (o.powStart || d.fcePowStart) === "focus" ? "focus" : "load"
    };
  }

  // == proof of work ==============================================================================
  // An ALTCHA challenge (generate's `challenge` for pow, `pow` for image and math) is solved by
  // the vendored worker for its algorithm: find the counter whose derived key starts with
  // keyPrefix. v1 challenges go through sha.js the way the ALTCHA widget converts them.

  function now() {
    return window.performance && performance.now ? performance.now() : Date.now();
  }

  function isAbort(error) {
    return !!error && error.name === "AbortError";
  }

  /* An Error whose `key` names the string to show (the message is for the console). */
  function powError(key, message) {
    var error = new Error(message);
    error.key = key;
    return error;
  }

  function abortError() {
    var error = new Error("aborted");
    error.name = "AbortError";
    return error;
  }

  function isHex(value, allowEmpty) {
    return typeof value === "string" && (allowEmpty || value !== "") &&
      value.length % 2 === 0 && !/[^0-9a-f]/i.test(value);
  }

  function utf8Hex(text) {
    var bytes = new TextEncoder().encode(text);
    var hex = "";
    for (var i = 0; i < bytes.length; i++) {
      hex += (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16);
    }
    return hex;
  }

  function base64Json(value) {
    var bytes = new TextEncoder().encode(JSON.stringify(value));
    var binary = "";
    for (var i = 0; i < bytes.length; i++) {
      binary += String.fromCharCode(bytes[i]);
    }
    return window.btoa(binary);
  }

  /* The worker file (in the altcha/ folder) that solves `algorithm`, and what it needs. */
  function workerFor(algorithm) {
    var name = String(algorithm || "").toUpperCase();
    if (name.indexOf("PBKDF2/") === 0) {
      return { file: "pbkdf2.js", webCrypto: true };
    }
    if (/^SHA-(256|384|512)$/.test(name)) {
      return { file: "sha.js", webCrypto: true };
    }
    if (name === "SCRYPT") {
      return { file: "scrypt.js", webCrypto: false };
    }
    if (name === "ARGON2ID") {
      return { file: "argon2id.js", webCrypto: false };
    }
    return null;
  }

  /* ALTCHA's createChallengeFromV1: a v1 challenge as v2 parameters for sha.js (cost 1, the
   * salt's UTF-8 bytes as nonce, counters as decimal strings). */
  function challengeFromV1(c) {
    var data = {};
    var query = c.salt.split("?")[1];
    if (query) {
      try {
        new URLSearchParams(query).forEach(function (value, name) { data[name] = value; });
      } catch (error) {
        data = {};
      }
    }
    var algorithm = c.algorithm.toUpperCase();
    return {
      parameters: {
        algorithm: algorithm,
        cost: 1,
        data: data,
        expiresAt: data.expires ? parseInt(data.expires, 10) : undefined,
        keyLength: algorithm === "SHA-512" ? 64 : algorithm === "SHA-384" ? 48 : 32,
        nonce: utf8Hex(c.salt),
        keyPrefix: c.challenge,
        salt: ""
      },
      signature: c.signature
    };
  }

  /* A checked job from generate's challenge object: {challenge (v2 shape), v1 (the original v1
   * object, or null), counterMode, worker}; null when it is malformed. */
  function powJob(raw) {
    if (!raw || typeof raw !== "object") {
      return null;
    }
    var v1 = null;
    var challenge = raw;
    if (!raw.parameters && typeof raw.challenge === "string") {
      if (typeof raw.algorithm !== "string" || typeof raw.salt !== "string" ||
          typeof raw.signature !== "string" || !isHex(raw.challenge)) {
        return null;
      }
      v1 = raw;
      challenge = challengeFromV1(raw);
    }
    var p = challenge.parameters;
    if (!p || typeof p !== "object" || typeof p.algorithm !== "string" || !isHex(p.nonce, true) ||
        !isHex(p.salt, true) || !isHex(p.keyPrefix) || typeof challenge.signature !== "string") {
      return null;
    }
    return {
      challenge: { parameters: p, signature: challenge.signature },
      v1: v1,
      counterMode: v1 ? "string" : "uint32",
      worker: workerFor(p.algorithm)
    };
  }

  /* Why this browser cannot solve the job (a string key), or null when it can. */
  function powProblem(job) {
    if (!job) {
      return "failed";
    }
    if (!job.worker) {
      return "unsupported";
    }
    if (typeof Worker !== "function" || typeof URL !== "function") {
      return "powNoWorker";
    }
    if (job.worker.webCrypto) {
      var c = window.crypto;
      if (window.isSecureContext === false || !c || !c.subtle) {
        return "powUnsupported";
      }
    } else if (typeof WebAssembly !== "object") {
      return "powNoWorker";
    }
    return null;
  }

  /* The base64 payload validate takes: ALTCHA's own v2 shape, or createPayloadV1's for v1. */
  function powPayload(job, solution) {
    if (job.v1) {
      return base64Json({
        algorithm: job.v1.algorithm,
        challenge: job.v1.challenge,
        number: solution.counter,
        salt: job.v1.salt,
        signature: job.v1.signature,
        took: solution.time || 0
      });
    }
    return base64Json({
      challenge: job.challenge,
      solution: { counter: solution.counter, derivedKey: solution.derivedKey, time: solution.time }
    });
  }

  var bootstrapUrls = {};

  /* A Worker running `url`. Browsers start workers only from the page's origin: a worker file on
   * another origin (a central service) is imported by a small same-origin blob: script. */
  function startWorker(url) {
    var absolute = new URL(url, document.baseURI);
    if (absolute.origin === window.location.origin) {
      return new Worker(absolute.href);
    }
    if (!bootstrapUrls[absolute.href]) {
      var source = "importScripts(" + JSON.stringify(absolute.href) + ");";
      bootstrapUrls[absolute.href] = URL.createObjectURL(
        new Blob([source], { type: "text/javascript" }));
    }
    return new Worker(bootstrapUrls[absolute.href]);
  }

  /* Run `count` workers on the job, worker i trying counters i, i + count, ...; resolves the
   * first solution ({counter, derivedKey, time}), or null when every worker gave up. */
  function runWorkers(job, url, count, signal, timeout) {
    return new Promise(function (resolve, reject) {
      var workers = [];
      var gaveUp = 0;
      var finished = false;

      function finish(settle, value) {
        if (finished) {
          return;
        }
        finished = true;
        workers.forEach(function (worker) { worker.terminate(); });
        if (signal) {
          signal.removeEventListener("abort", onAbort);
        }
        settle(value);
      }
      function onAbort() {
        finish(reject, abortError());
      }
      function onMessage(event) {
        var m = event.data;
        if (m && m.error) {
          var text = String(m.error && m.error.message ? m.error.message : m.error);
          finish(reject, powError("failed", "proof-of-work worker: " + text));
        } else if (m && typeof m.counter === "number") {
          finish(resolve, m);
        } else if (++gaveUp === workers.length) {
          finish(resolve, null);
        }
      }
      function onError(event) {   // could not load (404, CSP, wrong MIME type) or crashed
        if (event && event.preventDefault) {
          event.preventDefault();
        }
        finish(reject, powError("powWorkerFailed", "the proof-of-work worker " + url +
          " did not start" + (event && event.message ? ": " + event.message : "")));
      }

      if (signal) {
        if (signal.aborted) {
          reject(abortError());
          return;
        }
        signal.addEventListener("abort", onAbort);
      }
      for (var i = 0; i < count && !finished; i++) {
        var worker;
        try {
          worker = startWorker(url);    // throws for a blocked (CSP) or malformed URL
        } catch (error) {
          finish(reject, powError("powWorkerFailed", "could not start " + url + ": " + error));
          return;
        }
        workers.push(worker);
        worker.onmessage = onMessage;
        worker.onerror = onError;
        worker.postMessage({
          type: "work", challenge: job.challenge, counterMode: job.counterMode,
          counterStart: i, counterStep: count, timeout: timeout
        });
      }
    });
  }

  /* Solve generate's ALTCHA challenge object `raw` in the vendored workers. options: workersUrl
   * (the altcha/ folder), signal (AbortSignal), timeout (ms), workers (how many, at most 4).
   * Resolves {payload, counter, algorithm, time, workers}; rejects with an Error whose `key`
   * names the string to show, or an AbortError. */
  function solvePow(raw, options) {
    var o = options || {};
    var job = powJob(raw);
    var problem = powProblem(job);
    if (problem) {
      return Promise.reject(powError(problem, "cannot solve this proof of work here (" + problem +
        ")"));
    }
    var base = o.workersUrl || defaultWorkersUrl();
    var url;
    try {
      url = new URL(job.worker.file, new URL(base, document.baseURI)).href;
    } catch (error) {
      return Promise.reject(powError("powWorkerFailed", "no proof-of-work workers URL"));
    }
    var cores = navigator.hardwareConcurrency || 1;
    var wanted = Math.max(1, Math.min(o.workers || POW_MAX_WORKERS, POW_MAX_WORKERS, cores));
    var timeout = o.timeout > 0 ? o.timeout : POW_TIMEOUT_MS;

    function attempt(count) {
      return runWorkers(job, url, count, o.signal, timeout).catch(function (error) {
        // A memory-hard algorithm on a small device: fewer workers need less memory.
        if (count > 1 && /out of memory/i.test(String(error && error.message))) {
          return attempt(Math.floor(count / 2));
        }
        throw error;
      }).then(function (solution) {
        if (!solution) {
          throw powError("failed", "proof of work: no solution within " + timeout + " ms");
        }
        return {
          payload: powPayload(job, solution), counter: solution.counter,
          algorithm: job.challenge.parameters.algorithm, time: solution.time, workers: count
        };
      });
    }
    return attempt(wanted);
  }

  /* Solve the proof of work `raw` of a challenge of `type` for a widget (ctx), announcing it with
   * fce:solved; a Promise of the payload. */
  function solveFor(ctx, raw, type, expiresIn) {
    var began = now();
    var lifetime = parseSeconds(expiresIn, POW_TIMEOUT_MS / 1000);
    return solvePow(raw, {
      workersUrl: ctx.options.powWorkersUrl, signal: ctx.signal,
      timeout: Math.min(POW_TIMEOUT_MS, Math.max(10, lifetime) * 1000)
    }).then(function (found) {
      ctx.emit("fce:solved", {
        type: type, algorithm: found.algorithm, number: found.counter, took: now() - began,
        hashing: found.time, checked: found.counter + 1, workers: found.workers
      });
      return found.payload;
    });
  }

  // == challenge types ============================================================================
  /* The extension point: one handler per `type` the generate endpoint returns.
   *
   *   typed: true   the person types the answer into the widget's text input;
   *                 render(ctx, data) shows the challenge in ctx.view and returns
   *                 {label, hint, inputMode} for that input. A `pow` part in data is solved by
   *                 the widget in the background and sent as `proof`.
   *   typed: false  the browser finds the answer itself (proof of work);
   *                 render(ctx, data) may show progress in ctx.view, and
   *                 solve(ctx, data) returns a Promise of the `user_input` string to validate.
   *                 ctx.signal aborts when the challenge is replaced; ctx.announce(text) speaks.
   *                 Optional supported() says whether this browser can solve it at all; when it
   *                 cannot, the widget offers a typed type the site allows instead.
   *   problem(ctx, data)  optional: the string key saying why this browser cannot take the
   *                 challenge (shown as an error), or null.
   *
   * ctx = {view, t(key), el(tag, attrs, text), signal, announce(text), emit(name, detail), lang,
   *        options} (options: the widget's configuration, e.g. powWorkersUrl, powProgress).
   * Register with FlaskCaptcha.registerType(name, handler) from a script loaded after this one.
   */
  var TYPES = {
    image: {
      typed: true,
      render: function (ctx, data) {
        // Shown at 160x60 CSS pixels; the PNG may be larger (2x for high-density screens).
        ctx.view.appendChild(ctx.el("img", {
          "class": "fce-image",
          src: "data:image/png;base64," + data.image,
          alt: imageAlt(ctx, data),
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
    },
    pow: {
      typed: false,
      problem: function (ctx, data) {
        return powProblem(powJob(data.challenge));
      },
      render: function (ctx) {
        if (ctx.options.powProgress) {
          ctx.progress = progressBar(ctx);
        }
        return {};
      },
      solve: function (ctx, data) {
        return solveFor(ctx, data.challenge, "pow", data.expires_in).then(function (payload) {
          if (ctx.progress) {
            ctx.progress();
          }
          return payload;
        });
      }
    }
  };

  /* The image's text alternative says what to do: type the characters (how many, when generate's
   * reply has `length`), and, where the site allows proof of work, how to do without reading. */
  function imageAlt(ctx, data) {
    var n = data.length;
    var text = typeof n === "number" && Math.floor(n) === n && n >= 1 && n <= MAX_INPUT
      ? ctx.t("imageAltCount", { n: n }) : ctx.t("imageAlt");
    return offersPow(ctx.options) ? text + " " + ctx.t("imageAltPow") : text;
  }

  /* data-fce-pow-progress="visible": a bar, indeterminate while the workers search (how many
   * counters the search takes is the server's secret), full once solved. Returns done(). */
  function progressBar(ctx) {
    var bar = ctx.el("div", {
      "class": "fce-progress fce-progress-busy", role: "progressbar",
      "aria-label": ctx.t("powProgress"), "aria-valuemin": "0", "aria-valuemax": "100"
    });
    var fill = ctx.el("div", { "class": "fce-progress-fill" });
    bar.appendChild(fill);
    ctx.view.appendChild(bar);
    return function done() {
      bar.classList.remove("fce-progress-busy");
      bar.setAttribute("aria-valuenow", "100");
      fill.style.transform = "scaleX(1)";   // CSSOM: CSP-safe
    };
  }

  function handlerFor(name) {
    return Object.prototype.hasOwnProperty.call(TYPES, name) && TYPES[name] ? TYPES[name] : null;
  }

  /* A type the browser solves by itself (proof of work), as opposed to a typed one. */
  function isAutoType(name) {
    var h = handlerFor(name);
    return !!(h && !h.typed);
  }

  /* Whether the widget offers proof of work ("Verify without typing") beside a typed challenge:
   * the site allows it (cfg.types, already narrowed to what the server accepts). */
  function offersPow(cfg) {
    return cfg.types.indexOf("pow") !== -1 && isAutoType("pow");
  }

  function canRun(name) {
    var h = handlerFor(name);
    return !!h && (typeof h.supported !== "function" || h.supported());
  }

  // == the widget =================================================================================
  var controllers = new WeakMap();
  var counter = 0;

  /* The widget's elements, built once inside `root`. */
  function buildDom(root, cfg, t, uid) {
    var dom = {};
    dom.tokenInput = root.querySelector('input[name="' + TOKEN_FIELD + '"]');
    if (!dom.tokenInput) {
      dom.tokenInput = el("input", { type: "hidden", name: TOKEN_FIELD });
      root.insertBefore(dom.tokenInput, root.firstChild);
    }
    dom.tokenInput.value = "";
    ["light", "dark", "auto"].forEach(function (name) {
      root.classList.toggle("fce-theme-" + name, name === cfg.theme);
    });
    root.classList.add("fce-widget", "fce-js");

    dom.box = el("div", { "class": "fce-box", role: "group", "aria-labelledby": uid + "-title" });
    dom.box.setAttribute("lang", cfg.lang);
    var title = el("p", { "class": "fce-title", id: uid + "-title" }, t("title"));
    dom.body = el("div", { "class": "fce-body" });
    var challengeRow = el("div", { "class": "fce-challenge" });
    dom.view = el("div", { "class": "fce-view", id: uid + "-view", "aria-busy": "true" });
    dom.refreshButton = el("button", {
      type: "button", "class": "fce-icon-button fce-refresh",
      "aria-label": t("refresh"), title: t("refresh")
    });
    dom.refreshButton.appendChild(icon(ICON_REFRESH));
    challengeRow.appendChild(dom.view);
    challengeRow.appendChild(dom.refreshButton);

    dom.answer = el("div", { "class": "fce-answer" });
    dom.label = el("label", { "class": "fce-label", "for": uid + "-input" }, t("imageLabel"));
    var row = el("div", { "class": "fce-row" });
    dom.input = el("input", {
      "class": "fce-input", id: uid + "-input", type: "text", autocomplete: "off",
      autocapitalize: "off", autocorrect: "off", spellcheck: "false", maxlength: String(MAX_INPUT),
      enterkeyhint: "done",
      "aria-describedby": uid + "-view " + uid + "-hint " + uid + "-status"
    });
    dom.verifyButton = el("button", { type: "button", "class": "fce-button fce-verify" },
      t("verify"));
    row.appendChild(dom.input);
    row.appendChild(dom.verifyButton);
    dom.hint = el("p", { "class": "fce-hint", id: uid + "-hint" });
    dom.answer.appendChild(dom.label);
    dom.answer.appendChild(row);
    dom.answer.appendChild(dom.hint);

    // Beside a typed challenge: proof of work instead, for those who cannot read or solve it.
    dom.powButton = el("button", {
      type: "button", "class": "fce-link fce-switch-pow", "data-next": "pow", hidden: ""
    }, t("switch_pow"));
    dom.switchButton = el("button", { type: "button", "class": "fce-link fce-switch", hidden: "" });

    dom.body.appendChild(challengeRow);
    dom.body.appendChild(dom.answer);
    dom.body.appendChild(dom.powButton);
    dom.body.appendChild(dom.switchButton);

    dom.done = el("div", { "class": "fce-done", tabindex: "-1", hidden: "" });
    dom.done.appendChild(icon(ICON_CHECK));
    dom.done.appendChild(el("span", null, t("verified")));

    dom.status = el("p", {
      "class": "fce-status", id: uid + "-status", role: "status",
      "aria-live": "polite", "aria-atomic": "true"
    });

    dom.box.appendChild(title);
    dom.box.appendChild(dom.body);
    dom.box.appendChild(dom.done);
    dom.box.appendChild(dom.status);
    root.appendChild(dom.box);
    return dom;
  }

  function Widget(root, options) {
    this.root = root;
    this.cfg = readConfig(root, options);
    this.t = translator(this.cfg.lang);
    this.form = root.closest("form");
    this.type = this.cfg.type;
    this.challenge = null;     // the live challenge (generate's reply), or null
    this.token = "";
    this.state = "idle";       // idle, loading, ready, checking, verified, error
    this.seq = 0;              // bumps on every new challenge: late replies are ignored
    this.abort = null;         // AbortController of the current challenge (fetch and workers)
    this.proof = null;         // typed types: Promise of the pow part's payload (null: failed)
    this.timers = { challenge: 0, token: 0, retry: 0 };
    this.stale = false;        // expired while the page was hidden: refresh when shown
    this.pending = null;       // the Promise of a validation in flight
    this.waiters = [];         // held submits of solved-by-the-browser types, waiting for a result
    this.holding = false;      // a held submit is being validated
    this.autoFailures = 0;     // refused proof-of-work solutions in a row
    this.dom = buildDom(root, this.cfg, this.t, "fce-" + (++counter) + "-" +
      Math.random().toString(36).slice(2, 8));
    bindEvents(this);
    this.applyMode();
    if (this.isAuto() && this.cfg.powStart === "focus" && this.form) {
      this.form.addEventListener("focusin", this.start.bind(this));
    } else {
      this.start();
    }
  }

  var W = Widget.prototype;

  // -- look and status ---------------------------------------------------------------------------
  W.focusInside = function () {
    return this.dom.box.contains(document.activeElement);
  };

  W.say = function (text, kind) {
    var status = this.dom.status;
    status.textContent = text || "";
    if (kind) {
      status.setAttribute("data-kind", kind);
    } else {
      status.removeAttribute("data-kind");
    }
  };

  W.emit = function (name, detail) {
    this.root.dispatchEvent(new CustomEvent(name, { bubbles: true, detail: detail || {} }));
  };

  W.setBusy = function (busy) {
    this.dom.view.setAttribute("aria-busy", busy ? "true" : "false");
    this.dom.verifyButton.setAttribute("aria-disabled", busy ? "true" : "false");
  };

  W.setToken = function (value) {
    this.token = value || "";
    this.dom.tokenInput.value = this.token;
  };

  W.isAuto = function (name) {
    return isAutoType(name === undefined ? this.type : name);
  };

  W.typedTypes = function () {
    return this.cfg.types.filter(function (name) {
      var h = handlerFor(name);
      return h && h.typed;
    });
  };

  W.usableType = function (name) {
    if (canRun(name)) {
      return name;
    }
    for (var i = 0; i < this.cfg.types.length; i++) {
      if (canRun(this.cfg.types[i])) {
        return this.cfg.types[i];
      }
    }
    return null;
  };

  /* Look: the compact proof-of-work status line (class fce-auto), with a progress bar if asked. */
  W.applyMode = function () {
    var auto = this.isAuto();
    var box = this.dom.box;
    var status = this.dom.status;
    this.root.classList.toggle("fce-auto", auto);
    this.root.classList.toggle("fce-auto-progress", auto && this.cfg.powProgress);
    this.root.classList.toggle("fce-failed", this.state === "error");
    // Proof of work reads top down: status line, then progress (or "New challenge" after a
    // failure), then the switch to a typed challenge. Typed ones keep the status last.
    if (auto && status.nextSibling !== this.dom.body) {
      box.insertBefore(status, this.dom.body);
    } else if (!auto && status.parentNode === box && box.lastChild !== status) {
      box.appendChild(status);
    }
    if (auto) {
      status.setAttribute("tabindex", "-1");   // focus lands here when the body hides
    } else {
      status.removeAttribute("tabindex");
    }
  };

  /* The ways to another kind of challenge: from a typed one, "Verify without typing" (proof of
   * work, where the site allows it) and the next typed type; from proof of work, a typed type. */
  W.updateSwitch = function () {
    var button = this.dom.switchButton;
    var choices = this.typedTypes();
    var handler = handlerFor(this.type);
    var next = null;
    this.dom.powButton.hidden = !(handler && handler.typed && offersPow(this.cfg));
    if (handler && !handler.typed) {
      next = choices.length ? choices[0] : null;    // leave proof of work for a typed type
    } else if (choices.length >= 2 && handler) {
      next = choices[(choices.indexOf(this.type) + 1) % choices.length];
    }
    if (!next) {
      button.hidden = true;
      return;
    }
    var key = "switch_" + next;
    button.textContent = this.t(STRINGS.en[key] ? key : "switch_other");
    button.setAttribute("data-next", next);
    button.hidden = false;
  };

  W.showAnswer = function () {
    this.dom.body.hidden = false;
    this.dom.done.hidden = true;
  };

  // -- challenge lifecycle -----------------------------------------------------------------------
  /* Start the first challenge (on mount, or on first focus for data-fce-pow-start="focus"). */
  W.start = function () {
    if (this.state === "idle") {
      this.load("");
    }
  };

  /* Drop the current challenge (and its workers), fetch a new one; resolves true when shown. */
  W.load = function (message, kind) {
    var self = this;
    var dom = this.dom;
    var mine = ++this.seq;
    if (this.abort) {
      this.abort.abort();
    }
    this.abort = typeof AbortController === "function" ? new AbortController() : null;
    this.clearTimer("challenge");
    this.clearTimer("retry");
    this.stale = false;
    this.challenge = null;
    this.proof = null;
    this.state = "loading";
    this.setToken("");
    this.showAnswer();
    this.setBusy(true);
    dom.input.value = "";
    dom.input.removeAttribute("aria-invalid");
    dom.view.textContent = "";
    var wanted = this.type;
    var chosen = this.usableType(wanted);
    if (!chosen) {
      this.applyMode();
      this.broken();
      this.say(this.isAuto(wanted) ? this.t("powUnsupported") : this.t("unsupported"), "error");
      return Promise.resolve(false);
    }
    if (chosen !== wanted && this.isAuto(wanted) && !this.isAuto(chosen)) {
      message = this.t("powFallback");   // a custom solved type this browser cannot run
      kind = "info";
      this.settle(false);
    }
    this.type = chosen;
    this.applyMode();
    if (this.isAuto()) {
      this.updateSwitch();               // a typed challenge is one click away from the start
      this.say(this.t("powWorking"), "working");
    } else {
      dom.view.appendChild(el("p", { "class": "fce-loading" }, this.t("loading")));
    }
    var body = { site_key: this.cfg.siteKey, type: this.type };
    if (this.cfg.minWork) {
      body.min_work = this.cfg.minWork;
    }
    return postJson(this.cfg.generateUrl, body, this.abort ? this.abort.signal : undefined)
      .then(function (response) {
        if (mine !== self.seq) {
          return false;
        }
        if (!response.ok || !response.data.captcha_id) {
          self.broken();
          self.fail(response, "generate");
          return false;
        }
        self.show(response.data, message, kind);
        return true;
      }, function (error) {
        if (mine !== self.seq || isAbort(error)) {
          return false;
        }
        self.broken();
        self.fail(null, "generate");
        return false;
      });
  };

  W.context = function () {
    var self = this;
    return {
      view: this.dom.view, t: this.t, el: el, signal: this.abort ? this.abort.signal : undefined,
      lang: this.cfg.lang, options: this.cfg, emit: this.emit.bind(this),
      announce: function (text) { self.say(text); }
    };
  };

  /* Show generate's reply; start its proof of work (the answer of pow, the part of the others). */
  W.show = function (data, message, kind) {
    var dom = this.dom;
    this.challenge = data;
    this.type = data.type || this.type;
    this.root.setAttribute("data-fce-captcha-id", data.captcha_id);
    dom.view.textContent = "";
    var handler = handlerFor(this.type);
    var ctx = this.context();
    var problem = !handler ? "unsupported"
      : handler.typed ? (data.pow ? powProblem(powJob(data.pow)) : null)
        : (typeof handler.problem === "function" ? handler.problem(ctx, data) : null);
    if (problem) {
      this.cannotSolve(powError(problem, "cannot take this challenge here (" + problem + ")"));
      return;
    }
    var shown = handler.render(ctx, data) || {};
    dom.answer.hidden = !handler.typed;
    if (handler.typed) {
      dom.label.textContent = shown.label || this.t("mathLabel");
      dom.hint.textContent = shown.hint || "";
      dom.input.setAttribute("inputmode", shown.inputMode || "text");
    }
    this.state = "ready";
    this.applyMode();
    this.setBusy(false);
    this.updateSwitch();
    this.scheduleChallengeExpiry(parseSeconds(data.expires_in, 300));
    if (!handler.typed && typeof handler.solve === "function") {
      this.solveAuto(ctx, handler, data, message, kind);
      return;
    }
    if (handler.typed && data.pow) {
      this.proof = this.solvePart(ctx, data);
    }
    this.say(message || "", kind || (message ? "info" : null));
  };

  /* A typed challenge's pow part, solved while the person reads: a Promise of its payload, or
   * of null when it failed (the widget then shows the error). */
  W.solvePart = function (ctx, data) {
    var self = this;
    var mine = this.seq;
    return solveFor(ctx, data.pow, this.type, data.expires_in).then(null, function (error) {
      if (mine === self.seq && !isAbort(error)) {
        self.cannotSolve(error);
      }
      return null;
    });
  };

  /* A type the browser solves: solve it, then validate the answer. */
  W.solveAuto = function (ctx, handler, data, message, kind) {
    var self = this;
    var mine = this.seq;
    this.setBusy(true);
    this.say(message || this.t("powWorking"), message ? (kind || "info") : "working");
    Promise.resolve().then(function () {
      return handler.solve(ctx, data);
    }).then(function (value) {
      if (mine === self.seq && self.state === "ready") {
        return self.submitAnswer(String(value));
      }
    }, function (error) {
      if (mine === self.seq && !isAbort(error)) {
        self.cannotSolve(error);
      }
    });
  };

  /* The proof of work cannot be done here (no workers, no WebCrypto, a worker that did not
   * load): say so and stop; the form is not blocked. */
  W.cannotSolve = function (error) {
    if (window.console) {
      window.console.error("flask-captcha-ext: could not solve the challenge: " +
        (error && error.message));
    }
    this.broken();
    this.say(this.t((error && error.key) || "failed"), "error");
    this.emit("fce:error", { status: 0, detail: String(error && error.message) });
  };

  /* No usable challenge: hide the answer box, keep "New challenge" (and focus) at hand. */
  W.broken = function () {
    var dom = this.dom;
    var hadFocus = this.focusInside();
    if (this.abort) {
      this.abort.abort();                // stops workers still searching
      this.abort = null;
    }
    this.state = "error";
    this.challenge = null;
    this.proof = null;
    this.setBusy(false);
    dom.view.textContent = "";
    dom.answer.hidden = true;
    dom.powButton.hidden = true;
    dom.switchButton.hidden = true;
    this.applyMode();
    if (this.isAuto() && this.typedTypes().length) {
      this.updateSwitch();               // proof of work failed: a typed challenge may still do
    }
    if (hadFocus) {
      dom.refreshButton.focus();
    }
    this.settle(false);
  };

  /* Say why a request failed (and retry a rate-limited generate by itself when it is soon). */
  W.fail = function (response, during) {
    var self = this;
    var code = response ? response.status : 0;
    var detail = response && response.data ? response.data.detail : "network error";
    if (code === 429 && during === "generate" && response.retryAfter > 0 &&
        response.retryAfter <= MAX_AUTO_RETRY_S) {
      this.clearTimer("retry");
      this.timers.retry = setTimeout(function () {
        self.timers.retry = 0;
        if (self.root.isConnected) {
          self.load("");
        }
      }, response.retryAfter * 1000);
    }
    if (response && code !== 429 && code < 500 && window.console) {
      window.console.error("flask-captcha-ext: " + during + " failed (" + code + "): " + detail);
    }
    this.say(failureMessage(this.t, response), "error");
    this.emit("fce:error", { status: code, detail: detail });
  };

  // -- answering ---------------------------------------------------------------------------------
  /* The typed answer: check it is there, then validate it. */
  W.verify = function () {
    var input = this.dom.input;
    if (this.state === "checking" && this.pending) {
      return this.pending;
    }
    if (this.state !== "ready" || !handlerFor(this.type).typed) {
      return Promise.resolve(this.state === "verified");
    }
    var value = input.value.trim();
    if (!value) {
      this.say(this.t("empty"), "error");
      input.setAttribute("aria-invalid", "true");
      input.focus();
      return Promise.resolve(false);
    }
    return this.submitAnswer(value);
  };

  /* Validate `value` against the live challenge, with the proof of its pow part (waiting for
   * the workers if they are not done); resolves true when verified. */
  W.submitAnswer = function (value) {
    var self = this;
    if (!this.challenge || this.state !== "ready") {
      return Promise.resolve(this.state === "verified");
    }
    var mine = this.seq;
    var spent = this.challenge;
    var auto = this.isAuto();
    var proof = auto ? null : this.proof;
    this.state = "checking";
    this.setBusy(true);
    if (!auto) {
      this.say(this.t("checking"));
    }
    this.pending = Promise.resolve(proof).then(function (payload) {
      if (mine !== self.seq || self.state !== "checking") {
        return false;                    // replaced, or its proof of work failed (shown)
      }
      var body = { site_key: self.cfg.siteKey, captcha_id: spent.captcha_id, user_input: value };
      if (payload) {
        body.proof = payload;
      }
      if (self.cfg.action) {
        body.action = self.cfg.action;
      }
      return postJson(self.cfg.validateUrl, body).then(function (response) {
        return mine === self.seq ? self.validated(response, auto) : false;
      }, function () {
        return mine === self.seq ? self.unreachable(auto) : false;
      });
    }).then(function (ok) {
      self.pending = null;
      return ok;
    });
    return this.pending;
  };

  /* What validate said: a token, a wrong answer, a spent challenge, or a failure. */
  W.validated = function (response, auto) {
    var self = this;
    if (response.ok && response.data.valid === true && response.data.token) {
      this.verified(response.data.token);
      return true;
    }
    // A 503 without Retry-After: the store timed out, and the challenge may be used up.
    var usedUp = response.status === 503 && !(response.retryAfter > 0);
    if (auto && (response.ok || response.status === 400 || usedUp)) {
      // A refused solution, an expired or used-up challenge: solve a new one, a few times at most.
      this.autoFailures += 1;
      if (this.autoFailures >= MAX_AUTO_FAILURES) {
        this.broken();
        this.fail(response.ok ? { status: 400, data: {} } : response, "validate");
        return false;
      }
      return this.load("").then(function () { return false; });
    }
    if (response.ok) {                   // a wrong answer spends the challenge
      var keepFocus = this.focusInside();
      return this.load(this.t("wrong"), "error").then(function () {
        self.dom.input.setAttribute("aria-invalid", "true");
        if (keepFocus && self.state === "ready") {
          self.dom.input.focus();
        }
        return false;
      });
    }
    if (response.status === 400) {       // expired, unknown or already used
      return this.load(this.t("expired"), "error").then(function () { return false; });
    }
    if (response.status === 429 && !auto) {  // a 429 leaves the challenge unspent: retry later
      this.state = "ready";
      this.setBusy(false);
    } else {
      this.broken();
    }
    this.fail(response, "validate");
    return false;
  };

  /* validate never answered: unknown whether the challenge was spent. */
  W.unreachable = function (auto) {
    if (auto) {
      this.broken();                     // nothing to retype: "New challenge" starts afresh
    } else {
      this.state = "ready";              // let them retry
      this.setBusy(false);
    }
    this.fail(null, "validate");
    return false;
  };

  W.verified = function (value) {
    var dom = this.dom;
    var hadFocus = this.focusInside();
    this.clearTimer("challenge");
    this.challenge = null;
    this.proof = null;
    this.state = "verified";
    this.autoFailures = 0;
    this.setToken(value);
    this.setBusy(false);
    dom.input.value = "";
    dom.input.removeAttribute("aria-invalid");
    dom.body.hidden = true;
    dom.done.hidden = false;
    this.applyMode();
    if (this.isAuto()) {
      this.say(this.t("powVerified"), "success");
      if (hadFocus) {
        dom.status.focus();
      }
    } else {
      this.say(this.t("verifiedLong"), "success");
      if (hadFocus) {
        dom.done.focus();
      }
    }
    this.scheduleTokenExpiry();
    this.emit("fce:verified", { token: value });
    this.settle(true);
  };

  // -- held submits ------------------------------------------------------------------------------
  /* Held submits of proof-of-work widgets wait here: true once verified, false on failure. */
  W.settle = function (ok) {
    var list = this.waiters;
    this.waiters = [];
    list.forEach(function (resolve) { resolve(ok); });
  };

  W.whenSettled = function () {
    var self = this;
    return new Promise(function (resolve) { self.waiters.push(resolve); });
  };

  W.submitAgain = function (submitter) {
    var form = this.form;
    if (typeof form.requestSubmit === "function") {
      if (submitter && submitter.form === form) {
        form.requestSubmit(submitter);
      } else {
        form.requestSubmit();
      }
    } else {
      form.submit();
    }
  };

  /* Submit before verifying: hold this submit, validate the typed answer, then submit again.
   * Proof of work: hold it until the browser has solved and validated, then submit again.
   * Registered in the capture phase so it runs before the page's own submit listeners. */
  W.onSubmit = function (event) {
    var self = this;
    if (this.state === "verified" && this.token) {
      return;
    }
    if (this.holding) {                  // already validating: swallow double submits
      event.preventDefault();
      event.stopImmediatePropagation();
      return;
    }
    var submitter = event.submitter || null;
    if (this.isAuto() && this.state !== "error") {
      event.preventDefault();
      event.stopImmediatePropagation();
      this.holding = true;
      this.say(this.t("powWorking"), "working");
      var settled = this.whenSettled();
      this.start();                      // not started yet (data-fce-pow-start="focus")
      settled.then(function (ok) {
        self.holding = false;
        if (ok) {
          self.submitAgain(submitter);
        }
      });
      return;
    }
    if (this.state !== "ready" && this.state !== "checking") {
      return;                            // no challenge to answer: let the server decide
    }
    event.preventDefault();
    event.stopImmediatePropagation();
    if (this.state === "ready" && !this.dom.input.value.trim()) {
      this.say(this.t("required"), "error");
      this.dom.input.setAttribute("aria-invalid", "true");
      this.dom.input.focus();
      return;
    }
    this.holding = true;
    this.verify().then(function (ok) {
      self.holding = false;
      if (ok) {
        self.submitAgain(submitter);
      } else if (self.state === "ready") {
        self.dom.input.focus();          // wrong or expired: the new challenge waits for them
      }
    }, function () {
      self.holding = false;
    });
  };

  // -- lifetimes ---------------------------------------------------------------------------------
  W.clearTimer = function (name) {
    if (this.timers[name]) {
      clearTimeout(this.timers[name]);
      this.timers[name] = 0;
    }
  };

  /* Replace an unanswered challenge shortly before it expires. */
  W.scheduleChallengeExpiry = function (seconds) {
    var self = this;
    this.clearTimer("challenge");
    this.timers.challenge = setTimeout(function () {
      self.timers.challenge = 0;
      if (self.state !== "ready" || !self.root.isConnected) {
        return;
      }
      if (document.hidden) {
        self.stale = true;     // refresh when the person comes back, not in a background tab
        return;
      }
      var tell = !self.isAuto() && (self.focusInside() || self.dom.input.value !== "");
      self.load(tell ? self.t("expired") : "");
    }, Math.max(1000, seconds * 1000 - lead(seconds)));
  };

  /* Drop the token shortly before it expires; proof of work quietly solves a new one. */
  W.scheduleTokenExpiry = function () {
    var self = this;
    var ttl = this.cfg.tokenTtl;
    this.clearTimer("token");
    this.timers.token = setTimeout(function () {
      self.timers.token = 0;
      if (self.state !== "verified") {
        return;
      }
      self.setToken("");
      self.emit("fce:expired");
      if (!self.root.isConnected) {
        return;
      }
      if (!self.isAuto()) {
        self.load(self.t("tokenExpired"), "error");
      } else if (document.hidden) {
        self.state = "idle";   // solve again when the person comes back (or submits)
        self.stale = true;
        self.say("");
      } else {
        self.load("");
      }
    }, Math.max(1000, ttl * 1000 - lead(ttl)));
  };

  // -- event wiring ------------------------------------------------------------------------------
  function bindEvents(w) {
    var dom = w.dom;
    dom.verifyButton.addEventListener("click", function () {
      if (dom.verifyButton.getAttribute("aria-disabled") !== "true") {
        w.verify();
      }
    });
    dom.input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.isComposing) {
        event.preventDefault();          // verify, do not submit the surrounding form
        w.verify();
      }
    });
    dom.input.addEventListener("input", function () {
      dom.input.removeAttribute("aria-invalid");
    });
    dom.input.addEventListener("focus", function () {
      if (w.stale) {
        w.load(w.t("expired"));
      }
    });
    dom.refreshButton.addEventListener("click", function () {
      w.autoFailures = 0;
      w.load(w.isAuto() ? "" : w.t("ready"));
    });
    /* Switch to the kind of challenge `button` names in data-next. */
    function switchTo(button) {
      var next = button.getAttribute("data-next");
      if (!next) {
        return;
      }
      var fromAuto = w.isAuto();
      var hadFocus = w.focusInside();
      w.type = next;
      w.settle(false);                   // a held submit waits for the person instead
      if (!fromAuto && w.isAuto()) {
        // To proof of work: the answer box and this button go; the status line says what
        // happens ("Verifying you are human...", then "Verified"), so focus goes there.
        w.load("");
        if (hadFocus) {
          dom.status.focus();
        }
        return;
      }
      w.load(w.t("ready")).then(function () {
        if (fromAuto && w.state === "ready" && !w.isAuto()) {
          dom.input.focus();             // from proof of work: the new answer box is next
        }
      });
    }
    dom.powButton.addEventListener("click", function () { switchTo(dom.powButton); });
    dom.switchButton.addEventListener("click", function () { switchTo(dom.switchButton); });
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden && w.stale && w.root.isConnected) {
        w.load("");
      }
    });
    if (w.form) {
      w.form.addEventListener("submit", w.onSubmit.bind(w), true);
    }
  }

  // == the public API =============================================================================
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
    var widget = new Widget(root, options);
    var controller = {
      element: root,
      reset: function () {
        widget.clearTimer("token");
        widget.autoFailures = 0;
        return widget.load("");
      },
      token: function () {
        return widget.token;
      },
      verify: function () {
        return widget.verify();
      }
    };
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
    solvePow: solvePow,
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
