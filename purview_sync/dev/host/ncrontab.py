"""Timer schedules as the Functions timer extension reads them: an NCRONTAB expression, six fields with the
seconds first (``{second} {minute} {hour} {day} {month} {day-of-week}``; five fields = no seconds), either
literally or as an app-setting reference ``%NAME%``. Times are UTC (``WEBSITE_TIME_ZONE`` is not emulated).

Parsing and the next occurrence come from croniter; NCrontab matches a day only when *both* the day-of-month
and the day-of-week fields allow it (not either, as Vixie cron does), so ``day_or=False``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from croniter import croniter

SETTING_REFERENCE = re.compile(r"^%([^%]+)%$")
TIMESPAN = re.compile(r"^\d+(\.\d+)?:\d{2}(:\d{2})?$")


class ScheduleError(ValueError):
    """The schedule cannot be used; the host refuses to index the function (it stays disabled)."""


def resolve_schedule(raw: str, settings: Callable[[str], str | None]) -> str:
    """``%NAME%`` → the app setting ``NAME`` (an unset setting is an indexing error, as on the real host)."""
    match = SETTING_REFERENCE.match(raw.strip())
    if not match:
        return raw.strip()
    value = settings(match.group(1))
    if not value:
        raise ScheduleError(f"'{raw}' does not resolve to a value (app setting {match.group(1)} is not set)")
    return value.strip()


@dataclass(frozen=True)
class Schedule:
    expression: str

    @classmethod
    def parse(cls, expression: str) -> Schedule:
        fields = expression.split()
        if TIMESPAN.match(expression.strip()):
            raise ScheduleError(
                f"'{expression}' is a TimeSpan schedule, which only an App Service plan runs; use NCRONTAB"
            )
        if len(fields) not in (5, 6):
            raise ScheduleError(
                f"'{expression}' is not an NCRONTAB expression: it needs six fields "
                "({second} {minute} {hour} {day} {month} {day-of-week})"
            )
        normalised = " ".join(fields)
        if not croniter.is_valid(normalised, second_at_beginning=len(fields) == 6):
            raise ScheduleError(f"'{expression}' is not a valid NCRONTAB expression")
        return cls(normalised)

    @property
    def has_seconds(self) -> bool:
        return len(self.expression.split()) == 6

    def next_after(self, moment: datetime) -> datetime:
        """The first occurrence strictly after ``moment`` (UTC)."""
        base = moment.astimezone(UTC)
        it = croniter(self.expression, base, second_at_beginning=self.has_seconds, day_or=False)
        return it.get_next(datetime).astimezone(UTC)

    def shortest_interval(self, start: datetime, samples: int = 8) -> timedelta:
        """The smallest gap between the next few occurrences (the default of ``useMonitor`` depends on it)."""
        moments = [self.next_after(start)]
        for _ in range(samples):
            moments.append(self.next_after(moments[-1]))
        return min(b - a for a, b in itertools.pairwise(moments))
