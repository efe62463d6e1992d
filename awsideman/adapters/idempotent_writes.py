"""Creates and deletes that survive a lost answer without writing twice (DESIGN section 3).

No Create* call of Identity Center takes an idempotency token, so every create is sent with
``idempotent=False``: the retry policy re-sends it only when the service provably did not apply
it, and otherwise raises `AmbiguousWriteError`. `create` then looks the resource up by its
natural key: present -> it is returned as if created, marked ``found_after_lost_response``;
absent -> sent again (at most `MAX_SENDS` sends in all). An "already exists" ConflictException
is resolved by the same lookup and never creates a duplicate; as the service's reads lag
behind its writes (a resource just created may be missing from lookups for seconds), a lookup
that finds nothing where the service says the name is taken is repeated after `LAG_WAITS`
before the conflict is reported. `delete` is sent the same way;
after a lost answer, a read by id tells whether the delete landed. Updates, puts,
attach/detach and tag/untag are idempotent in effect and keep the policy's ordinary retries.

The error meanings (`not_found`, `already_exists`, `already_attached`) live here too: they
decide when a write is done, and every write module asks the same questions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from awsideman.adapters.aws import client_error_code, client_error_message, client_error_reason
from awsideman.core.exceptions import AmbiguousWriteError

T = TypeVar("T")

# Sends of one create/delete in all, the first included, when answers keep getting lost and
# the lookup keeps finding nothing: beyond this the service is not healthy enough to go on.
MAX_SENDS = 3

# Pauses (seconds) between lookups of a resource the service says exists but its reads do not
# show yet (propagation lag): about 8 s in all, well past the second or two seen in practice.
# Only a conflict waits: a clean run never pays for the lag.
LAG_WAITS = (0.25, 0.5, 1.0, 2.0, 4.0)

# How a create or delete ended (`WriteResult.outcome`, `AsyncRequest.outcome`).
APPLIED = "applied"  # this call's answer said it was done
FOUND_AFTER_LOST_RESPONSE = "found_after_lost_response"  # answer lost; a lookup showed it done
ALREADY_EXISTED = "already_existed"  # the service said it existed before this call; nothing written
ALREADY_ABSENT = "already_absent"  # the service said it was gone before this call


@dataclass(frozen=True)
class WriteResult:
    """What a create or delete did: the resource id (creates) and how it ended (`outcome`)."""

    id: str | None
    outcome: str = APPLIED

    @property
    def found_after_lost_response(self) -> bool:
        """The answer was lost and a lookup found the change in place (for the journal)."""
        return self.outcome == FOUND_AFTER_LOST_RESPONSE

    @property
    def existed(self) -> bool:
        """Found by natural key rather than made by this call's answer (lost answer or conflict)."""
        return self.outcome in (FOUND_AFTER_LOST_RESPONSE, ALREADY_EXISTED, ALREADY_ABSENT)


# -- error meanings ---------------------------------------------------------------------------


def not_found(exc: BaseException) -> bool:
    return client_error_code(exc) == "ResourceNotFoundException"


def already_exists(exc: BaseException) -> bool:
    """A permanent "already exists" ConflictException (not a transient concurrent modification).

    identitystore says so in ``Reason``; sso-admin only in its message ("... already exists").
    """
    if client_error_code(exc) != "ConflictException":
        return False
    reason = client_error_reason(exc)
    if reason is not None:
        return reason == "UNIQUENESS_CONSTRAINT_VIOLATION"
    message = client_error_message(exc).lower()
    return "already exist" in message or "duplicate" in message


def already_attached(exc: BaseException) -> bool:
    """sso-admin's answer to attaching a policy that is attached ("already attached" / "already has")."""
    return client_error_code(exc) == "ConflictException" and "already" in client_error_message(exc).lower()


def unless_absent(read: Callable[[], T]) -> T | None:
    """``read()``, or None when the service answers that the resource does not exist."""
    try:
        return read()
    except Exception as exc:
        if not_found(exc):
            return None
        raise


# -- the two write rules ----------------------------------------------------------------------


def lookup_through_lag(lookup: Callable[[], str | None], pause: Callable[[float], None]) -> str | None:
    """`lookup()`, repeated after each of `LAG_WAITS` while it finds nothing."""
    found = lookup()
    for wait in LAG_WAITS:
        if found is not None:
            break
        pause(wait)
        found = lookup()
    return found


def create(send: Callable[[], str], lookup: Callable[[], str | None],
           pause: Callable[[float], None] | None = None) -> WriteResult:
    """Send a create; resolve a lost answer or an "already exists" by `lookup`, never a duplicate.

    ``pause(seconds)`` waits between the lookups of a name the service says is taken (lag).
    After a lost answer the lookup is made once: a lagging one sends again, and the service
    refuses that send as a duplicate if the first landed, which this resolves the same way.
    """
    lost: AmbiguousWriteError | None = None
    for _ in range(MAX_SENDS):
        try:
            return WriteResult(send(), APPLIED)
        except AmbiguousWriteError as exc:
            lost = exc
            found = lookup()
            if found is not None:
                return WriteResult(found, FOUND_AFTER_LOST_RESPONSE)
        except Exception as exc:
            if not already_exists(exc):
                raise
            found = lookup() if pause is None else lookup_through_lag(lookup, pause)
            if found is None:  # exists yet cannot be found: report the service's own answer
                raise
            # After a lost answer, "already exists" is most likely our own first send.
            return WriteResult(found, FOUND_AFTER_LOST_RESPONSE if lost else ALREADY_EXISTED)
    assert lost is not None
    raise lost


def delete(send: Callable[[], Any], read: Callable[[], Any]) -> WriteResult:
    """Send a delete; after a lost answer, `read` (by id) tells whether it landed."""
    lost: AmbiguousWriteError | None = None
    for _ in range(MAX_SENDS):
        try:
            send()
            return WriteResult(None, APPLIED)
        except AmbiguousWriteError as exc:
            lost = exc
            if not _exists(read):
                return WriteResult(None, FOUND_AFTER_LOST_RESPONSE)
        except Exception as exc:
            if not not_found(exc):
                raise
            return WriteResult(None, FOUND_AFTER_LOST_RESPONSE if lost else ALREADY_ABSENT)
    assert lost is not None
    raise lost


def _exists(read: Callable[[], Any]) -> bool:
    try:
        read()
    except Exception as exc:
        if not_found(exc):
            return False
        raise
    return True
