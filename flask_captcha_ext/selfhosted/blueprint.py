"""The HTTP face of the self-hosted service: parse, call the service, answer JSON.

Anything a client can send gets a 2xx or a 4xx ``{"detail": ...}``; a store outage is a 503, with
``Retry-After`` only when nothing was spent (see ``store_down``). The blueprint is built per app
so that its CORS origins and limits belong to that app alone.
"""

from __future__ import annotations

import io
import json
import math
import os
from typing import Any, Dict, Optional, Tuple
from urllib.parse import parse_qsl

from flask import Blueprint, Response, current_app, jsonify, request, url_for
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.formparser import parse_form_data

from ..state import get_state
from ..stores import StoreUnavailable
from .pow import challenge_id_of
from .service import ApiError, CaptchaService, request_origin
from .siteverify import siteverify as check_siteverify

STATIC_FOLDER = os.path.join(os.path.dirname(os.path.dirname(__file__)), "static")
# The blueprint's own routes, relative to CAPTCHA_URL_PREFIX.
ROUTES = ("/generate", "/validate", "/siteverify", "/openapi.json", "/altcha")
#: A store that did not answer a spending call (``StoreUnavailable.maybe_done``): the challenge or
#: token may be spent, so a retry would fail; the visitor needs a new challenge.
TIMED_OUT = (
    "The check timed out, so this challenge may be used up. "
    "Please get a new challenge and try again."
)


def _service() -> CaptchaService:
    return get_state().service


def _error(status: int, detail: str, headers: Dict[str, str] | None = None) -> Response:
    response = jsonify(detail=detail)
    response.status_code = status
    response.headers.update(headers or {})
    response.headers["Cache-Control"] = "no-store"
    return response


def read_body(limit: int) -> bytes:
    """The raw request body, refusing (413) one larger than ``limit``, chunked or not."""
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, f"request body is larger than {limit} bytes")
    body = request.stream.read(limit + 1)
    if len(body) > limit:
        raise ApiError(413, f"request body is larger than {limit} bytes")
    return body


