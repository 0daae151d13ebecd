"""What a person reads when push could not write an asset's ``Qualytics`` values: what happened, and what
to do about it (one message per HTTP status family)."""

from __future__ import annotations

from typing import Any

from purview_sync.clients.connection import TOKEN_HINT
from purview_sync.clients.http import HttpError, error_text
from purview_sync.sync.typedef import GROUP


def describe_failure(
    name: str, type_name: str, attributes: dict[str, Any], exc: Exception
) -> tuple[str, str]:
    """One failed write → (what happened, what a person should do)."""
    if isinstance(exc, HttpError):
        detail = error_text(exc.body)
        if exc.status == 401:  # a token problem, not a role (reference §1.6)
            return (
                f"Purview did not accept the token while writing the {GROUP} values of {name} "
                f"(HTTP 401: {detail}).",
                TOKEN_HINT,
            )
        if exc.status == 403:
            return (
                f"Purview refused to write the {GROUP} values of {name} (HTTP {exc.status}: {detail}).",
                "Give the integration's identity the Data Curator role on the collection that holds this "
                "asset, then run the sync again.",
            )
        if exc.status == 404:
            return (
                f"{name} no longer exists in Purview (HTTP 404: {detail}).",
                "The asset was deleted or rescanned since it was matched; run the sync again.",
            )
        if exc.status in (408, 429) or exc.status >= 500:
            return (
                f"Purview kept failing while writing {name} (HTTP {exc.status}: {detail}).",
                "Run the sync again later; values already written are skipped.",
            )
        return (
            f"Purview rejected the {GROUP} values {attributes} for {name} (HTTP {exc.status}: {detail}).",
            f"Check the '{GROUP}' managed attribute group in Purview (Data Map → Managed attributes): its "
            f"attributes must keep their types and be applicable to {type_name}.",
        )
    return (
        f"Purview could not be reached while writing {name} ({type(exc).__name__}: {exc}).",
        "Check the network path to the Purview account, then run the sync again.",
    )
