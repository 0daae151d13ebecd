"""Shared HTTP plumbing for the blueprints: JSON responses, the error shape of DESIGN.md §3, and one
wrapper that turns ``ApiError`` into its response and anything unexpected into a 500 without internals."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from typing import Any

import azure.functions as func

from purview_sync.errors import ApiError

log = logging.getLogger("purview_sync.http")


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps(body, default=str), status_code=status, mimetype="application/json", headers=headers
    )


def error_response(status: int, code: str, message: str, **extra: Any) -> func.HttpResponse:
    return json_response({"error": {"code": code, "message": message, **extra}}, status)


def handles_errors(
    handler: Callable[[func.HttpRequest], func.HttpResponse],
) -> Callable[..., func.HttpResponse]:
    @functools.wraps(handler)
    def wrapper(req: func.HttpRequest) -> func.HttpResponse:
        try:
            return handler(req)
        except ApiError as exc:
            if exc.status >= 500:
                log.error("%s %s failed: %s", req.method, req.url.split("?")[0], exc.message)
            return json_response(exc.body(), exc.status)
        except Exception:
            log.exception("%s %s failed unexpectedly", req.method, req.url.split("?")[0])
            return error_response(
                500,
                "internal_error",
                "Something went wrong on our side; the details are in the function logs.",
            )

    return wrapper
