"""Does a symbol mean the same thing in every input that takes one? One rule
(portal.market.schemas) serves order entry, the trade filters, correlation and price files."""

import io

import pytest
from pydantic import ValidationError

from portal.correlation.schemas import MatrixQuery
from portal.market.services import PriceFileError, parse_price_rows
from portal.trades.schemas import OrderRequest, TradeFilters


def order(symbol: str) -> OrderRequest:
    return OrderRequest.model_validate({"symbol": symbol, "side": "buy", "quantity": "1",
                                        "order_type": "market"})


def price_file(symbol: str):
    return parse_price_rows(io.StringIO(f"date,symbol,close\n2024-05-01,{symbol},10\n"))


@pytest.mark.parametrize("raw", ["aapl", " AAPL ", "brk.b", "BF-B"])
def test_a_ticker_is_read_alike_by_every_input(raw):
    expected = raw.strip().upper()
    assert order(raw).symbol == expected
    assert TradeFilters.from_args({"symbol": raw}).symbol == expected
    assert MatrixQuery.from_args({"symbols": f"{raw},MSFT"}).symbols == [expected, "MSFT"]
    assert price_file(raw.strip())[0][1] == expected


@pytest.mark.parametrize("raw", ["1ABC", "AAPL;DROP", "A" * 17, "-X"])
def test_what_is_not_a_ticker_is_refused_by_every_input(raw):
    with pytest.raises(ValidationError):
        order(raw)
    with pytest.raises(ValidationError):
        TradeFilters.from_args({"symbol": raw})
    with pytest.raises(ValidationError):
        MatrixQuery.from_args({"symbols": f"{raw},MSFT"})
    with pytest.raises(PriceFileError):
        price_file(raw)


def test_the_closes_cache_moves_only_forward(monkeypatch):
    """A request still reading an older prices version gets its closes from the database
    without emptying the cache of the newer one."""
    import numpy as np

    from portal.market import queries as market

    reads = []

    def read(_db, symbols):
        reads.append(list(symbols))
        return {s: market.CloseSeries(np.array([], dtype="datetime64[D]"), np.array([]))
                for s in symbols}

    monkeypatch.setattr(market, "_read_closes", read)
    cache = market.ClosesCache()
    cache.series(None, ["AAA"], version=2)
    cache.series(None, ["AAA"], version=1)  # an older snapshot: read, not cached
    cache.series(None, ["AAA"], version=2)  # still cached
    cache.series(None, ["AAA"], version=3)  # an import since: read again
    assert reads == [["AAA"], ["AAA"], ["AAA"]]