def read_json_object(limit: int) -> Dict[str, Any]:
    """The request body as a JSON object, refusing oversized, malformed or non-object bodies."""
    body = read_body(limit)
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise ApiError(400, "request body must be valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "request body must be a JSON object")
    if not _encodable(data):
        raise ApiError(400, "request body must be valid JSON: it has an unpaired surrogate escape")
    return data


def _encodable(data: Any) -> bool:
    """Whether every string in ``data`` is valid Unicode (JSON allows lone ``\\ud800`` escapes)."""
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except (UnicodeEncodeError, RecursionError):  # json.loads nests one level deeper than dumps
        return False
    return True


def read_siteverify_fields(limit: int) -> Optional[Dict[str, Any]]:
    """siteverify's fields from a JSON, form-encoded or multipart body, then the query string.

    None when the body cannot be parsed (siteverify answers ``bad-request``). ``secret`` in the
    query string is refused (400), never used: URLs end up in access logs and proxies' logs.
    ``response`` and ``remoteip`` may still come there, as Google accepts.
    """
    if "secret" in request.args:
        raise ApiError(
            400,
            "send 'secret' in the POST body (form-encoded or JSON), never in the query string: "
            "URLs are written to access logs",
        )
    body = read_body(limit)
    fields: Dict[str, Any] = {k: v for k, v in request.args.items()}
    if request.mimetype == "application/json":
        try:
            data = json.loads(body) if body.strip() else {}
        except (ValueError, RecursionError):
            return None
        if not isinstance(data, dict) or not _encodable(data):
            return None
        fields.update(data)
    elif request.mimetype == "multipart/form-data":
        environ = {
            **request.environ,
            "wsgi.input": io.BytesIO(body),
            "CONTENT_LENGTH": str(len(body)),
        }
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        try:
            _, form, _ = parse_form_data(environ, max_form_memory_size=limit)
        except ValueError:
            return None
        fields.update(form.items())
    else:  # form-encoded, also when a client forgets the Content-Type
        pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        fields.update(dict(reversed(pairs)))  # the first of repeated fields wins
    return fields


def _client_ip() -> str:
    return request.remote_addr or "unknown"


def _origin() -> Optional[str]:
    return request_origin(request.headers.get("Origin"), request.headers.get("Referer"))


def create_blueprint(cors_origins: Tuple[str, ...]) -> Blueprint:
    """The blueprint serving generate, validate, siteverify, openapi.json and the widget's files."""
    bp = Blueprint(
        "captcha",
        __name__,
        static_folder=os.path.join(STATIC_FOLDER, "flask_captcha_ext"),
        static_url_path="/static",
    )

    @bp.post("/generate")
    def generate() -> Response:
        service = _service()
        data = read_json_object(service.settings.max_content_length)
        result = service.generate(
            data.get("site_key"),
            data.get("type"),
            _client_ip(),
            origin=_origin(),
            min_work=data.get("min_work"),
            action=data.get("action"),
        )
        return _no_store(jsonify(result))

    @bp.get("/altcha")
    def altcha_challenge() -> Response:
        """A bare ALTCHA challenge, as the official ``altcha`` widget's challenge URL expects.

        ``site_key`` names the key; ``min_work`` (a view's ``min_work``) and ``action`` are
        optional and bind the challenge like the widget's own generate does."""
        if request.method == "HEAD":  # would make a challenge nobody sees
            raise ApiError(405, "use GET", {"Allow": "GET"})
        service = _service()
        args = request.args
        if "site_key" not in args:
            raise ApiError(400, "missing query parameter 'site_key'")
        min_work: Optional[float] = None
        if "min_work" in args:
            try:
                min_work = float(args["min_work"])
            except ValueError:
                raise ApiError(400, "'min_work' must be a number") from None
            if not math.isfinite(min_work):
                raise ApiError(400, "'min_work' must be a number")
        challenge = service.generate_altcha(
            args["site_key"], _client_ip(), _origin(), min_work, args.get("action")
        )
        return _no_store(jsonify(challenge))

    @bp.post("/validate")
    def validate() -> Response:
        service = _service()
        data = read_json_object(service.settings.max_content_length)
        if "altcha" in data and "captcha_id" not in data:
            # The official ALTCHA widget's payload names its own challenge.
            captcha_id = challenge_id_of(data["altcha"])
            if captcha_id is None:
                raise ApiError(400, "'altcha' must be an ALTCHA payload of one of our challenges")
            data = {**data, "captcha_id": captcha_id, "user_input": data["altcha"]}
        for field in ("site_key", "captcha_id", "user_input"):
            if field not in data:
                raise ApiError(400, f"missing field '{field}'")
        result = service.validate(
            data["site_key"],
            data["captcha_id"],
            data["user_input"],
            _client_ip(),
            _origin(),
            action=data.get("action"),
            proof=data.get("proof"),
        )
        return _no_store(jsonify(result))

    @bp.post("/siteverify")
    def siteverify() -> Response:
        service = _service()
        fields = read_siteverify_fields(service.settings.max_content_length)
        return _no_store(jsonify(check_siteverify(service, fields)))

    @bp.get("/openapi.json")
    def openapi() -> Response:
        from .openapi import openapi_document  # a large document, built on first request

        settings = _service().settings
        return jsonify(openapi_document(settings.url_prefix, settings.pow_levels[-1][2]))

    @bp.before_app_request
    def json_routing_errors() -> Optional[Response]:
        """A 404 under the prefix, or a 405 on our routes, as JSON ``{"detail"}``.

        Routing fails before any blueprint is chosen, so the blueprint's error handlers never see
        these. Answering here, before dispatch, leaves the app's own error handlers (whenever
        registered) in charge of every other path.
        """
        error = request.routing_exception
        if not isinstance(error, (NotFound, MethodNotAllowed)):
            return None
        prefix = _service().settings.url_prefix
        path = request.path
        under_prefix = bool(prefix) and (path == prefix or path.startswith(prefix + "/"))
        if not under_prefix and path not in {prefix + route for route in ROUTES}:
            return None
        response = _error(error.code or 404, error.description or error.name)
        if isinstance(error, MethodNotAllowed) and error.valid_methods:
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response

    @bp.errorhandler(ApiError)
    def api_error(error: ApiError) -> Response:
        return _error(error.status, error.detail, error.headers)

    @bp.errorhandler(StoreUnavailable)
    def store_down(error: StoreUnavailable) -> Response:
        """503. ``Retry-After`` invites a retry only when nothing was spent: a call that may
        have spent its challenge or token asks for a new challenge instead."""
        current_app.logger.error("CAPTCHA store unavailable: %s", error)
        if error.maybe_done:
            return _error(503, TIMED_OUT)
        detail = "the CAPTCHA store is unavailable; try again shortly"
        return _error(503, detail, {"Retry-After": "1"})

    @bp.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        return _error(error.code or 400, error.description or error.name)

    if cors_origins:
        from flask_cors import CORS

        CORS(bp, origins=list(cors_origins), methods=["GET", "POST"], max_age=600)
    return bp


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def local_endpoints(site_key: str) -> Dict[str, str]:
    """Where this app's self-hosted widget gets challenges and its files (the blueprint's URLs)."""
    return {
        "site_key": site_key,
        "generate_url": url_for("captcha.generate"),
        "validate_url": url_for("captcha.validate"),
        "script_url": url_for("captcha.static", filename="widget.js"),
        "style_url": url_for("captcha.static", filename="widget.css"),
        # The folder of the vendored ALTCHA Web Workers (widget.js appends pbkdf2.js, sha.js...).
        "workers_url": url_for("captcha.static", filename="altcha/"),
    }
