"""Errors that carry an HTTP status and the error code of DESIGN.md §3."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A failure the caller can act on: the handler turns it into ``{"error": {code, message, ...}}``."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, **self.extra}}


def not_found(what: str = "integration") -> ApiError:
    return ApiError(404, "not_found", f"No {what} with that id exists.")


def validation_error(field: str, message: str) -> ApiError:
    return ApiError(400, "validation_error", message, field=field)
