"""flask-captcha-ext: CAPTCHA for Flask forms and JSON endpoints, self-hosted or third-party."""

from .decorators import captcha_protected
from .extension import CaptchaExt
from .forms import CaptchaField, CaptchaRequired
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
