"""The work on one permission set, serialised the way Identity Center requires (DESIGN section 3).

The service refuses a write to a permission set (UpdatePermissionSet, its policies and boundary,
ProvisionPermissionSet, DeletePermissionSet) with ConflictException "A conflicting operation is
currently processing" while an assignment or provisioning request of that permission set is in
progress, in any account, so only one provisioning of a permission set runs at a time. Retrying
such a refusal works, but each retry is a wasted call against a shared quota and a wait that
grows; not sending it is better. The apply engine asks this gate before it starts a change:

- exclusive: a permission set's create, update and delete, and each provisioning: nothing else
  of that permission set runs beside it;
- shared: assignment creates and deletes: several of one permission set run together (one per
  account, ``Change.exclusive_key``), but never beside an exclusive change;
- once an exclusive change waits, no new shared change of its permission set starts, so a
  stream of assignments cannot hold an update or a provisioning back for the whole run.

Changes of different permission sets never wait for each other. Refusals from outside the run
(a request someone else started) are still possible; the retry policy waits them out.
"""

from __future__ import annotations

from collections import Counter

from awsideman.core.changes import Change


def subject(change: Change) -> tuple[str, bool] | None:
    """(permission set name, exclusive?) of a change that touches a permission set, else None."""
    if change.resource == "permission_set":
        return change.key[0], True
    if change.resource == "provision":
        return change.key[0], True
    if change.resource == "assignment":
        return change.key[1], False
    return None


class PermissionSetGate:
    """Which changes may start now (main thread only: the engine's scheduler owns it)."""

    def __init__(self) -> None:
        self._exclusive: set[str] = set()
        self._shared: Counter[str] = Counter()
        self._waiting: set[str] = set()  # permission sets with an exclusive change held back

    def admit(self, change: Change) -> bool:
        """Let ``change`` start (and count it as running) or say it must wait."""
        found = subject(change)
        if found is None:
            return True
        name, exclusive = found
        if name in self._exclusive or (exclusive and self._shared[name]):
            if exclusive:
                self._waiting.add(name)
            return False
        if exclusive:
            self._waiting.discard(name)
            self._exclusive.add(name)
        elif name in self._waiting:
            return False
        else:
            self._shared[name] += 1
        return True

    def leave(self, change: Change) -> str | None:
        """``change`` has ended (applied, failed, or never sent): its permission set's name, if any."""
        found = subject(change)
        if found is None:
            return None
        name, exclusive = found
        if exclusive:
            self._exclusive.discard(name)
        elif self._shared[name] > 1:
            self._shared[name] -= 1
        else:
            del self._shared[name]
        return name

    @staticmethod
    def name(change: Change) -> str:
        """The permission set a change waits for (only asked about changes ``admit`` refused)."""
        found = subject(change)
        return found[0] if found else ""

    def busy(self) -> set[str]:
        """The permission sets with a change running (for tests and debugging)."""
        return self._exclusive | set(self._shared)
