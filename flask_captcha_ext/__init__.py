"""flask-captcha-ext: CAPTCHA for Flask forms and JSON endpoints, self-hosted or third-party.

``CaptchaField`` and ``CaptchaRequired`` need WTForms, so ``forms`` is imported when one of them
is first asked for (PEP 562): apps without forms never load WTForms.
"""

from typing import Any, List

from .decorators import captcha_protected
from .extension import CaptchaExt
from .result import VerificationResult
from .settings import ConfigError
from .signals import captcha_failed, captcha_verified

__all__ = [
    "CaptchaExt",
    "CaptchaField",
    "CaptchaRequired",
    "ConfigError",
    "VerificationResult",
    "captcha_failed",
    "captcha_protected",
    "captcha_verified",
]
__version__ = "0.1.0"

_FORMS = ("CaptchaField", "CaptchaRequired")


def __getattr__(name: str) -> Any:
    if name in _FORMS:
        from . import forms

        return getattr(forms, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> List[str]:
    return sorted({*globals(), *_FORMS})
