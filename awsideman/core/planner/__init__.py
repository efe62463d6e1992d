"""The restore planner: backup vs live instance, by natural keys, into an ordered `Plan`.

Pure code (no boto3, no I/O). One module per resource kind emits `Change` objects
(`awsideman.core.changes`); `plan.make_plan` orchestrates; `awsideman.core.ordering` orders
them and derives rollbacks. Executing changes is the apply engine's business.
"""

from awsideman.core.ordering import rollback_order
from awsideman.core.planner.draft import CONFLICT_MODES
from awsideman.core.planner.plan import Plan, make_plan
from awsideman.core.planner.scope import NotTouched, Untouchable, resources_in_scope, untouchables_from_missing

__all__ = [
    "CONFLICT_MODES", "NotTouched", "Plan", "Untouchable", "make_plan", "resources_in_scope",
    "rollback_order", "untouchables_from_missing",
]
