"""Signals sent after every check, for logging and metrics (``sender`` is the app)."""

from __future__ import annotations

from flask.signals import Namespace

_signals = Namespace()

#: Sent with ``result=VerificationResult`` when a check passes (fail-open passes included).
captcha_verified = _signals.signal("captcha-verified")
#: Sent with ``result=VerificationResult`` when a check fails.
captcha_failed = _signals.signal("captcha-failed")
