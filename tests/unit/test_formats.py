"""Do pages write a number the same way wherever it appears?"""

from decimal import Decimal

from portal.formats import money, price, quantity


def test_amounts_are_to_the_cent_with_thousands_separators():
    assert money(Decimal("1201.3")) == "1,201.30"
    assert money(Decimal("12.013")) == "12.01"
    assert money("1441.5600") == "1,441.56"
    assert money(None) == "—"


def test_prices_keep_digits_finer_than_a_cent():
    assert price(Decimal("1201.3")) == "1,201.30"
    assert price(Decimal("12.3450000000")) == "12.345"
    assert price("50") == "50.00"


def test_quantities_are_exact():
    assert quantity(Decimal("1200.0000000000")) == "1,200"
    assert quantity("1.000057") == "1.000057"
    assert quantity(Decimal("0.5")) == "0.5"
