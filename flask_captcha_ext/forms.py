"""WTForms / Flask-WTF integration: ``CaptchaField`` and its validator ``CaptchaRequired``.

The field renders the configured widget through ``captcha_widget`` and is checked in
``validate()`` / ``validate_on_submit()``. Its data is not the token itself: the token lives in
the provider's own form field, so the validator reads the request as ``@captcha_protected`` does.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional, Union

from flask import g
from markupsafe import Markup
from wtforms import Field, Form
from wtforms.validators import StopValidation

from .failure import describe
from .verification import challenge_types, verify_request
from .widget import captcha_widget

TypesArg = Union[str, Iterable[str], None]


class CaptchaRequired:
    """Validator: the request must carry a passing CAPTCHA.

    ``message`` replaces the default, translated per-failure messages; ``action``,
    ``min_score``, ``types`` and ``min_work`` narrow the app's settings for this form, as in the
    decorator.
    """

    field_flags = {"required": True}

    def __init__(
        self,
        message: Optional[str] = None,
        action: Optional[str] = None,
        min_score: Optional[float] = None,
        types: TypesArg = None,
        min_work: Optional[float] = None,
    ) -> None:
        self.message = message
        self.action = action
        self.min_score = min_score
        self.types = challenge_types(types)
        self.min_work = min_work

    def __call__(self, form: Form, field: Field) -> None:
        result = verify_request(self.action, self.min_score, self.types, self.min_work)
        field.result = result  # type: ignore[attr-defined]
        if not result.success:
            raise StopValidation(field.gettext(self.message or describe(result)))
        g.captcha_result = result


class CaptchaWidget:
    """Renders the field as the configured provider's widget, asking the widget for the
    field's action and (for the self-hosted widget) its first allowed type."""

    def __call__(self, field: Field, **kwargs: Any) -> Markup:
        options = {**(field.render_kw or {}), **kwargs}
        options.pop("id", None)
        options.pop("required", None)
        for check in field.validators:
            if isinstance(check, CaptchaRequired):
                if check.action:
                    options.setdefault("action", check.action)
                if check.types:
                    options.setdefault("types", check.types)
                if check.min_work:
                    options.setdefault("min_work", check.min_work)
        return captcha_widget(**options)


class CaptchaField(Field):
    """A form field showing the CAPTCHA widget and requiring it to pass.

    Extra keyword arguments of ``CaptchaRequired`` (``action``, ``min_score``, ``types``,
    ``min_work``) may be given here.
    """

    widget = CaptchaWidget()

    def __init__(
        self,
        label: str = "CAPTCHA",
        validators: Any = None,
        action: Optional[str] = None,
        min_score: Optional[float] = None,
        types: TypesArg = None,
        min_work: Optional[float] = None,
        **kwargs: Any,
    ) -> None:
        validators = validators or [
            CaptchaRequired(action=action, min_score=min_score, types=types, min_work=min_work)
        ]
        super().__init__(label, validators, **kwargs)
        self.result = None

    def process_formdata(self, valuelist: Any) -> None:
        # The token is read from the request by the validator, never trusted from formdata.
        self.data = None

    def _value(self) -> str:
        return ""
