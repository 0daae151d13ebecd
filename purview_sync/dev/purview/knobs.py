"""Knobs: the behaviours of a real Purview account that the references leave open ([U]/[O]), one switch
each, so the product's tests can run under every plausible setting (issue 13, "survive every unknown").

``PurviewSim.knobs`` holds them; ``PurviewSim.set_knobs(**values)`` changes them. The defaults are the
simulator's historical (kindest) behaviour; ``STRICT`` and ``FLIPS`` name the settings the fidelity tests use.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields


@dataclass
class Knobs:
    # search ``eq`` / ``prefix`` / ``contains`` compare with case (reference §7: "scans may lowercase or keep
    # case", semantics unstated [U])
    search_case_sensitive: bool = False
    # ``operator: prefix`` on qualifiedName (§3.2 "test prefix on a real account" [U]); False → 400
    search_prefix_supported: bool = True
    # SQL Server qualified names ``mssql://{host}/{instance}/{db}/...`` (True) or without the instance (False);
    # read by ``add_sql_database`` when it seeds an ``mssql`` database (§7.2 [U])
    sqlserver_instance_in_names: bool = True
    # ``POST /entity/guid/{guid}/businessmetadata/{group}``: "merge" the body into the group (upstream Atlas
    # [C]) or "replace" the group with the body (§4.3 semantics [U])
    bm_group_post: str = "merge"
    # ``businessAttributes`` on the entities of ``GET /entity/bulk`` (in the model [S], in no example)
    bulk_get_business_attributes: bool = True
    # after a business-metadata typedef is created (by anyone), this many GETs by name still answer 404
    # (the type cache of another node lags; seen on a real tenant)
    typedef_read_lag: int = 0
    # account-plane api-versions this host refuses with 400 (the tenant-level host has only been seen with
    # 2023-10-01-preview [O], §6)
    refused_account_api_versions: frozenset[str] = field(default_factory=frozenset)

    def update(self, **values: object) -> None:
        names = {f.name for f in fields(self)}
        for key, value in values.items():
            if key not in names:
                raise AttributeError(f"unknown Purview simulator knob {key}")
            if key == "bm_group_post" and value not in ("merge", "replace"):
                raise ValueError("bm_group_post is 'merge' or 'replace'")
            if key == "refused_account_api_versions":
                value = frozenset(value)  # type: ignore[arg-type]
            setattr(self, key, value)


# The least kind setting of each unknown that still follows the documented shapes …
STRICT: dict[str, object] = {
    "search_case_sensitive": True,
    "search_prefix_supported": False,
    "sqlserver_instance_in_names": True,
    "bm_group_post": "merge",
    "bulk_get_business_attributes": True,
    "typedef_read_lag": 0,
    "refused_account_api_versions": frozenset(),
}
# … and each knob's other setting (one at a time on top of STRICT). ``stale_search_hit`` is not a knob of
# its own: the fidelity test purges an entity with ``purge_entity(guid, keep_in_search=True)``.
FLIPS: dict[str, dict[str, object]] = {
    "search_lenient": {"search_case_sensitive": False, "search_prefix_supported": True},
    "sqlserver_without_instance": {"sqlserver_instance_in_names": False},
    "bm_post_replaces_group": {"bm_group_post": "replace"},
    "bulk_get_without_business_attributes": {"bulk_get_business_attributes": False},
    "typedef_read_lag": {"typedef_read_lag": 3},
    "old_account_api_version_refused": {"refused_account_api_versions": frozenset({"2019-11-01-preview"})},
}
