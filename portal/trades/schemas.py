"""Order input, list filters and the trade JSON shape.

Quantities and prices are `Decimal` from the request to the database and back; JSON carries
them as strings so no digit is lost to a float on either side.
"""

import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationInfo,
    field_validator,
)

from portal.db import decimal_string, plain_decimal
from portal.market.schemas import Symbol
from portal.pagination import PageOut
from portal.times import TimeRange, UtcText
from portal.trades.models import notional

# Money columns hold 28 digits, 10 after the point: input is capped so storage stays exact.
Quantity = Annotated[
    Decimal, Field(gt=0, le=Decimal("1e12"), max_digits=28, decimal_places=10)
]
LimitPrice = Annotated[
    Decimal, Field(gt=0, le=Decimal("1e9"), max_digits=28, decimal_places=10)
]
DecimalText = Annotated[Decimal, PlainSerializer(decimal_string, return_type=str)]


class OrderRequest(BaseModel):
    """`POST /api/trades` and the order form. The symbol is checked against instruments by
    the service, which has the database."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    symbol: Symbol
    side: Literal["buy", "sell"]
    quantity: Quantity
    order_type: Literal["market", "limit"]
    limit_price: LimitPrice | None = Field(default=None, validate_default=True)

    @field_validator("side", "order_type", mode="before")
    @classmethod
    def _lower(cls, value):
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("quantity", "limit_price")
    @classmethod
    def _plain(cls, value: Decimal | None) -> Decimal | None:
        return None if value is None else plain_decimal(value)

    @field_validator("limit_price")
    @classmethod
    def _limit_price_matches_type(cls, value: Decimal | None, info: ValidationInfo):
        order_type = info.data.get("order_type")
        if order_type == "limit" and value is None:
            raise ValueError("a limit order needs a limit price")
        if order_type == "market" and value is not None:
            raise ValueError(
                "a market order takes no limit price: clear it or choose a limit order")
        return value


    @classmethod
    def from_form(cls, form) -> "OrderRequest":
        """The order fields of an HTML form; an empty limit price means "none" there."""
        data = {name: form.get(name, "") for name in cls.model_fields}
        if not data["limit_price"].strip():
            data["limit_price"] = None
        return cls.model_validate(data)


class TradeFilters(TimeRange):
    """Query-string filters of the trade lists. Unknown values answer 400, naming the field."""

    model_config = ConfigDict(str_strip_whitespace=True)

    symbol: Symbol | None = None
    side: Literal["buy", "sell"] | None = None
    status: Literal["pending", "filled", "cancelled", "rejected"] | None = None

    @field_validator("symbol", "side", "status", mode="before")
    @classmethod
    def _blank_is_none(cls, value):
        return None if isinstance(value, str) and not value.strip() else value

    @classmethod
    def from_args(cls, args) -> "TradeFilters":
        return cls.model_validate({name: args.get(name) for name in cls.model_fields})


class FillOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    price: DecimalText
    quantity: DecimalText
    fee: DecimalText
    executed_at: UtcText


class TradeOut(BaseModel):
    """The trade JSON contract. Built from named attributes, so nothing else (such as the
    tenant) can slip in."""

    model_config = ConfigDict(from_attributes=True)

    @classmethod
    def of(cls, trade):
        """From a Trade, or a plain row of its columns (TradeRow)."""
        return cls.model_validate(trade)

    id: uuid.UUID
    symbol: str
    side: str
    quantity: DecimalText
    order_type: str
    limit_price: DecimalText | None
    status: str
    fill_price: DecimalText | None
    fee: DecimalText
    notional: DecimalText | None
    created_at: UtcText
    filled_at: UtcText | None
    cancelled_at: UtcText | None
    reject_reason: str | None
    created_by: uuid.UUID | None

    @staticmethod
    def json_fields(trade: Mapping) -> dict:
        """`of(trade)`'s JSON values, from the trade's values by name, without building the
        model (PageOut.json)."""
        quantity, fill_price = trade["quantity"], trade["fill_price"]
        return {
            "id": trade["id"],
            "symbol": trade["symbol"],
            "side": trade["side"],
            "quantity": decimal_string(quantity),
            "order_type": trade["order_type"],
            "limit_price": _decimal_or_none(trade["limit_price"]),
            "status": trade["status"],
            "fill_price": _decimal_or_none(fill_price),
            "fee": decimal_string(trade["fee"]),
            "notional": _decimal_or_none(notional(fill_price, quantity)),
            "created_at": trade["created_at"],
            "filled_at": trade["filled_at"],
            "cancelled_at": trade["cancelled_at"],
            "reject_reason": trade["reject_reason"],
            "created_by": trade["created_by"],
        }


def _decimal_or_none(value: Decimal | None) -> str | None:
    return None if value is None else decimal_string(value)


class TradeDetailOut(TradeOut):
    fills: list[FillOut]


def stored_answer(trade) -> dict:
    """A placed order's JSON as the idempotency record keeps it, to replay byte for byte."""
    return TradeOut.of(trade).model_dump(mode="json")


TradePageOut = PageOut[TradeOut]
