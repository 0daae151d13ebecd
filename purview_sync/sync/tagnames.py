"""The fixed naming rule for tags that pull creates in Qualytics (DESIGN.md §5a).

Fixed because a name, once created in a customer's Qualytics, is what people filter by: the same Purview
classification must always land as the same tag.

* a Microsoft system classification ``MICROSOFT.<...>.<NAME>`` becomes ``<NAME>`` with underscores as
  spaces, in title case: ``MICROSOFT.FINANCIAL.CREDIT_CARD_NUMBER`` → ``Credit Card Number``;
* any other classification keeps its name (``Confidential``);
* a label keeps its text.

Qualytics' public API cannot create ``external`` tags (reference/qualytics-api.md §7, §12), so pull
emulates them with ``global`` tags in the category ``Microsoft Purview`` whose description names the
Purview classification or label they came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

CATEGORY = "Microsoft Purview"
COLOR = "#0078D4"  # reserved for tags pull manages, so they stand apart from the user's own tags
SYSTEM_PREFIX = "MICROSOFT."
_DESCRIPTION_PREFIX = "Microsoft Purview "

SourceKind = Literal["classification", "label"]


def classification_tag_name(type_name: str) -> str:
    """``MICROSOFT.PERSONAL.EMAIL`` → ``Email``; a custom classification keeps its name."""
    name = type_name.strip()
    if not name.startswith(SYSTEM_PREFIX):
        return name
    last = name.rsplit(".", 1)[-1]
    words = [w for w in last.split("_") if w]
    return " ".join(w[:1].upper() + w[1:].lower() for w in words) or name


def label_tag_name(label: str) -> str:
    return label.strip()


@dataclass(frozen=True)
class TagSource:
    """One Purview classification or label, and the Qualytics tag it lands as."""

    kind: SourceKind
    value: str  # the classification's typeName or the label's text

    @property
    def tag_name(self) -> str:
        if self.kind == "classification":
            return classification_tag_name(self.value)
        return label_tag_name(self.value)

    @property
    def description(self) -> str:
        return f"{_DESCRIPTION_PREFIX}{self.kind} {self.value}"

    @property
    def key(self) -> str:
        """How a mapping row records the source: ``classification:MICROSOFT.PERSONAL.EMAIL``, ``label:gold``."""
        return f"{self.kind}:{self.value}"


def desired_tags(classifications: list[str], labels: list[str]) -> dict[str, TagSource]:
    """Tag name → the source it comes from, for one Purview asset (first source wins on a shared name)."""
    out: dict[str, TagSource] = {}
    for kind, values in (("classification", classifications), ("label", labels)):
        for value in values:
            if not value or not str(value).strip():
                continue
            source = TagSource(kind, str(value))  # type: ignore[arg-type]
            out.setdefault(source.tag_name, source)
    return out


def looks_pulled(tag: dict[str, Any]) -> bool:
    """A Qualytics tag that carries pull's category and a description naming a Purview source."""
    description = str(tag.get("description") or "")
    return tag.get("category") == CATEGORY and description.startswith(
        (f"{_DESCRIPTION_PREFIX}classification ", f"{_DESCRIPTION_PREFIX}label ")
    )
