"""Tests for awsideman.core.ids: format, ordering, uniqueness and validation."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from awsideman.core.exceptions import InvalidIdError, UsageError
from awsideman.core.ids import (
    id_timestamp,
    new_backup_id,
    new_operation_id,
    validate_backup_id,
    validate_operation_id,
)

WHEN = datetime(2024, 1, 31, 12, 0, 5, tzinfo=UTC)


def test_new_ids_have_the_documented_format():
    assert re.fullmatch(r"bk-20240131T120005Z-[0-9a-f]{6}", new_backup_id(WHEN))
    assert re.fullmatch(r"op-20240131T120005Z-[0-9a-f]{6}", new_operation_id(WHEN))


def test_new_ids_validate_and_default_to_now():
    before = datetime.now(UTC).replace(microsecond=0)
    op_id = new_operation_id()
    assert validate_operation_id(op_id) == op_id
    assert validate_backup_id(new_backup_id()).startswith("bk-")
    assert before <= id_timestamp(op_id) <= datetime.now(UTC)


def test_naive_now_is_utc_and_aware_now_is_converted():
    assert new_backup_id(datetime(2024, 1, 31, 12, 0, 5)).startswith("bk-20240131T120005Z-")
    paris = timezone(timedelta(hours=1))
    assert new_backup_id(datetime(2024, 1, 31, 13, 0, 5, tzinfo=paris)).startswith("bk-20240131T120005Z-")


def test_ids_sort_by_time():
    times = [WHEN + timedelta(seconds=s) for s in (0, 1, 59, 3600, 86400 * 40)]
    ids = [new_operation_id(t) for t in times]
    assert sorted(reversed(ids)) == ids


def test_ids_made_in_the_same_second_differ():
    assert len({new_backup_id(WHEN) for _ in range(500)}) > 490


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "../../x",
        "bk-20240131T120005Z-3f9a1c/../../x",
        "bk-20240131T120005Z-3f9a1c\n",
        " bk-20240131T120005Z-3f9a1c",
        "bk-20240131T120005Z-3F9A1C",
        "BK-20240131T120005Z-3f9a1c",
        "bk-20240131T120005Z-3f9a1",
        "bk-20240131T120005Z-3f9a1c0",
        "bk-20240131T120005-3f9a1c",
        "bk-20241331T120005Z-3f9a1c",
        "bk-20240131T250005Z-3f9a1c",
        "bk-20240131T120005Z-..\\x1",
        "bk-20240131T120005Z-3f9a1c.json",
        "/etc/passwd",
    ],
)
def test_invalid_backup_ids_are_refused(bad):
    with pytest.raises(InvalidIdError) as info:
        validate_backup_id(bad)
    assert "backup id" in info.value.message
    assert info.value.remediation


@pytest.mark.parametrize("bad", [None, 42, b"op-20240131T120005Z-3f9a1c"])
def test_non_strings_are_refused(bad):
    with pytest.raises(InvalidIdError):
        validate_operation_id(bad)


def test_path_trick_message_is_clear():
    with pytest.raises(InvalidIdError) as info:
        validate_operation_id("../../x")
    message = info.value.message
    assert "'../../x'" in message
    assert "op-YYYYMMDDTHHMMSSZ-xxxxxx" in message


def test_wrong_kind_says_which_kind_it_is():
    with pytest.raises(InvalidIdError, match="is a backup id, not an operation id"):
        validate_operation_id(new_backup_id(WHEN))
    with pytest.raises(InvalidIdError, match="is an operation id, not a backup id"):
        validate_backup_id(new_operation_id(WHEN))


def test_long_garbage_is_truncated_in_the_message():
    with pytest.raises(InvalidIdError) as info:
        validate_backup_id("x" * 5000)
    assert len(info.value.message) < 300


def test_invalid_id_is_a_usage_error_with_exit_code_2():
    with pytest.raises(UsageError) as info:
        validate_backup_id("nope")
    assert info.value.exit_code == 2


def test_id_timestamp():
    assert id_timestamp(new_backup_id(WHEN)) == WHEN
    with pytest.raises(InvalidIdError):
        id_timestamp("../../x")
