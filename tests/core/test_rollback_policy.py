"""`rollback:` in the config: every key validated like the rest (file and key named), and the
restore's flags checked the same way."""

from __future__ import annotations

import pytest

from awsideman.config import load_settings
from awsideman.core.exceptions import ConfigError
from awsideman.core.rollback_policy import RollbackPolicy, parse_keep


@pytest.mark.parametrize("text, words", [
    ("rollback: {when: sometimes}\n", "rollback.when: must be one of on_failure, never, on_partial"),
    ("rollback: {when: off}\n", "quote the word"),
    ("rollback: {keep: [users, robots]}\n", "rollback.keep.1"),
    ("rollback: {keep: users}\n", "rollback.keep"),
    ("rollback: {keep_users: true}\n", "rollback.keep_users: unknown key"),
    ("rollback: {time_budget: -1}\n", "rollback.time_budget"),
    ("rollback: {inverse_retention_days: fortnight}\n", "rollback.inverse_retention_days"),
    ("rollback: [never]\n", "rollback"),
])
def test_bad_rollback_keys_and_values_name_the_file_and_key(tmp_path, text, words):
    config = tmp_path / "bad.yaml"
    config.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_settings(config_path=str(config))
    assert str(config) in caught.value.message and words in caught.value.message, caught.value.message


def test_the_section_is_read_and_defaults_are_todays_behaviour(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("rollback:\n  when: on_partial\n  keep: [users, permission-sets]\n  time_budget: 30\n"
                      "  inverse_retention_days: 0\n")
    policy = load_settings(config_path=str(config)).rollback
    assert policy == RollbackPolicy(when="on_partial", keep=("users", "permission-sets"), time_budget=30,
                                    inverse_retention_days=0)
    assert policy.keeps("user") and policy.keeps("provision") and not policy.keeps("assignment")
    default = RollbackPolicy()
    assert default.when == "on_failure" and default.keep == () and default.time_budget is None
    assert default.inverse_retention_days is None


def test_flags_win_over_the_file_and_bad_flag_values_are_refused():
    configured = RollbackPolicy(keep=("users",), time_budget=10, inverse_retention_days=5)
    merged = configured.merged(when="never", keep=parse_keep("groups,assignments"))
    assert merged == RollbackPolicy(when="never", keep=("groups", "assignments"), time_budget=10,
                                    inverse_retention_days=5)
    assert configured.merged(keep=parse_keep("none")).keep == ()
    with pytest.raises(ValueError, match="--rollback-keep"):
        parse_keep("users,robots")
    with pytest.raises(ValueError, match="time_budget"):
        configured.merged(time_budget=-1)
    # What a restore journals reads back as the same policy (its resume and its report use it).
    assert RollbackPolicy.from_params(merged.params()) == RollbackPolicy(when="never", keep=("groups", "assignments"),
                                                                         time_budget=10)


def test_a_revert_that_needs_a_kept_change_is_kept_too_with_the_reason():
    from awsideman.core.changes import Change
    from awsideman.core.ordering import rollback_order
    from awsideman.core.rollback_policy import kept_with_dependents

    # A --prune restore deleted bob and his membership; keep: [users] keeps bob deleted, so his
    # membership cannot be re-created: it is kept as well, saying why, instead of failing.
    user = Change(resource="user", action="delete", key=("bob",),
                  before={"user_name": "bob", "attributes": {"DisplayName": "Bob"}}, after=None)
    membership = Change(resource="membership", action="delete", key=("admins", "bob"),
                        before={"group": "admins", "user": "bob"}, after=None)
    other = Change(resource="membership", action="delete", key=("admins", "carol"),
                   before={"group": "admins", "user": "carol"}, after=None)
    inverses = rollback_order([membership, other, user])
    assert kept_with_dependents(inverses, {"user:bob"}) == {
        "membership:admins/bob": "kept by policy: its revert needs user:bob reverted, which rollback.keep keeps"}
    assert kept_with_dependents(inverses, set()) == {}
