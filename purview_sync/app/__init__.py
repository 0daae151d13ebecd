"""Use cases: integrations (connect/edit/delete), sync runs (lock, fan-out, one datastore, cancel, finish)
and event-driven pushes. Built on ``sync``, ``clients`` and ``storage``; the composition root is ``services``."""
