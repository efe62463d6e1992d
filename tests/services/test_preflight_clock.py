"""The clock check before a restore's or rollback's first write, from the service's Date header."""

from __future__ import annotations

import time
from email.utils import formatdate
from types import SimpleNamespace

import pytest

from awsideman.core.errors import ErrorAnalyzer, error_exit_code
from awsideman.core.exceptions import ClockSkewError
from awsideman.services.preflight import check_clock, clock_skew


def answered(offset: float) -> SimpleNamespace:
    """What the gateway keeps of the last answer: a Date header ``offset`` s behind this clock."""
    now = time.time()
    return SimpleNamespace(server_date=(formatdate(now - offset, usegmt=True), now))


def test_a_clock_within_five_minutes_passes_and_one_beyond_is_refused_as_configuration():
    check_clock(answered(299))
    check_clock(answered(-299))
    assert clock_skew(answered(120)) == pytest.approx(120, abs=1.5)
    with pytest.raises(ClockSkewError, match=r"\+60[0-9] s off the service's") as refused:
        check_clock(answered(605))
    info = ErrorAnalyzer().analyze(refused.value)
    assert (info.category, error_exit_code(refused.value, info)) == ("configuration", 1)
    assert any("NTP" in step for step in info.remediation)


def test_no_date_header_or_an_unreadable_one_proves_nothing_and_blocks_nothing():
    check_clock(SimpleNamespace(server_date=None))
    check_clock(SimpleNamespace())
    assert clock_skew(SimpleNamespace(server_date=("yesterday-ish", time.time()))) is None
