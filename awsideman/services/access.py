"""`awsideman access show [BACKUP_ID | --live]`: effective access at one point (a backup or the live
instance), and `access diff` between two.

A backup is read through the archive (checksum, format, decryption and consistency checks, no
API call unless it is KMS-encrypted); the live instance through `read_live`, the backup
collector with its cost-chosen assignment listing, into the same in-memory snapshot. The
computation itself is `core.access`.
"""

from __future__ import annotations

import difflib
import time
from dataclasses import dataclass, field
from typing import Any

from awsideman.adapters.organization import account_names
from awsideman.core.access import AccessFilter, AccessIndex
from awsideman.core.access_diff import AccessChange, counts, diff_access
from awsideman.core.exceptions import UsageError
from awsideman.core.model import RESOURCE_KINDS
from awsideman.services.archive import BackupArchive
from awsideman.services.context import Context
from awsideman.services.diff import describe_backup, orphans_visible, partial_notes
from awsideman.services.live import read_live

ACCOUNT_ID_LENGTH = 12


@dataclass
class AccessPoint:
    """One point in time: what it is (a backup or the live instance) and the index to ask."""

    source: dict[str, Any]
    index: AccessIndex
    orphans_visible: bool
    notes: list[str] = field(default_factory=list)

    def orphan_report(self) -> dict[str, Any]:
        """As `backup show` says it: whether the listing could see orphans, and how many it found."""
        return {"visible": self.orphans_visible, "count": len(self.index.snapshot.orphan_assignments)}


@dataclass
class AccessDiffResult:
    """What `access diff` reports (JSON: `to_dict`)."""

    before: AccessPoint
    after: AccessPoint
    changes: list[AccessChange]
    api_calls: int = 0
    duration_seconds: float = 0.0

    @property
    def equal(self) -> bool:
        return not self.changes

    @property
    def notes(self) -> list[str]:
        return list(dict.fromkeys([*self.before.notes, *self.after.notes]))

    def to_dict(self) -> dict[str, Any]:
        return {"from": self.before.source, "to": self.after.source, "equal": self.equal,
                "counts": counts(self.changes), "changes": [c.to_dict() for c in self.changes],
                "orphan_assignments": {"from": self.before.orphan_report(), "to": self.after.orphan_report()},
                "api_calls": self.api_calls, "duration_seconds": self.duration_seconds, "notes": self.notes}


@dataclass(frozen=True)
class AccessQuery:
    """The names a user filtered by, as given (resolved against a point by `resolve_filter`)."""

    user: str | None = None
    group: str | None = None
    account: str | None = None  # an id or a name
    permission_set: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"user": self.user, "group": self.group, "account": self.account,
                "permission_set": self.permission_set}


class AccessService:
    """Loads points in time for `access` and `access diff`."""

    def __init__(self, context: Context) -> None:
        self.context = context

    def backup(self, backup_id: str, store: str | None) -> AccessPoint:
        """A backup's access, read without an API call (a KMS-encrypted one: one Decrypt)."""
        manifest, snapshot = BackupArchive(self.context).load(backup_id, store)
        held = list(manifest.get("resources") or RESOURCE_KINDS)
        lacking = [kind for kind in RESOURCE_KINDS if kind not in held]
        if lacking:
            raise UsageError(f"{manifest['backup_id']} holds only {', '.join(held)}: effective access needs "
                             f"users, groups, permission-sets and assignments (it lacks {', '.join(lacking)})",
                             remediation=["Use a backup taken with every resource kind (the default)."])
        notes = partial_notes(manifest)
        visible = orphans_visible(manifest)
        if not visible:
            notes.append(f"{manifest['backup_id']} listed assignments per principal: orphan assignments "
                         "(principal deleted) could not be seen and are not shown.")
        return AccessPoint(describe_backup(manifest), AccessIndex(snapshot), visible, notes)

    def live(self) -> AccessPoint:
        """The live instance's access, read with the backup's collector (nothing is written)."""
        snapshot = read_live(self.context, RESOURCE_KINDS, called="the live instance")
        names = account_names(self.context.gateway)  # a courtesy: denied, the rows carry ids only
        notes = [] if snapshot.orphans_visible else [
            "Assignments were listed per principal: orphan assignments (principal deleted) could not be seen."]
        if not names:
            notes.append("Account names could not be listed (organizations:ListAccounts): accounts are shown by id.")
        source = {"kind": "live", **self.context.instance.to_dict()}
        return AccessPoint(source, AccessIndex(snapshot, names), snapshot.orphans_visible, notes)

    def point(self, backup_id: str | None, store: str | None) -> AccessPoint:
        return self.live() if backup_id is None else self.backup(backup_id, store)

    def diff(self, first: str, second: str | None, store: str | None) -> AccessDiffResult:
        """Access gained and lost from backup ``first`` to backup ``second`` (None: the live instance)."""
        started = time.monotonic()
        before = self.backup(first, store)
        after = self.point(second, store)
        changes = diff_access(before.index, after.index)
        return AccessDiffResult(before, after, changes, api_calls=self.api_calls(),
                                duration_seconds=round(time.monotonic() - started, 3))

    def api_calls(self) -> int:
        return self.context.gateway.call_count() if "gateway" in self.context.__dict__ else 0


