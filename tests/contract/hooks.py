"""Loaded by schemathesis (SCHEMATHESIS_HOOKS) in the contract runs: the tenant check.

`PORTAL_CONTRACT_FOREIGN_IDS` names a file with the ids (one per line) of everything the other
tenant owns, and the tenants' own ids: none of them may appear in any answer, and no answer
may carry a `tenant_id` at all.
"""

import os
from functools import cache
from pathlib import Path

import schemathesis


@cache
def foreign_ids() -> frozenset[str]:
    path = os.environ.get("PORTAL_CONTRACT_FOREIGN_IDS")
    if not path:
        raise RuntimeError("PORTAL_CONTRACT_FOREIGN_IDS must name the other tenant's id file")
    return frozenset(line.strip() for line in Path(path).read_text().splitlines()
                     if line.strip())


def tenant_leaks(text: str, forbidden: frozenset[str]) -> list[str]:
    """What in an answer's text crosses the tenant line; empty when nothing does."""
    leaks = ["tenant_id"] if "tenant_id" in text else []
    return leaks + sorted(i for i in forbidden if i in text)


@schemathesis.check
def no_other_tenants_data(ctx, response, case):
    """No answer names another tenant's objects or carries a tenant_id."""
    leaks = tenant_leaks(response.text or "", foreign_ids())
    if leaks:
        raise AssertionError(f"the answer crosses the tenant line: {leaks[:5]}")
