"""Installed error handlers: the ``awsideman.error_handlers`` entry-point group.

A package declares, in its ``pyproject.toml``::

    [project.entry-points."awsideman.error_handlers"]
    my-handler = "my_package.module:handler"

``handler(facts)`` is called with a read-only ``core.recovery.ErrorFacts`` for each failed write
of a restore, before the ``recovery:`` rules and the built-in table, and returns None (no
opinion) or a mapping with ``category`` and/or ``action`` (``retry|fail|skip|pause``) and an
optional ``reason`` (README "Recovery policies"). A handler that cannot be loaded, is not
callable, raises or answers something else is warned about once and ignored: a plugin never
stops a run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from importlib.metadata import entry_points

from awsideman.core.recovery import Handler

GROUP = "awsideman.error_handlers"
MAX_HANDLERS = 20  # installed packages are trusted code, but a runaway list is still a mistake

log = logging.getLogger("awsideman.error_handlers")


def load_handlers(warn: Callable[[str], None]) -> list[tuple[str, Handler]]:
    """The installed handlers by name (sorted, so the order does not depend on the install order)."""
    handlers: list[tuple[str, Handler]] = []
    for point in sorted(entry_points(group=GROUP), key=lambda p: p.name)[:MAX_HANDLERS]:
        try:
            handler = point.load()
        except Exception as exc:  # a broken plugin must not stop the tool
            warn(f"error handler {point.name!r} ({point.value}) could not be loaded: {type(exc).__name__}: {exc}; "
                 "ignored")
            continue
        if not callable(handler):
            warn(f"error handler {point.name!r} ({point.value}) is not callable; ignored")
            continue
        log.info("error handler %s loaded from %s", point.name, point.value)
        handlers.append((point.name, handler))
    return handlers
