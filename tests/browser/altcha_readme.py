"""The code of the README's "Use the official ALTCHA widget" section, as the browser test runs it.

``SNIPPET`` is that section's Python block, character for character: README.md copies it (and
tests/test_altcha_compat.py checks that it does, once README.md has the section). Like the README's
other blocks, it uses the ``app`` and ``captcha`` of "Three lines each"; ``add_signup(app,
captcha)`` runs it on a test app whose static folder holds the widget's ``altcha.js``.
"""

from __future__ import annotations

from flask import Flask

from flask_captcha_ext import CaptchaExt

#: README.md's heading for the section (## level).
HEADING = "Use the official ALTCHA widget"

SNIPPET = r'''from flask import render_template_string
from flask_captcha_ext import captcha_protected

SIGNUP = """<!doctype html>
<html lang="en">
<title>Sign up</title>
<script type="module" src="{{ url_for('static', filename='altcha.js') }}"></script>
<form method="post">
  <label>Email <input type="email" name="email" required></label>
  <altcha-widget challenge="{{ url_for('captcha.altcha_challenge', site_key=site_key) }}">
  </altcha-widget>
  <button>Sign up</button>
</form>
</html>"""


@app.get("/signup")
def signup_page():
    return render_template_string(SIGNUP, site_key=captcha.site_key)


@app.post("/signup")
@captcha_protected                  # checks the widget's `altcha` field; passes once
def signup():
    return "Thanks for signing up!"
'''


def add_signup(app: Flask, captcha: CaptchaExt, snippet: str = SNIPPET) -> None:
    """Run ``snippet`` (the README's block) with the README's ``app`` and ``captcha``."""
    code = compile(snippet, "README.md: " + HEADING, "exec")
    exec(code, {"__name__": __name__, "app": app, "captcha": captcha})
