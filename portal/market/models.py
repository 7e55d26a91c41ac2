from datetime import date

from sqlalchemy import BigInteger, Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, Money


class Instrument(Base):
    """Shared reference data: what can be traded."""

    __tablename__ = "instruments"

    symbol: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    sector: Mapped[str] = mapped_column(String(64), default="")


class Price(Base):
    """Shared reference data: one daily close per instrument and trading day."""

    __tablename__ = "prices"

    symbol: Mapped[str] = mapped_column(
        String(16), ForeignKey("instruments.symbol"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    close: Mapped["Money"] = mapped_column(Money)


class DataVersion(Base):
    """Shared reference data: a counter per kind of shared data, raised by every change to it.

    `prices` goes up in the same transaction as any write to `prices`, so a process that
    caches closes (portal.market.queries) sees a change with one primary-key read, whichever
    process or command made it.
    """

    __tablename__ = "data_versions"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
