"""The account of a stopped restore on both stores (finding 16 of issue 20): it names its backup,
ends when it was last seen at work, and its advice refers to no cause it does not show."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

from awsideman.journal import utc_timestamp
from awsideman.services.account import operation_account
from tests.journal.conftest import T0

BACKUP = "bk-20240301T085900Z-abcdef"
FORWARD = {"resource": "user", "action": "create", "address": "user:alice", "key": ["alice"]}


def test_a_killed_restore_names_its_backup_and_ends_at_its_last_write(journal, open_journal, clock, backend):
    op = journal.start_operation("restore", {"backup_id": BACKUP, "auto_rollback": True}, "arn:aws:sso:::instance/x")
    clock.advance(seconds=1.25)
    seq = journal.record_intent(op.id, "user", FORWARD, dict(FORWARD, action="delete"), address="user:alice")
    clock.advance(seconds=2.5)
    journal.mark_change(op.id, seq, "APPLIED")
    if backend == "sqlite":  # its process died (kill -9): another owner, a pid that is not running
        with sqlite3.connect(journal.path) as conn:
            conn.execute("UPDATE operations SET owner = 'gone', pid = 2147483646 WHERE id = ?", (op.id,))
        reader = open_journal(clock)
    else:  # paused past its lease: another runner reads it
        clock.advance(seconds=3600)
        reader = open_journal(clock)
    account = operation_account(reader, op.id)
    assert account.status == "interrupted"
    assert account.backup_id == account.summary["backup_id"] == BACKUP  # the column is empty: from its params
    assert account.summary["finished_at"] == utc_timestamp(T0 + timedelta(seconds=3.75))
    assert account.duration_seconds == 3.75
    assert [item["address"] for item in account.leftover] == ["user:alice"]
    assert account.next_command == f"awsideman restore --resume {op.id}"  # stopped: finish it (finding 8)
    assert f"awsideman rollback {op.id}" in " ".join(account.recovery)
    assert not any("cause" in step for step in account.recovery), account.recovery  # none is shown
    assert [(p["name"], p["seconds"]) for p in account.phases] == [("planning", 1.25), ("applying", 2.5)]
