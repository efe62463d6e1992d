"""Which commands `iam-policy --for` and `doctor --for` can be asked about, and what each covers.

A table of its own, free of heavy imports: the cli names its choices in the help text when the
command is declared, long before (and often without) any service being imported.
"""

from __future__ import annotations

FOR: dict[str, tuple[str, ...]] = {
    "backup": ("backup",), "restore": ("restore",), "rollback": ("rollback",),
    "all": ("backup", "restore", "rollback"),
}
