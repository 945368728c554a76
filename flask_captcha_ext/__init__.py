"""flask-captcha-ext: CAPTCHA for Flask forms and JSON endpoints, self-hosted or third-party."""

from .extension import CaptchaExt
from .result import VerificationResult
from .settings import ConfigError

__all__ = ["CaptchaExt", "ConfigError", "VerificationResult"]
__version__ = "0.1.0"
