"""The functions the local host serves: ``index_app`` reads ``app.get_functions()`` once into ``Function``s
(trigger, bindings, route, queue, timer schedule), and ``invocation`` builds a call's arguments (output
bindings, context)."""

from __future__ import annotations

import inspect
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import azure.functions as func


class Out(func.Out):
    """Concrete ``func.Out`` for output bindings."""

    def __init__(self) -> None:
        self._value: Any = None

    def set(self, val: Any) -> None:
        self._value = val

    def get(self) -> Any:
        return self._value


class Context(func.Context):
    def __init__(self, function_name: str, directory: str) -> None:
        self._invocation_id = str(uuid.uuid4())
        self._function_name = function_name
        self._directory = directory
        self._local = threading.local()

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property
    def function_name(self) -> str:
        return self._function_name

    @property
    def function_directory(self) -> str:
        return self._directory

    @property
    def trace_context(self) -> Any:
        return None

    @property
    def retry_context(self) -> Any:
        return None

    @property
    def thread_local_storage(self) -> Any:
        return self._local


def route_regex(template: str) -> re.Pattern[str]:
    """Functions route templates: ``{name}``, ``{name:constraint}``, ``{name?}``, ``{*rest}``."""
    out = ""
    for part in template.strip("/").split("/"):
        segment = re.escape(part)
        match = re.fullmatch(r"\{(\*)?(\w+)(?::[^}?]+)?(\?)?\}", part)
        if match:
            catch_all, name, optional = match.groups()
            segment = f"(?P<{name}>.+)" if catch_all else f"(?P<{name}>[^/]+)"
            out += f"(?:/{segment})?" if (optional or catch_all) else f"/{segment}"
        else:
            out += "/" + segment
    return re.compile("^" + out + "$")


@dataclass
class Binding:
    name: str
    type: str
    direction: int
    queue_name: str | None
    connection: str | None


@dataclass
class Function:
    name: str
    user_function: Callable[..., Any]
    trigger_arg: str
    bindings: list[Binding]
    wants_context: bool
    # HTTP
    route: re.Pattern[str] | None = None
    methods: frozenset[str] = frozenset()
    auth_level: str = "FUNCTION"
    # queue
    queue_name: str | None = None
    connection: str | None = None
    # timer (the schedule as written: an NCRONTAB expression or a %SETTING% reference)
    schedule: str | None = None
    run_on_startup: bool = False
    use_monitor: bool | None = None

    def out_bindings(self) -> dict[str, Binding]:
        return {b.name: b for b in self.bindings if b.direction == 1 and b.name != "$return"}


def index_app(app: func.FunctionApp) -> list[Function]:
    """Call ``app.get_functions()`` once and check the worker's binding ↔ parameter rules."""
    functions: list[Function] = []
    for f in app.get_functions():
        trigger = f.get_trigger()
        user_function = f.get_user_function()
        bindings = [
            Binding(
                name=b.name,
                type=b.type,
                direction=int(getattr(b.direction, "value", b.direction)),
                queue_name=getattr(b, "queue_name", None),
                connection=getattr(b, "connection", None),
            )
            for b in f.get_bindings()
        ]
        params = set(inspect.signature(user_function).parameters)
        binding_names = {b.name for b in bindings if b.name != "$return"}
        if params - binding_names - {"context"} or binding_names - params:
            raise ValueError(
                f"function {f.get_function_name()}: parameters {sorted(params)} do not match bindings "
                f"{sorted(binding_names)} (the worker would refuse to load it)"
            )
        fn = Function(
            name=f.get_function_name(),
            user_function=user_function,
            trigger_arg=trigger.name,
            bindings=bindings,
            wants_context="context" in params,
        )
        if trigger.type == "httpTrigger":
            fn.route = route_regex(trigger.route or fn.name)
            methods = trigger.methods or []
            fn.methods = frozenset(str(getattr(m, "value", m)).upper() for m in methods)
            level = trigger.auth_level
            fn.auth_level = str(getattr(level, "name", level)).upper()
        elif trigger.type == "queueTrigger":
            fn.queue_name = trigger.queue_name
            fn.connection = trigger.connection
        elif trigger.type == "timerTrigger":
            fn.schedule = str(trigger.schedule)
            fn.run_on_startup = bool(trigger.run_on_startup)
            fn.use_monitor = trigger.use_monitor
        else:
            raise ValueError(f"devhost does not support trigger type {trigger.type} ({fn.name})")
        functions.append(fn)
    return functions


def invocation(fn: Function, trigger_value: Any) -> tuple[dict[str, Any], dict[str, Out]]:
    """The keyword arguments of one call of ``fn`` and the ``Out`` of each output binding they hold."""
    outs = {name: Out() for name in fn.out_bindings()}
    kwargs: dict[str, Any] = {fn.trigger_arg: trigger_value, **outs}
    if fn.wants_context:
        kwargs["context"] = Context(fn.name, str(Path.cwd()))
    return kwargs, outs
