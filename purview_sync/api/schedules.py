"""Timer: start the scheduled syncs that are due (every ``SCHEDULE_TICK``, NCRONTAB, default every 5 minutes)."""

from __future__ import annotations

import azure.functions as func

from purview_sync.app.schedules import run_due_schedules
from purview_sync.app.services import get_services

bp = func.Blueprint()


@bp.timer_trigger(schedule="%SCHEDULE_TICK%", arg_name="timer", run_on_startup=False)
def schedule_tick(timer: func.TimerRequest) -> None:
    run_due_schedules(get_services())
