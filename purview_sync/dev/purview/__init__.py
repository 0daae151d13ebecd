"""The Purview simulator: ``PurviewSim``, one account's Data Map and Account planes over HTTPS, built from
state (store, records, vocab), rules (typesystem, bizmeta, upsert, search), the gate, and routes/.
"""

from purview_sync.dev.purview.records import SimCall
from purview_sync.dev.purview.sim import PurviewSim
from purview_sync.dev.purview.vocab import DATAMAP_API_VERSIONS, PURVIEW_APP_ID, PURVIEW_AUDIENCE, ROLES

__all__ = [
    "DATAMAP_API_VERSIONS",
    "PURVIEW_APP_ID",
    "PURVIEW_AUDIENCE",
    "ROLES",
    "PurviewSim",
    "SimCall",
]
