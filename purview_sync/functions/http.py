"""Shared HTTP plumbing for the blueprints: JSON responses and the error shape of DESIGN.md §3."""

from __future__ import annotations

import json
from typing import Any

import azure.functions as func


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps(body, default=str), status_code=status, mimetype="application/json", headers=headers
    )


def error_response(status: int, code: str, message: str, **extra: Any) -> func.HttpResponse:
    return json_response({"error": {"code": code, "message": message, **extra}}, status)
