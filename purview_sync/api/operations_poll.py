"""The operations poll: a timer (NCRONTAB app setting ``EVENT_POLL_TICK``, default every 5 minutes) that pushes
the datastores of Qualytics' finished scans and profiles like events (app/operations_poll.py)."""

from __future__ import annotations

import logging

import azure.functions as func

from purview_sync.app import operations_poll
from purview_sync.app.services import get_services

bp = func.Blueprint()
log = logging.getLogger(__name__)


@bp.timer_trigger(arg_name="timer", schedule="%EVENT_POLL_TICK%")
def poll_operations(timer: func.TimerRequest) -> None:
    if timer.past_due:
        log.info("the operations poll is past due (a tick was missed): polling now")
    result = operations_poll.poll(get_services())
    if result.pushed:
        log.info("operations poll: %d finished operation(s) pushed", len(result.pushed))
