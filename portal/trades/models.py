import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, ForeignKeyConstraint, Index, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, Money, TenantScoped, UTCDateTime, new_id, utcnow

SIDES = ("buy", "sell")
ORDER_TYPES = ("market", "limit")
STATUSES = ("pending", "filled", "cancelled", "rejected")
FINISHED_STATUSES = ("filled", "cancelled", "rejected")


class Trade(TenantScoped, Base):
    """An order and, once filled, the trade it became."""

    __tablename__ = "trades"
    __table_args__ = (
        Index("ix_trades_tenant_created", "tenant_id", "created_at", "id"),
        Index("ix_trades_tenant_status_created", "tenant_id", "status", "created_at"),
        Index("ix_trades_tenant_symbol_created", "tenant_id", "symbol", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    symbol: Mapped[str] = mapped_column(String(16), ForeignKey("instruments.symbol"))
    side: Mapped[str] = mapped_column(String(4))
    quantity: Mapped[Decimal] = mapped_column(Money)
    order_type: Mapped[str] = mapped_column(String(8))
    limit_price: Mapped[Decimal | None] = mapped_column(Money)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    fill_price: Mapped[Decimal | None] = mapped_column(Money)
    fee: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id"))
    filled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reject_reason: Mapped[str | None] = mapped_column(String(200))

    fills: Mapped[list["Fill"]] = relationship(
        back_populates="trade", order_by="Fill.executed_at", cascade="all, delete-orphan"
    )

    @property
    def notional(self) -> Decimal | None:
        return notional(self.fill_price, self.quantity)


def notional(fill_price: Decimal | None, quantity: Decimal) -> Decimal | None:
    """What the fill cost or raised before the fee; None until the order fills."""
    if fill_price is None:
        return None
    return fill_price * quantity


class TradeRow:
    """One trade of a list page as a plain row (no ORM object), with the trade's notional."""

    __slots__ = ("row",)

    def __init__(self, row):
        self.row = row

    def __getattr__(self, name: str):
        return getattr(self.row, name)

    @property
    def notional(self) -> Decimal | None:
        return notional(self.row.fill_price, self.row.quantity)


class Fill(TenantScoped, Base):
    """An execution of a trade. Its composite key to `trades` cannot cross tenants."""

    __tablename__ = "fills"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "trade_id"], ["trades.tenant_id", "trades.id"], ondelete="CASCADE"
        ),
        Index("ix_fills_tenant_trade", "tenant_id", "trade_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    trade_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    price: Mapped[Decimal] = mapped_column(Money)
    quantity: Mapped[Decimal] = mapped_column(Money)
    fee: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    executed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    trade: Mapped[Trade] = relationship(back_populates="fills")
