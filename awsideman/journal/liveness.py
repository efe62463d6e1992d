"""Who owns a journal row, and whether that process is still alive.

A local SQLite file is only ever shared by processes of one host, so liveness is a question
about a local pid. Two things make a bare pid unreliable: pids are reused (in containers the
tool often runs as pid 1 every time), and this process may have an earlier run's pid. So a row
carries the owner's token (new for every process) and the owner's start time: a row whose pid
is alive but whose start time differs belongs to a dead process that happened to share a pid.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from typing import Any

# New in every process (and never written anywhere but the journal's owner columns).
PROCESS_TOKEN = uuid.uuid4().hex


def process_started(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (clock ticks since boot, as text), or None if unknown."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            fields = handle.read().rsplit(")", 1)[-1].split()
    except OSError:
        return None
    # Fields after the command name: state is 0, starttime (field 22 of stat) is index 19.
    return fields[19] if len(fields) > 19 else None


def this_process() -> tuple[str, int, str | None]:
    """(owner token, pid, start time) of the running process."""
    pid = os.getpid()
    return PROCESS_TOKEN, pid, process_started(pid)


def owner_alive(owner: str | None, pid: int | None, started: str | None) -> bool:
    """Whether the process that wrote (owner, pid, started) is still running."""
    if owner == PROCESS_TOKEN:
        return True
    if pid is None or pid == os.getpid():
        return False  # our pid, another token: an earlier process that had the same pid
    if not _pid_alive(pid):
        return False
    now_started = process_started(pid)
    return started is None or now_started is None or now_started == started


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    except OSError:
        return False
    # An exited but unreaped child still answers signal 0; on Linux its state says zombie.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def local_clock() -> float:
    """Seconds on a clock that keeps counting while the machine sleeps (a closed laptop)."""
    boottime = getattr(time, "CLOCK_BOOTTIME", None)
    return time.clock_gettime(boottime) if boottime is not None else time.monotonic()


class ProcessLiveness:
    """A local journal's owners: alive while their process runs (one host shares the file)."""

    lease_seconds: float | None = None

    def alive(self, record: dict[str, Any], now: float) -> bool:
        return owner_alive(record.get("owner") or None, record.get("pid"), record.get("pid_started") or None)

    def lease_end(self, now: float) -> int | None:
        return None


class LeaseLiveness:
    """A shared journal's owners, on any machine: alive while their lease (renewed by a heartbeat
    every third of it) has not expired. Only the lease counts, even for our own token: what a
    journal holds it keeps renewing, and what it could not finish is left to expire like anyone's."""

    def __init__(self, lease_seconds: float, local: Callable[[], float] = local_clock) -> None:
        self.lease_seconds = float(lease_seconds)
        self.local = local

    def alive(self, record: dict[str, Any], now: float) -> bool:
        until = record.get("lease_until")
        return bool(record.get("owner")) and until is not None and float(until) > now

    def lease_end(self, now: float) -> int | None:
        return int(now + self.lease_seconds) + 1
