"""The API's per-tenant allowance (portal.ratelimits.TenantAllowance), without an app."""

import logging
import uuid

import pytest

from portal import ratelimits
from portal.ratelimits import TenantAllowance, TenantLimitExceeded

PLANS = {"starter": "2 per minute", "pro": "3 per minute"}


def spend(allowance, tenant, plan, times) -> list[bool]:
    answers = []
    for _ in range(times):
        try:
            allowance.spend(tenant, plan)
            answers.append(True)
        except TenantLimitExceeded as refusal:
            assert 0 < refusal.retry_after <= 60
            answers.append(False)
    return answers


def test_each_tenant_spends_its_own_plan():
    allowance = TenantAllowance("memory://", PLANS)
    starter, pro = uuid.uuid4(), uuid.uuid4()
    assert spend(allowance, starter, "starter", 3) == [True, True, False]
    assert spend(allowance, pro, "pro", 4) == [True, True, True, False]
    assert spend(allowance, uuid.uuid4(), None, 3) == [True, True, False]  # no plan: starter
    assert spend(allowance, uuid.uuid4(), "unknown", 3) == [True, True, False]


class Unreachable:
    def __init__(self):
        self.calls = 0

    def hit(self, *_args, **_kwargs):
        self.calls += 1
        raise ConnectionError("connection refused")


def test_an_unreachable_storage_counts_in_memory_then_is_tried_again(monkeypatch, caplog):
    allowance = TenantAllowance("memory://", PLANS)
    allowance.shared = Unreachable()
    clock = [1000.0]
    monkeypatch.setattr(ratelimits.time, "monotonic", lambda: clock[0])
    tenant = uuid.uuid4()
    with caplog.at_level(logging.WARNING, logger="portal.ratelimits"):
        assert spend(allowance, tenant, "starter", 3) == [True, True, False]
    assert allowance.shared.calls == 1  # not asked again while it is known to be down
    assert "counting in this process's memory" in caplog.records[0].getMessage()
    clock[0] += TenantAllowance.RETRY_SECONDS + 1
    spend(allowance, tenant, "starter", 1)
    assert allowance.shared.calls == 2


def test_without_a_fallback_the_storage_error_is_raised():
    allowance = TenantAllowance("memory://", PLANS, fallback=False)
    allowance.shared = Unreachable()
    with pytest.raises(ConnectionError):
        allowance.spend(uuid.uuid4(), "pro")