def resolve_filter(point: AccessPoint, query: AccessQuery) -> AccessFilter:
    """``query`` checked against what ``point`` holds: an unknown name is a usage error (exit 2)
    naming the closest known ones, never an empty answer that reads as "nobody"."""
    snapshot = point.index.snapshot
    where = _where(point.source)
    if query.user is not None:
        _known("user", query.user, [u.user_name for u in snapshot.users], where)
    if query.group is not None:
        _known("group", query.group, [g.display_name for g in snapshot.groups], where)
    if query.permission_set is not None:
        _known("permission set", query.permission_set, [p.name for p in snapshot.permission_sets], where)
    account = None if query.account is None else resolve_account(point, query.account)
    return AccessFilter(user=query.user, group=query.group, account_id=account, permission_set=query.permission_set)


def resolve_account(point: AccessPoint, given: str) -> str:
    """An account id or name as an id: an id must be targeted or known, a name must be known."""
    names = point.index.account_names
    targeted = point.index.accounts()
    if given.isdigit() and len(given) == ACCOUNT_ID_LENGTH:
        if given in targeted or given in names:
            return given
        raise UsageError(f"No assignment in {_where(point.source)} targets account {given}",
                         remediation=[f"Accounts with assignments: {_some(sorted(targeted))}"])
    by_name = {name: account for account, name in names.items()}
    if given in by_name:
        return by_name[given]
    folded = [account for account, name in names.items() if name.casefold() == given.casefold()]
    if len(folded) == 1:
        return folded[0]
    if not names:
        raise UsageError(f"Account {given!r} is not a 12-digit account id, and {_where(point.source)} has no "
                         "account names (backups do not record them; a live read needs organizations:ListAccounts)",
                         remediation=[f"Give the account id: {_some(sorted(targeted))}"])
    raise UsageError(f"No account named {given!r} in the organization",
                     remediation=[f"Known names: {_some(sorted(names.values()), given)}"])


def _known(kind: str, name: str, known: list[str], where: str) -> None:
    if name in set(known):
        return
    raise UsageError(f"No {kind} {name!r} in {where}",
                     remediation=[f"Known {kind}s: {_some(known, name)}" if known else f"It holds no {kind}s."])


def _some(names: list[str], near: str | None = None) -> str:
    """The names closest to ``near`` first (or the first few), for an error message."""
    shown = difflib.get_close_matches(near, names, n=5, cutoff=0.5) if near else []
    shown += [n for n in names[:5] if n not in shown]
    more = f" (and {len(names) - len(shown)} more)" if len(names) > len(shown) else ""
    return ", ".join(shown[:8]) + more if shown else "none"


def _where(source: dict[str, Any]) -> str:
    return "the live instance" if source.get("kind") == "live" else f"backup {source.get('backup_id')}"
