"""Does the one-statement token check pick the membership of the token's own tenant, even
without the tenant-bound session's filter?

A user may belong to several organisations. If the statement joined the membership on the
user alone, a token for an organisation the user has left would borrow the membership (and
role) of another one whenever the ORM filter was missing.
"""

from portal import tenancy
from portal.auth.queries import find_user, token_standing


def test_a_member_of_one_tenant_has_no_standing_in_another_with_the_filter_off(
    app, tenant_a, tenant_b, orm_filter_off
):
    with app.app_context():
        viewer = find_user("viewer@acme.test")  # a member of acme only
        assert viewer is not None
        with tenancy.tenant_session_scope(tenant_b.id) as db:
            standing = token_standing(db, viewer.id, None)
            assert standing.tenant is not None and standing.tenant.id == tenant_b.id
            assert standing.membership is None
        with tenancy.tenant_session_scope(tenant_a.id) as db:
            standing = token_standing(db, viewer.id, None)
            assert standing.membership is not None
            assert standing.membership.tenant_id == tenant_a.id
