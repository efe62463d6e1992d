"""Pricing the two assignment routes from a sample of permission sets (core.route_price)."""

from __future__ import annotations

import random

import pytest

from awsideman.core.route_price import PERMISSION_SET, PRINCIPAL, SAMPLE, choose, next_sample, price, sample_order


def test_small_instances_are_priced_whole_and_compared_exactly():
    assert next_sample(6, 0) == 6 and next_sample(2 * SAMPLE, 0) == 2 * SAMPLE
    assert next_sample(100, 0) == SAMPLE and next_sample(100, 95) == 5 and next_sample(100, 100) == 0
    # Everything priced: fewer principals than (permission set, account) pairs -> principal.
    assert choose(10, 4, [3, 3, 3, 2]) == PRINCIPAL
    assert choose(12, 4, [3, 3, 3, 2]) == PERMISSION_SET


def test_fewer_principals_than_the_listings_left_needs_no_estimate():
    # 90 permission sets still to list cost more calls than 50 principals, whatever they hold.
    assert choose(50, 100, [0] * 10) == PRINCIPAL


def test_a_clear_difference_is_decided_on_the_first_sample():
    assert choose(5000, 100, [5] * 10) == PERMISSION_SET      # ~600 calls vs 5000
    assert choose(2200, 100, [40, 38, 42, 41, 39, 40, 40, 41, 39, 40]) == PRINCIPAL


def test_a_close_call_prices_more_permission_sets_until_it_is_worth_deciding():
    noisy = [10, 35, 20, 28, 14, 30, 22, 18, 25, 26]  # mean 22.8: 2370 calls vs 2200, wide spread
    assert choose(2200, 100, noisy) is None
    estimate = price(2200, 100, noisy)
    assert estimate.permission_set == pytest.approx(228 + 90 * 23.8)
    assert estimate.regret() > 0
    assert choose(2200, 100, noisy * 10) == PRINCIPAL  # all priced: exact


def test_regret_shrinks_with_the_distance_between_the_routes():
    from awsideman.core.route_price import Price

    assert Price(100, 200, 0.0).regret() == 0.0
    near, far = Price(100, 110, 50.0).regret(), Price(100, 300, 50.0).regret()
    assert near > far > 0


def test_the_sample_order_is_fixed_and_ignores_creation_order():
    arns = [f"arn:aws:sso:::permissionSet/ssoins-1/ps-{i:04d}" for i in range(50)]
    shuffled = random.Random(3).sample(arns, len(arns))
    assert sample_order(arns) == sample_order(shuffled)
    assert sample_order(arns)[:SAMPLE] != arns[:SAMPLE]


def test_on_random_instances_sampling_costs_fewer_calls_than_pricing_everything():
    """The claim in the module doc, on `large`-like instances (100 sets x 50 accounts)."""
    rng = random.Random(1)
    sampled_total = whole_total = 0
    for _ in range(40):
        pairs = {(rng.randrange(100), rng.randrange(50)) for _ in range(3000)}
        accounts = [sum(1 for ps, _ in pairs if ps == i) for i in range(100)]
        priced = 0
        while True:
            priced += next_sample(100, priced)
            route = choose(2200, 100, accounts[:priced])
            if route is not None:
                break
        rest = 100 - priced
        sampled_total += priced + (2200 if route == PRINCIPAL else rest + len(pairs))
        whole_total += 100 + min(2200, len(pairs))
    assert sampled_total < whole_total * 0.97
