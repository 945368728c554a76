"""Third-party CAPTCHA providers."""
