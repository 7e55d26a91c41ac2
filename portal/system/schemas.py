"""The JSON shape of /api/status."""

from pydantic import BaseModel, ConfigDict


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class TenantOut(_Out):
    name: str
    slug: str
    plan: str


class UserOut(_Out):
    id: str
    email: str
    name: str


class StatusOut(_Out):
    tenant: TenantOut
    user: UserOut
    role: str
    permissions: list[str]
    open_alerts: int
    pending_orders: int
    version: str
    database: str

    @classmethod
    def of(cls, status) -> "StatusOut":
        return cls.model_validate(status)
