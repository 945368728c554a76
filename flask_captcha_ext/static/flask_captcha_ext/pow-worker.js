/*! flask-captcha-ext proof-of-work solver (Web Worker). Plain JavaScript, no third-party code.
 *
 * Solves one slice of an ALTCHA v1 challenge: finds n in [start, end] with
 * hex(digest(algorithm, salt + n)) === challenge, using WebCrypto (crypto.subtle.digest).
 * widget.js starts it by URL (new Worker(".../pow-worker.js")): no blob: URL, so a CSP of
 * worker-src 'self' (or script-src 'self') allows it.
 *
 * In:  {type: "solve", id, algorithm, challenge, salt, start, end}
 * Out: {id, type: "progress", checked}                  about every 100 ms
 *      {id, type: "found", number, checked, took}         took: milliseconds of hashing
 *      {id, type: "exhausted", checked, took}             no n in the slice
 *      {id, type: "error", unsupported, message}          unsupported: no WebCrypto here
 * A newer "solve" or a {type: "stop"} ends the current one; widget.js terminates the worker anyway.
 *
 * Speed: digests are issued in batches (BATCH calls in flight, the next batch issued before the
 * previous one is checked), so the browser's crypto threads stay busy; one input buffer is reused
 * (digest() copies its input when called), and digests are compared as bytes, not hex strings.
 * widget.js keeps an in-page copy of this loop (scanRange) for when workers are unavailable.
 */
(function () {
  "use strict";

  var BATCH = 500;
  var PROGRESS_MS = 100;
  var ALGORITHMS = { "SHA-1": 20, "SHA-256": 32, "SHA-384": 48, "SHA-512": 64 };
  var current = 0;

  function now() {
    return self.performance && self.performance.now ? self.performance.now() : Date.now();
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

  function matches(buffer, target) {
    var digest = new Uint8Array(buffer);
    for (var i = 0; i < target.length; i++) {
      if (digest[i] !== target[i]) {
        return false;
      }
    }
    return true;
  }

  function solve(job) {
    var id = job.id;
    var post = function (message) {
      message.id = id;
      self.postMessage(message);
    };
    var subtle = self.crypto && self.crypto.subtle;
    if (!subtle || typeof subtle.digest !== "function" || typeof TextEncoder !== "function") {
      post({ type: "error", unsupported: true, message: "WebCrypto is not available" });
      return;
    }
    var size = ALGORITHMS[String(job.algorithm).toUpperCase()];
    var target = size ? hexBytes(job.challenge, size) : null;
    var start = Number(job.start);
    var end = Number(job.end);
    if (!target || typeof job.salt !== "string" || !(start >= 0) || !(end >= start) ||
        end > Number.MAX_SAFE_INTEGER) {
      post({ type: "error", unsupported: false, message: "malformed challenge" });
      return;
    }
    var algorithm = String(job.algorithm).toUpperCase();
    var prefix = new TextEncoder().encode(job.salt);
    var p = prefix.length;
    var buffer = new Uint8Array(p + 16);
    buffer.set(prefix);
    var views = [];
    for (var len = 0; len <= 16; len++) {
      views.push(buffer.subarray(0, p + len));
    }
    var began = now();
    var reported = began;
    var checked = 0;

    function issue(from) {
      var to = Math.min(end, from + BATCH - 1);
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

    function step(batch) {
      // Issue the next batch before looking at this one: the crypto threads never idle.
      var next = batch.to < end ? issue(batch.to + 1) : null;
      return batch.done.then(function (results) {
        if (current !== id) {
          return;                        // stopped or replaced
        }
        for (var i = 0; i < results.length; i++) {
          if (matches(results[i], target)) {
            checked += i + 1;
            post({ type: "found", number: batch.from + i, checked: checked, took: now() - began });
            current = 0;
            return;
          }
        }
        checked += results.length;
        var t = now();
        if (t - reported >= PROGRESS_MS) {
          reported = t;
          post({ type: "progress", checked: checked });
        }
        if (!next) {
          post({ type: "exhausted", checked: checked, took: t - began });
          current = 0;
          return;
        }
        return step(next);
      });
    }

    step(issue(start)).catch(function (error) {
      if (current === id) {
        current = 0;
        post({ type: "error", unsupported: false, message: String(error && error.message) });
      }
    });
  }

  self.onmessage = function (event) {
    var job = event.data || {};
    if (job.type === "stop") {
      current = 0;
    } else if (job.type === "solve") {
      current = job.id;
      solve(job);
    }
  };
})();
