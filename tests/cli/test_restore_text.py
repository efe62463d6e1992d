"""The restore summary's "not touched" lines read as sentences, not as raw records."""

from __future__ import annotations

from awsideman.cli.restore import _untouched_text
from awsideman.core.planner.scope import NotTouched


def test_a_rule_that_held_changes_back_names_them():
    item = NotTouched("memberships of group:ops", "the backup could not read them",
                      tuple(f"membership:ops/u{i}" for i in range(7))).to_dict()
    assert _untouched_text(item) == ("memberships of group:ops: the backup could not read them (7 change(s) held "
                                     "back: membership:ops/u0, membership:ops/u1, membership:ops/u2, "
                                     "membership:ops/u3, membership:ops/u4, ...)")


def test_an_unresolved_change_is_named_once():
    item = NotTouched("assignment:123456789012/Admin/user:gone", "its principal is not in the target",
                      ("assignment:123456789012/Admin/user:gone",)).to_dict()
    assert _untouched_text(item) == "assignment:123456789012/Admin/user:gone: its principal is not in the target"
    assert "{" not in _untouched_text(item)
