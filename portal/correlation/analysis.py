"""The statistics behind /correlation: pure numpy/scipy, no database, no Flask.

Definitions (the API contract, see the README):
- returns are simple daily returns r_t = c_t / c_{t-1} - 1 on consecutive dates where EVERY
  requested symbol has a close (the inner join of their dates); the last `lookback` are used;
- pearson is numpy's corrcoef; spearman is the Pearson correlation of average ranks (what
  scipy's spearmanr computes); kendall is tau-b, which handles ties (what scipy's
  kendalltau computes), all three for every pair at once in numpy;
- sigma is the sample standard deviation (ddof=1), Sigma the sample covariance of those
  returns.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from itertools import combinations

import numpy as np

from portal.market.queries import CloseSeries, aligned_closes

METHODS = ("pearson", "spearman", "kendall")


class NotEnoughData(ValueError):
    """A symbol cannot support the requested computation; the message names it."""

    def __init__(self, symbol: str, message: str):
        super().__init__(message)
        self.symbol = symbol


@dataclass(frozen=True)
class AlignedReturns:
    symbols: list[str]
    returns: np.ndarray  # shape (lookback, len(symbols)), oldest first
    as_of: date  # the date of the last return used


@dataclass(frozen=True)
class Pair:
    first: str
    second: str
    correlation: float


@dataclass(frozen=True)
class Analysis:
    average_correlation: float
    most_correlated: Pair
    least_correlated: Pair
    pairs_above_threshold: list[Pair]
    diversification_ratio: float
    effective_number_of_assets: float
    clusters: list[list[str]]


def aligned_returns(
    history: Mapping[str, CloseSeries | Mapping[date, Decimal | float]],
    symbols: Sequence[str],
    lookback: int,
) -> AlignedReturns:
    """The last `lookback` simple returns on the dates every symbol has a close."""
    for symbol in symbols:
        available = max(len(history[symbol]) - 1, 0)
        if available < lookback:
            raise NotEnoughData(
                symbol, f"symbol {symbol}: only {available} daily returns, need {lookback}"
            )
    days, closes = aligned_closes(history, symbols)
    available = max(len(days) - 1, 0)
    if available < lookback:
        # Each symbol has enough on its own; name the one whose dates line up worst.
        limiting = min(symbols, key=lambda s: len(history[s]))
        raise NotEnoughData(
            limiting,
            f"symbol {limiting}: only {available} daily returns on dates shared with "
            f"{', '.join(s for s in symbols if s != limiting)}, need {lookback}",
        )
    closes = closes[-(lookback + 1):]
    returns = closes[1:] / closes[:-1] - 1.0
    flat = np.ptp(returns, axis=0) == 0
    if flat.any():
        symbol = symbols[int(np.argmax(flat))]
        raise NotEnoughData(
            symbol, f"symbol {symbol}: its price does not move over the last {lookback} "
            "days, so its correlation is undefined",
        )
    return AlignedReturns(list(symbols), returns, days[-1].item())


def correlation_matrix(returns: np.ndarray, method: str) -> np.ndarray:
    """A symmetric matrix with an exact 1.0 diagonal."""
    if method == "pearson":
        matrix = np.corrcoef(returns, rowvar=False)
    elif method == "spearman":
        matrix = np.corrcoef(average_ranks(returns), rowvar=False)
    elif method == "kendall":
        matrix = kendall_tau_b(returns)
    else:
        raise ValueError(f"unknown method {method!r}")
    matrix = np.clip((matrix + matrix.T) / 2.0, -1.0, 1.0)
    np.fill_diagonal(matrix, 1.0)
    return matrix


def _sorted_runs(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each column's sort order, and for the sorted values where a run of equal ones starts."""
    order = np.argsort(values, axis=0, kind="stable")
    ordered = np.take_along_axis(values, order, axis=0)
    starts = np.ones(values.shape, dtype=bool)
    starts[1:] = ordered[1:] != ordered[:-1]
    return order, starts


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n down each column, tied values sharing the mean of their ranks."""
    n = values.shape[0]
    order, starts = _sorted_runs(values)
    position = np.arange(n)[:, None]
    first = np.maximum.accumulate(np.where(starts, position, 0), axis=0)
    ends = np.ones(values.shape, dtype=bool)
    ends[:-1] = starts[1:]
    last = np.minimum.accumulate(np.where(ends, position, n - 1)[::-1], axis=0)[::-1]
    ranks = np.empty(values.shape)
    np.put_along_axis(ranks, order, (first + last) / 2.0 + 1.0, axis=0)
    return ranks


def dense_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 0, 1, 2... down each column, equal values sharing one: order kept exactly, and
    small integers that float32 holds without loss."""
    order, starts = _sorted_runs(values)
    ranks = np.empty(values.shape, dtype=np.float32)
    np.put_along_axis(ranks, order, (np.cumsum(starts, axis=0) - 1).astype(np.float32), axis=0)
    return ranks


