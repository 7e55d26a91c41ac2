"""How pages write numbers, the same in every table, card and confirmation.

JSON keeps exact decimal strings (`portal.db.decimal_string`); people read amounts to the cent
with thousands separators, prices to the cent or to every digit they were given, and
quantities exactly, also with separators.
"""

from decimal import Decimal

from portal.db import plain_decimal

MISSING = "—"


def _decimal(value) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def money(value) -> str:
    """An amount (value, notional, fee, P&L): 1,201.30."""
    return MISSING if value is None else f"{_decimal(value):,.2f}"


def price(value) -> str:
    """A price: to the cent, or every digit of a finer limit (12.345 stays 12.345)."""
    if value is None:
        return MISSING
    exact = plain_decimal(_decimal(value))
    return f"{exact:,.2f}" if exact.as_tuple().exponent >= -2 else f"{exact:,f}"


def quantity(value) -> str:
    """A quantity, exactly: 1,200 or 0.5."""
    return MISSING if value is None else f"{plain_decimal(_decimal(value)):,f}"


def register(app) -> None:
    for formatter in (money, price, quantity):
        app.add_template_filter(formatter)
