"""Where the shared specs live: ``shared/`` beside the checkout (locally and in CI), else /work/shared;
``SHARED_SPECS_DIR`` (or the older ``PURVIEW_SPECS_DIR`` for the Purview folder) overrides it."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def specs_dir(api: str) -> Path:
    """``shared/specs/<api>`` (``purview`` or ``qualytics``): the first candidate that exists."""
    overrides = [os.environ.get("SHARED_SPECS_DIR"), os.environ.get("PURVIEW_SPECS_DIR") if api == "purview" else None]
    candidates = [Path(o) / api if name == 0 else Path(o) for name, o in enumerate(overrides) if o]
    candidates += [ROOT.parent / "shared" / "specs" / api, Path("/work/shared/specs") / api]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise RuntimeError(f"the spec folder shared/specs/{api} was not found beside the checkout ({ROOT.parent})")


def qualytics_schemas_path() -> Path:
    return specs_dir("qualytics") / "schemas.json"
