"""The HTTP face of the self-hosted service: parse, call the service, answer JSON.

Anything a client can send gets a 2xx or a 4xx ``{"detail": ...}``; a store outage is a 503. The
blueprint is built per app so that its CORS origins and limits belong to that app alone.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Tuple

from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from ..stores import StoreUnavailable
from .service import ApiError, CaptchaService

STATIC_FOLDER = os.path.join(os.path.dirname(os.path.dirname(__file__)), "static")


def _service() -> CaptchaService:
    return current_app.extensions["captcha"].service


def _error(status: int, detail: str, headers: Dict[str, str] | None = None) -> Response:
    response = jsonify(detail=detail)
    response.status_code = status
    response.headers.update(headers or {})
    response.headers["Cache-Control"] = "no-store"
    return response


def read_json_object(limit: int) -> Dict[str, Any]:
    """The request body as a JSON object, refusing oversized, malformed or non-object bodies."""
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, f"request body is larger than {limit} bytes")
    body = request.stream.read(limit + 1)
    if len(body) > limit:
        raise ApiError(413, f"request body is larger than {limit} bytes")
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise ApiError(400, "request body must be valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "request body must be a JSON object")
    return data


def _client_ip() -> str:
    return request.remote_addr or "unknown"


def create_blueprint(cors_origins: Tuple[str, ...]) -> Blueprint:
    """The blueprint serving generate, validate and the widget's static files."""
    bp = Blueprint(
        "captcha",
        __name__,
        static_folder=os.path.join(STATIC_FOLDER, "flask_captcha_ext"),
        static_url_path="/static",
    )

    @bp.post("/generate")
    def generate() -> Response:
        data = read_json_object(_service().settings.max_content_length)
        result = _service().generate(data.get("site_key"), data.get("type"), _client_ip())
        return _no_store(jsonify(result))

    @bp.post("/validate")
    def validate() -> Response:
        data = read_json_object(_service().settings.max_content_length)
        for field in ("site_key", "captcha_id", "user_input"):
            if field not in data:
                raise ApiError(400, f"missing field '{field}'")
        result = _service().validate(
            data["site_key"], data["captcha_id"], data["user_input"], _client_ip()
        )
        return _no_store(jsonify(result))

    @bp.errorhandler(ApiError)
    def api_error(error: ApiError) -> Response:
        return _error(error.status, error.detail, error.headers)

    @bp.errorhandler(StoreUnavailable)
    def store_down(error: StoreUnavailable) -> Response:
        current_app.logger.error("CAPTCHA store unavailable: %s", error)
        return _error(503, "the CAPTCHA store is unavailable; try again shortly", {"Retry-After": "1"})

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
