"""The JSON shape of /api/status."""

from pydantic import BaseModel


class TenantOut(BaseModel):
    name: str
    slug: str
    plan: str


class UserOut(BaseModel):
    id: str
    email: str
    name: str


class StatusOut(BaseModel):
    tenant: TenantOut
    user: UserOut
    role: str
    permissions: list[str]
    open_alerts: int
    pending_orders: int
    version: str
    database: str
