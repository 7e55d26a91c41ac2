"""The statistics behind /correlation: pure numpy/scipy, no database, no Flask.

Definitions (the API contract, see the README):
- returns are simple daily returns r_t = c_t / c_{t-1} - 1 on consecutive dates where EVERY
  requested symbol has a close (the inner join of their dates); the last `lookback` are used;
- pearson is numpy's corrcoef, spearman is scipy's spearmanr, kendall is scipy's kendalltau
  (tau-b, which handles ties);
- sigma is the sample standard deviation (ddof=1), Sigma the sample covariance of those
  returns.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from itertools import combinations

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform
from scipy.stats import kendalltau, spearmanr

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
    history: Mapping[str, Mapping[date, Decimal | float]],
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
    common = set.intersection(*(set(history[symbol]) for symbol in symbols))
    available = max(len(common) - 1, 0)
    if available < lookback:
        # Each symbol has enough on its own; name the one whose dates line up worst.
        limiting = min(symbols, key=lambda s: len(history[s]))
        raise NotEnoughData(
            limiting,
            f"symbol {limiting}: only {available} daily returns on dates shared with "
            f"{', '.join(s for s in symbols if s != limiting)}, need {lookback}",
        )
    days = sorted(common)[-(lookback + 1):]
    closes = np.array(
        [[float(history[symbol][day]) for symbol in symbols] for day in days], dtype=float
    )
    returns = closes[1:] / closes[:-1] - 1.0
    flat = np.ptp(returns, axis=0) == 0
    if flat.any():
        symbol = symbols[int(np.argmax(flat))]
        raise NotEnoughData(
            symbol, f"symbol {symbol}: its price does not move over the last {lookback} "
            "days, so its correlation is undefined",
        )
    return AlignedReturns(list(symbols), returns, days[-1])


def correlation_matrix(returns: np.ndarray, method: str) -> np.ndarray:
    """A symmetric matrix with an exact 1.0 diagonal."""
    k = returns.shape[1]
    if method == "pearson":
        matrix = np.corrcoef(returns, rowvar=False)
    elif method == "spearman":
        statistic = spearmanr(returns).statistic
        # With two columns scipy answers the single coefficient, not a matrix.
        matrix = (
            np.array([[1.0, statistic], [statistic, 1.0]]) if k == 2 else np.asarray(statistic)
        )
    elif method == "kendall":
        matrix = np.eye(k)
        for i, j in combinations(range(k), 2):
            tau = kendalltau(returns[:, i], returns[:, j], variant="b").statistic
            matrix[i, j] = matrix[j, i] = tau
    else:
        raise ValueError(f"unknown method {method!r}")
    matrix = np.clip((matrix + matrix.T) / 2.0, -1.0, 1.0)
    np.fill_diagonal(matrix, 1.0)
    return matrix


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
