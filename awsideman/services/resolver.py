"""Natural keys to the target instance's ids, at apply time (DESIGN section 3).

Users and groups get new ids when they are re-created, and a restore may target another
instance than the backup's, so a change names resources by natural keys only. The resolver
starts from the ids the live read for the plan saw, learns the ids of what the restore creates,
forgets what it deletes, and asks the writer (a lookup by natural key) on a miss. It also keeps
the id of every membership the run created: the service's reads lag behind its writes, so a
rollback moments later deletes that membership by the id it was given, not by a lookup that may
not see it yet.
"""

from __future__ import annotations

import threading
from typing import Any

from awsideman.core.exceptions import UnresolvedError
from awsideman.core.model import Snapshot


class Resolver:
    """Thread-safe name -> id maps for users, groups and permission sets."""

    def __init__(self, writer: Any, live: Snapshot) -> None:
        self._writer = writer
        self._lock = threading.Lock()
        self._ids: dict[str, dict[str, str]] = {
            "user": {u.user_name: u.user_id for u in live.users},
            "group": {g.display_name: g.group_id for g in live.groups},
            "permission_set": {p.name: p.arn for p in live.permission_sets},
            "membership": {},  # membership address -> id, for the memberships created here
        }
        writer.prime_permission_sets(dict(self._ids["permission_set"]))

    def learn(self, resource: str, name: str, ident: str) -> None:
        with self._lock:
            self._ids[resource][name] = ident

    def forget(self, resource: str, name: str) -> None:
        with self._lock:
            self._ids[resource].pop(name, None)

    def find(self, resource: str, name: str) -> str | None:
        """The id of ``name`` in the target, looked up by natural key when not known yet."""
        with self._lock:
            known = self._ids[resource].get(name)
        if known is not None:
            return known
        lookup = {"user": self._writer.user_id, "group": self._writer.group_id,
                  "permission_set": self._writer.permission_set_arn}[resource]
        found = lookup(name)
        if found is not None:
            self.learn(resource, name, found)
        return found

    def require(self, resource: str, name: str) -> str:
        found = self.find(resource, name)
        if found is None:
            raise UnresolvedError(f"{resource.replace('_', ' ')} {name!r} does not exist in the target instance",
                                  remediation=["Restore it too (widen --resources), or create it first."])
        return found

    def known(self, resource: str, name: str) -> str | None:
        """The id already learned for ``name`` (no lookup)."""
        with self._lock:
            return self._ids[resource].get(name)

    def principal(self, principal_type: str, name: str) -> str:
        return self.require("user" if principal_type == "USER" else "group", name)
