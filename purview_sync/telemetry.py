"""Traces and metrics for Application Insights through OpenTelemetry (``azure-monitor-opentelemetry``).

Only when ``APPLICATIONINSIGHTS_CONNECTION_STRING`` is set: without it every call here is a no-op and no
OpenTelemetry package is ever imported, so a cold start pays nothing for it.

What is recorded (names are data, below): one span per sync run (``purview_sync.run``, from the run's
start to its finish) and one per datastore part (``purview_sync.datastore``), each with the integration,
run and datastore ids; counters of Purview requests by kind and status, of 429s, of attributes written and
of tags changed; a histogram of run durations. Entra-only ingestion (``APPLICATIONINSIGHTS_AUTHENTICATION_STRING``,
as infra/ sets it) is read by the exporter itself.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterator
from typing import Any

log = logging.getLogger(__name__)

CONNECTION_STRING_SETTING = "APPLICATIONINSIGHTS_CONNECTION_STRING"
METER_NAME = TRACER_NAME = "purview_sync"
# Per-HTTP-call dependency spans are off: thousands per run, and the request metrics below already count
# Purview calls by kind and status. Our own spans are few (runs, datastore parts), so all are kept.
QUIET_INSTRUMENTATIONS = ("requests", "urllib", "urllib3", "azure_sdk", "django", "fastapi", "flask", "psycopg2")

SPAN_RUN = "purview_sync.run"
SPAN_DATASTORE = "purview_sync.datastore"

# metric name → (kind, unit, description)
METRICS: dict[str, tuple[str, str, str]] = {
    "purview_sync.purview.requests": ("counter", "{request}", "Requests sent to Purview, by kind and status"),
    "purview_sync.purview.throttled": ("counter", "{request}", "Purview answers HTTP 429"),
    "purview_sync.attributes_written": ("counter", "{attribute}", "Qualytics attribute values written"),
    "purview_sync.tags_changed": ("counter", "{tag}", "Qualytics tags added or removed by pull"),
    "purview_sync.run.duration": ("histogram", "s", "Duration of a sync run, start to finish"),
}


class _Telemetry:
    """The configured OpenTelemetry tracer, meter and instruments (one per process)."""

    def __init__(self, tracer: Any, instruments: dict[str, Any], providers: list[Any]) -> None:
        self.tracer = tracer
        self.instruments = instruments
        self.providers = providers


_lock = threading.Lock()
_state: _Telemetry | None = None
_decided = False


def configure(connection_string: str | None = None, **options: Any) -> bool:
    """Set up the Azure Monitor exporters once per process when a connection string is given (or in the
    environment); True when telemetry is on. ``options`` go to ``configure_azure_monitor``."""
    global _state, _decided
    if _decided:  # the hot path: no lock once decided
        return _state is not None
    with _lock:
        if _decided:
            return _state is not None
        _decided = True
        connection_string = connection_string or os.environ.get(CONNECTION_STRING_SETTING) or None
        if not connection_string:
            return False
        # imported here, never at module level: without a connection string nothing of OpenTelemetry loads
        from azure.monitor.opentelemetry import configure_azure_monitor
        from opentelemetry import metrics, trace

        settings: dict[str, Any] = {
            "connection_string": connection_string,
            "logger_name": METER_NAME,  # our logs become App Insights traces
            "enable_live_metrics": False,
            "instrumentation_options": {name: {"enabled": False} for name in QUIET_INSTRUMENTATIONS},
        }
        if not os.environ.get("OTEL_TRACES_SAMPLER"):  # the distro's default would rate-limit runs away
            settings["sampling_ratio"] = 1.0
        configure_azure_monitor(**(settings | options))
        meter = metrics.get_meter(METER_NAME)
        instruments = {
            name: (meter.create_counter if kind == "counter" else meter.create_histogram)(
                name, unit=unit, description=description
            )
            for name, (kind, unit, description) in METRICS.items()
        }
        _state = _Telemetry(
            trace.get_tracer(TRACER_NAME), instruments, [trace.get_tracer_provider(), metrics.get_meter_provider()]
        )
        log.info("telemetry: traces and metrics go to Application Insights")
        return True


def enabled() -> bool:
    return configure()


@contextlib.contextmanager
def span(name: str, **attributes: Any) -> Iterator[None]:
    """A span around a piece of work (no-op when telemetry is off); an exception marks it as an error."""
    if not configure():
        yield
        return
    assert _state is not None
    with _state.tracer.start_as_current_span(name, attributes=_clean(attributes)):
        yield


def finished_span(name: str, start_epoch: float, end_epoch: float, **attributes: Any) -> None:
    """A span for work that spanned several executions (a run), recorded when it ends."""
    if not configure():
        return
    assert _state is not None
    started = _state.tracer.start_span(name, attributes=_clean(attributes), start_time=int(start_epoch * 1e9))
    started.end(end_time=int(end_epoch * 1e9))


def add(metric: str, value: float = 1, **attributes: Any) -> None:
    """Add to a counter, or record into a histogram (no-op when telemetry is off or ``value`` is 0)."""
    if not value or not configure():
        return
    assert _state is not None
    instrument = _state.instruments[metric]
    if METRICS[metric][0] == "counter":
        instrument.add(value, attributes=_clean(attributes))
    else:
        instrument.record(value, attributes=_clean(attributes))


def flush() -> None:
    """Export what is buffered now (tests; a host shutting down)."""
    if _state is None:
        return
    for provider in _state.providers:
        with contextlib.suppress(Exception):
            provider.force_flush()


def _clean(attributes: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in attributes.items() if v is not None}
