"""Correlation results: which symbols, which weights, and a per-tenant result cache.

Nothing here writes to the database; this is where the rules live (the default symbol set,
the weighting, what counts as bad input) and where results are cached.
"""

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import numpy as np

from portal.correlation import analysis as stats
from portal.correlation import queries
from portal.correlation.schemas import AnalysisQuery, MatrixQuery
from portal.errors import InvalidInput
from portal.market.services import prices_imported
from portal.metrics import services as metrics
from portal.tenancy import session


@dataclass(frozen=True)
class MatrixResult:
    symbols: list[str]
    matrix: np.ndarray
    method: str
    lookback_days: int
    as_of: date


@dataclass(frozen=True)
class AnalysisResult(MatrixResult):
    threshold: float
    analysis: stats.Analysis
    weighting: str  # "market_value" or "equal"
    weights: list[float]


class ResultCache:
    """A small in-process LRU cache whose entries also expire after `ttl` seconds.

    Callers put the tenant id first in every key (see `_key`): a result computed for one
    tenant's holdings is never served to another tenant.
    """

    def __init__(self, max_entries: int = 256, ttl: float = 300.0):
        self.max_entries = max_entries
        self.ttl = ttl
        self._entries: OrderedDict[Hashable, tuple[float, object]] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_compute(self, key: Hashable, compute: Callable[[], object]):
        now = time.monotonic()
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None and hit[0] > now:
                self._entries.move_to_end(key)
                return hit[1]
        value = compute()
        with self._lock:
            self._entries[key] = (now + self.ttl, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return value

    def keys(self) -> list[Hashable]:
        with self._lock:
            return list(self._entries)

    def clear(self, *_args, **_kwargs) -> None:
        with self._lock:
            self._entries.clear()


cache = ResultCache()
# Newly imported closes change results; in other processes the prices version in the key
# does (every write to prices raises it).
prices_imported.connect(cache.clear, weak=False)


def _key(kind: str, symbols: list[str], version: int, *parts: Hashable) -> tuple:
    return (session.tenant_id, kind, tuple(symbols), version, *parts)


def _bad_symbols(message: str) -> InvalidInput:
    return InvalidInput(message, field="symbols")


def resolve_symbols(query: MatrixQuery, held: dict[str, Decimal]) -> list[str]:
    """The requested symbols, or the tenant's holdings (quantity > 0) when none are named."""
    if query.symbols is None:
        if len(held) < 2:
            raise _bad_symbols(
                "symbols: your organisation holds fewer than two instruments; "
                "name at least two symbols to compare"
            )
        return list(held)
    unknown = queries.unknown_symbols(query.symbols)
    if unknown:
        raise _bad_symbols(f"symbols: unknown symbol {', '.join(unknown)}")
    return query.symbols


def _aligned(symbols: list[str], lookback: int, version: int) -> stats.AlignedReturns:
    try:
        return stats.aligned_returns(queries.close_history(symbols, version), symbols, lookback)
    except stats.NotEnoughData as exc:
        raise _bad_symbols(str(exc))


def _frozen(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False  # shared through the cache
    return array


def correlation_matrix(query: MatrixQuery) -> MatrixResult:
    symbols = resolve_symbols(query, metrics.long_positions() if query.symbols is None else {})
    version = queries.prices_version()

    def compute() -> MatrixResult:
        aligned = _aligned(symbols, query.lookback_days, version)
        matrix = stats.correlation_matrix(aligned.returns, query.method)
        return MatrixResult(symbols, _frozen(matrix), query.method, query.lookback_days,
                            aligned.as_of)

    key = _key("matrix", symbols, version, query.lookback_days, query.method)
    return cache.get_or_compute(key, compute)


def portfolio_weights(symbols: list[str], held: dict[str, Decimal]) -> tuple[str, list[float]]:
    """Market-value weights (latest close x quantity) when every symbol is held, else equal
    weights: a comparison of instruments the desk does not hold has no market values."""
    closes = queries.latest_closes(symbols) if all(s in held for s in symbols) else {}
    if closes and all(symbol in closes for symbol in symbols):
        values = [float(held[symbol] * closes[symbol]) for symbol in symbols]
        total = sum(values)
        return "market_value", [value / total for value in values]
    return "equal", [1.0 / len(symbols)] * len(symbols)


def correlation_analysis(query: AnalysisQuery) -> AnalysisResult:
    held = metrics.long_positions()
    symbols = resolve_symbols(query, held)
    weighting, weights = portfolio_weights(symbols, held)
    version = queries.prices_version()

    def compute() -> AnalysisResult:
        aligned = _aligned(symbols, query.lookback_days, version)
        matrix = stats.correlation_matrix(aligned.returns, query.method)
        result = stats.analyse(symbols, aligned.returns, matrix, np.array(weights),
                               query.threshold)
        return AnalysisResult(symbols, _frozen(matrix), query.method, query.lookback_days,
                              aligned.as_of, query.threshold, result, weighting, weights)

    key = _key("analysis", symbols, version, query.lookback_days, query.method,
               query.threshold, weighting, tuple(weights))
    return cache.get_or_compute(key, compute)
