"""Independent reference computations the tests compare the portal's figures with.

Written with the standard library only (not the numpy code under test), from the
definitions in the README.
"""

import itertools
import math
import statistics


def risk_figures(values: list[float]) -> dict:
    """The risk figures of a daily value series (risk-free rate 0, 252 days a year)."""
    returns = [b / a - 1 for a, b in itertools.pairwise(values)]
    mean, stdev = statistics.fmean(returns), statistics.stdev(returns)
    p5 = statistics.quantiles(returns, n=20, method="inclusive")[0]
    peak, max_dd = values[0], 0.0
    for value in values:
        peak = max(peak, value)
        max_dd = max(max_dd, 1 - value / peak)
    downside = math.sqrt(statistics.fmean(min(r, 0.0) ** 2 for r in returns))
    return {
        "observations": len(returns),
        "annualized_return": mean * 252,
        "volatility": stdev * math.sqrt(252),
        "var_95": -p5,
        "cvar_95": -statistics.fmean(r for r in returns if r <= p5),
        "max_drawdown": max_dd,
        "sharpe_ratio": mean / stdev * math.sqrt(252),
        "sortino_ratio": mean * 252 / (downside * math.sqrt(252)),
        "calmar_ratio": mean * 252 / max_dd,
    }
