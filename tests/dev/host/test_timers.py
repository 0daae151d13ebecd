"""The devhost runs timer triggers as the Functions host does: NCRONTAB with seconds, ``%SETTING%`` schedules,
runOnStartup, useMonitor / past_due after a missed occurrence, and one listener per app over all hosts."""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import azure.functions as func
import pytest

from purview_sync.dev.azurite import Azurite
from purview_sync.dev.host import DevHost, HostConfig, Schedule, TimerOptions
from purview_sync.dev.host.ncrontab import ScheduleError, resolve_schedule
from purview_sync.dev.host.timers import ScheduleStatus, TimerStore

KEY = "test-function-key"


class Calls:
    def __init__(self) -> None:
        self.items: list[tuple[str, bool, dict[str, str], float]] = []
        self.lock = threading.Lock()

    def add(self, who: str, timer: func.TimerRequest) -> None:
        with self.lock:
            self.items.append((who, timer.past_due, dict(timer.schedule_status), time.time()))

    def of(self, who: str) -> list[tuple[str, bool, dict[str, str], float]]:
        with self.lock:
            return [c for c in self.items if c[0] == who]


def make_app(calls: Calls, *, label: str = "") -> func.FunctionApp:
    app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)

    @app.timer_trigger(arg_name="timer", schedule="%FAST_TICK%")
    def fast(timer: func.TimerRequest) -> None:
        calls.add(f"fast{label}", timer)

    @app.timer_trigger(arg_name="timer", schedule="0 0 0 1 1 *", run_on_startup=True)
    def yearly_on_startup(timer: func.TimerRequest) -> None:
        calls.add(f"startup{label}", timer)

    @app.timer_trigger(arg_name="timer", schedule="0 * * * * *")
    def every_minute(timer: func.TimerRequest) -> None:
        calls.add(f"minute{label}", timer)

    @app.timer_trigger(arg_name="timer", schedule="%UNSET_TICK%")
    def unresolved(timer: func.TimerRequest) -> None:
        calls.add(f"unresolved{label}", timer)

    return app


