"""Which route lists an instance's account assignments in fewer calls, priced from a sample.

Assignments are listed either per principal (one call per user and group) or per permission
set (one call per permission set to find the accounts it is provisioned to, then one per
(permission set, account) pair). The per-principal cost is known once users and groups are
listed; the per-permission-set cost is only known after listing every permission set's
accounts, which costs one call per permission set, wasted when the principal route wins. So
the accounts of a *sample* of permission sets are listed, the rest estimated, and more are
listed only while the expected cost of a wrong choice exceeds the calls another sample costs.
A wrong choice costs calls, never completeness: both routes read every assignment.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

PRINCIPAL = "principal"
PERMISSION_SET = "permission-set"
SAMPLE = 10  # permission sets priced per round; instances with up to 2 x SAMPLE are priced whole
# A spread estimated from a few permission sets is itself uncertain: another round is priced
# while the expected loss exceeds a quarter of its calls (simulated on `large`-like instances:
# 2 wrong choices in 300 instead of 11, for the same calls on average).
CAUTION = 4.0


def sample_order(arns: Sequence[str]) -> list[str]:
    """Permission sets in a fixed order unrelated to creation time, so a sample is not biased
    towards the oldest ones, and a resumed run samples the same ones."""
    return sorted(arns, key=lambda arn: hashlib.sha256(arn.encode()).digest())


def next_sample(total: int, priced: int) -> int:
    """How many permission sets to price next (0 when all are)."""
    if priced >= total:
        return 0
    return total - priced if total <= 2 * SAMPLE else min(SAMPLE, total - priced)


@dataclass(frozen=True)
class Price:
    """The remaining calls each route needs; `spread` is the estimate's standard error."""

    principal: float
    permission_set: float
    spread: float

    def regret(self) -> float:
        """Expected calls lost by taking the route that looks cheaper (normal loss function)."""
        if self.spread <= 0:
            return 0.0
        z = abs(self.permission_set - self.principal) / self.spread
        density = math.exp(-z * z / 2) / math.sqrt(2 * math.pi)
        tail = 0.5 * math.erfc(z / math.sqrt(2))
        return self.spread * (density - z * tail)

    def cheaper(self) -> str:
        return PRINCIPAL if self.principal < self.permission_set else PERMISSION_SET


def price(principals: int, permission_sets: int, sampled_accounts: Sequence[int]) -> Price:
    """Remaining calls per route after listing the accounts of `len(sampled_accounts)` of
    `permission_sets` permission sets (each entry: how many accounts one is provisioned to)."""
    priced = len(sampled_accounts)
    rest = permission_sets - priced
    known = float(sum(sampled_accounts))
    if priced == 0:
        return Price(float(principals), float(permission_sets), math.inf)
    mean = known / priced
    variance = sum((n - mean) ** 2 for n in sampled_accounts) / (priced - 1) if priced > 1 else mean * mean
    # Estimating the total of the `rest` unpriced ones from `priced` drawn without replacement.
    spread = rest * math.sqrt(variance / priced * (rest / max(1, permission_sets - 1))) if rest else 0.0
    return Price(float(principals), known + rest * (1 + mean), spread)


def choose(principals: int, permission_sets: int, sampled_accounts: Sequence[int]) -> str | None:
    """The route to take, or None when pricing more permission sets is worth its calls."""
    priced = len(sampled_accounts)
    # The listings still ahead alone cost more than every principal: no estimate can change that.
    if principals <= permission_sets - priced + sum(sampled_accounts):
        return PRINCIPAL
    estimate = price(principals, permission_sets, sampled_accounts)
    more = next_sample(permission_sets, priced)
    if more == 0 or estimate.regret() * CAUTION <= more:
        return estimate.cheaper()
    return None