def kendall_tau_b(values: np.ndarray, block_elements: int = 1 << 22) -> np.ndarray:
    """Kendall's tau-b of every pair of columns at once.

    With s_x(j, l) = sign(x_l - x_j) over the pairs j < l (0 for a tie), tau-b of x and y is
    sum(s_x s_y) / sqrt(sum(s_x^2) sum(s_y^2)): concordant minus discordant pairs over the
    geometric mean of the pairs untied in each. So with S the sign matrix (one row per pair,
    one column per variable) every tau is an entry of S^T S, normalised by its diagonal. S is
    built and multiplied a block of rows at a time, on float32 dense ranks: signs and counts
    (below 2^24 per block) are exact in float32, the totals add up in float64.
    """
    n, k = values.shape
    ranks = dense_ranks(values)
    concordance = np.zeros((k, k))
    rows = max(1, block_elements // (n * k))
    # One buffer for every block: a fresh 16 MB array per block costs a page fault per page
    # on a cold request, a good part of its time.
    buffer = np.empty(rows * (n - 1) * k, dtype=np.float32)
    for start in range(0, n - 1, rows):
        stop = min(start + rows, n - 1)
        # Row j of the block against every later row l > j: rows start+1 .. n-1, with the
        # pairs l <= j (inside the block) zeroed.
        signs = buffer[:(stop - start) * (n - start - 1) * k].reshape(stop - start, -1, k)
        np.subtract(ranks[None, start + 1:, :], ranks[start:stop, None, :], out=signs)
        # The differences of dense ranks are whole numbers, so clipping them to [-1, 1] is
        # their sign; np.sign branches on every element and costs ~20x more on the
        # unpredictable signs of real returns.
        np.clip(signs, -1.0, 1.0, out=signs)
        for row in range(1, stop - start):
            signs[row, :row, :] = 0.0
        flat = signs.reshape(-1, k)
        concordance += flat.T @ flat
    untied = np.sqrt(np.diag(concordance))
    return concordance / np.outer(untied, untied)


def _upper_pairs(symbols: Sequence[str], matrix: np.ndarray) -> list[Pair]:
    return [
        Pair(symbols[i], symbols[j], float(matrix[i, j]))
        for i, j in combinations(range(len(symbols)), 2)
    ]


def diversification_ratio(returns: np.ndarray, weights: np.ndarray) -> float:
    """sum(w_i sigma_i) / sigma_p with sigma_p = sqrt(w' Sigma w); 1 means no diversification."""
    weights = weights / weights.sum()
    covariance = np.atleast_2d(np.cov(returns, rowvar=False, ddof=1))
    sigmas = np.sqrt(np.diag(covariance))
    portfolio_sigma = float(np.sqrt(weights @ covariance @ weights))
    return float(weights @ sigmas) / portfolio_sigma


def effective_number_of_assets(matrix: np.ndarray) -> float:
    """(sum of eigenvalues)^2 / (sum of squared eigenvalues) of the correlation matrix:
    k when nothing is correlated, 1 when everything moves as one."""
    eigenvalues = np.linalg.eigvalsh(matrix)
    return float(eigenvalues.sum() ** 2 / np.square(eigenvalues).sum())


def clusters(symbols: Sequence[str], matrix: np.ndarray, threshold: float) -> list[list[str]]:
    """Average-linkage clusters on the distance 1 - rho, cut at 1 - threshold.

    Clusters and their members keep the order of `symbols`.
    """
    # Imported here: scipy is large, and only the analysis needs it (RSS of every worker).
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    distance = np.clip(1.0 - matrix, 0.0, 2.0)
    np.fill_diagonal(distance, 0.0)
    tree = linkage(squareform(distance, checks=False), method="average")
    labels = fcluster(tree, t=1.0 - threshold, criterion="distance")
    groups: dict[int, list[str]] = {}
    for symbol, label in zip(symbols, labels, strict=True):
        groups.setdefault(int(label), []).append(symbol)
    return list(groups.values())


def analyse(
    symbols: Sequence[str],
    returns: np.ndarray,
    matrix: np.ndarray,
    weights: np.ndarray,
    threshold: float,
) -> Analysis:
    pairs = _upper_pairs(symbols, matrix)
    # Ties keep the first pair in symbol order, so the answer is stable.
    most = max(pairs, key=lambda pair: pair.correlation)
    least = min(pairs, key=lambda pair: pair.correlation)
    above = sorted(
        (pair for pair in pairs if pair.correlation >= threshold),
        key=lambda pair: pair.correlation,
        reverse=True,
    )
    return Analysis(
        average_correlation=float(np.mean([pair.correlation for pair in pairs])),
        most_correlated=most,
        least_correlated=least,
        pairs_above_threshold=above,
        diversification_ratio=diversification_ratio(returns, weights),
        effective_number_of_assets=effective_number_of_assets(matrix),
        clusters=clusters(symbols, matrix, threshold),
    )