def wait_until(predicate: object, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def host_for(azurite: Azurite, calls: Calls, host_id: str, *, label: str = "", **options: float) -> DevHost:
    settings = {"AzureWebJobsStorage": azurite.connection_string, "FAST_TICK": "*/1 * * * * *"}
    timer_options = TimerOptions(lock_seconds=1.5, recovery_seconds=0.3, **options)  # type: ignore[arg-type]
    return DevHost(make_app(calls, label=label), HostConfig(), KEY, settings.get, port=0, host_id=host_id,
                   timer_options=timer_options)  # fmt: skip


# --- schedules -----------------------------------------------------------------------------------------


def test_ncrontab_six_fields_with_seconds() -> None:
    start = datetime(2026, 12, 1, 9, 58, 7, tzinfo=UTC)
    every5 = Schedule.parse("0 */5 * * * *")
    assert every5.next_after(start) == datetime(2026, 12, 1, 10, 0, 0, tzinfo=UTC)
    assert every5.next_after(datetime(2026, 12, 1, 10, 0, 0, tzinfo=UTC)) == datetime(
        2026, 12, 1, 10, 5, tzinfo=UTC
    )
    assert Schedule.parse("*/2 * * * * *").next_after(start) == datetime(2026, 12, 1, 9, 58, 8, tzinfo=UTC)
    assert Schedule.parse("0 30 9 * Jan Mon").next_after(start) == datetime(2027, 1, 4, 9, 30, tzinfo=UTC)
    assert Schedule.parse("*/5 * * * *").next_after(start) == datetime(
        2026, 12, 1, 10, 0, tzinfo=UTC
    )  # no seconds
    # NCrontab: a day must match both the day-of-month and the day-of-week field
    assert Schedule.parse("0 0 12 13 * Fri").next_after(start) == datetime(2027, 8, 13, 12, 0, tzinfo=UTC)
    assert every5.shortest_interval(start) == timedelta(minutes=5)


@pytest.mark.parametrize("bad", ["", "bad", "0 */5 * * *  * * extra", "61 * * * * *", "00:05:00"])
def test_bad_schedules_are_refused(bad: str) -> None:
    with pytest.raises(ScheduleError):
        Schedule.parse(bad)


def test_schedule_from_an_app_setting() -> None:
    settings = {"TICK": " 0 */5 * * * * "}
    assert resolve_schedule("%TICK%", settings.get) == "0 */5 * * * *"
    assert resolve_schedule("0 1 * * * *", settings.get) == "0 1 * * * *"
    with pytest.raises(ScheduleError, match="does not resolve"):
        resolve_schedule("%MISSING%", settings.get)


# --- the listener --------------------------------------------------------------------------------------


def test_timers_fire_on_schedule_and_run_on_startup(azurite: Azurite) -> None:
    calls = Calls()
    host = host_for(azurite, calls, f"t-{uuid.uuid4().hex[:8]}").start()
    try:
        wait_until(lambda: len(calls.of("fast")) >= 3)
        wait_until(lambda: len(calls.of("startup")) == 1)
        time.sleep(1.2)
    finally:
        host.stop()
    fast = calls.of("fast")
    gaps = [b[3] - a[3] for a, b in itertools.pairwise(fast)]
    assert all(0.5 < gap < 1.6 for gap in gaps), gaps  # once a second, not faster
    assert not any(past_due for _, past_due, _, _ in fast)
    (startup,) = calls.of("startup")  # runOnStartup: once at start, though not due until January
    assert startup[1] is False
    assert calls.of("unresolved") == []  # %UNSET_TICK% does not resolve: that function is disabled
    assert calls.of("minute") == [] or calls.of("minute")[0][1] is False


def test_a_missed_occurrence_runs_past_due_at_start(azurite: Azurite) -> None:
    host_id = f"t-{uuid.uuid4().hex[:8]}"
    store = TimerStore(azurite.connection_string, host_id)
    now = datetime.now(UTC)
    missed = now.replace(second=0, microsecond=0) - timedelta(minutes=3)
    store.put_status("every_minute", ScheduleStatus(missed - timedelta(minutes=1), missed, missed))
    calls = Calls()
    host = host_for(azurite, calls, host_id).start()
    try:
        wait_until(lambda: len(calls.of("minute")) >= 1, timeout=5)
    finally:
        host.stop()
    first = calls.of("minute")[0]
    assert first[1] is True  # timer.past_due
    assert first[2]["Next"] == missed.isoformat()
    assert first[3] - now.timestamp() < 5  # made up at start, not at the next minute
    status = store.get_status("every_minute")
    assert status is not None and status.next > now and status.last == missed


def test_a_restart_with_nothing_missed_is_not_past_due(azurite: Azurite) -> None:
    host_id = f"t-{uuid.uuid4().hex[:8]}"
    store = TimerStore(azurite.connection_string, host_id)
    now = datetime.now(UTC)
    upcoming = Schedule.parse("0 * * * * *").next_after(now)
    store.put_status("every_minute", ScheduleStatus(upcoming - timedelta(minutes=1), upcoming, now))
    calls = Calls()
    host = host_for(azurite, calls, host_id).start()
    try:
        wait_until(lambda: len(calls.of("startup")) == 1)
        time.sleep(0.5)
    finally:
        host.stop()
    assert [c for c in calls.of("minute") if c[1]] == []


def test_one_listener_per_app_over_two_hosts(azurite: Azurite) -> None:
    host_id = f"t-{uuid.uuid4().hex[:8]}"
    calls = Calls()
    first = host_for(azurite, calls, host_id, label="-a").start()
    wait_until(lambda: len(calls.of("fast-a")) >= 1)
    second = host_for(azurite, calls, host_id, label="-b").start()
    try:
        time.sleep(2.5)
        assert len(calls.of("fast-a")) >= 3
        assert calls.of("fast-b") == []  # the second instance waits for the lock
        assert len(calls.of("startup-a")) == 1 and calls.of("startup-b") == []
        first.stop()
        wait_until(lambda: len(calls.of("fast-b")) >= 2, timeout=10)  # it takes over
        assert len(calls.of("startup-b")) == 1  # its listener started: runOnStartup
    finally:
        first.stop()
        second.stop()


def test_without_the_singleton_every_host_runs_it(azurite: Azurite) -> None:
    host_id = f"t-{uuid.uuid4().hex[:8]}"
    calls = Calls()
    hosts = [host_for(azurite, calls, host_id, label=x, singleton=False).start() for x in ("-a", "-b")]
    try:
        wait_until(lambda: len(calls.of("fast-a")) >= 2 and len(calls.of("fast-b")) >= 2)
    finally:
        for host in hosts:
            host.stop()
