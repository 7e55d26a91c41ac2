"""The correlation statistics on hand-made numbers whose answers are known exactly."""

from datetime import date, timedelta
from math import sqrt

import numpy as np
import pytest

from portal.correlation import analysis as stats


def days(count: int, start: date = date(2024, 1, 1)) -> list[date]:
    return [start + timedelta(days=offset) for offset in range(count)]


def history_of(closes_by_symbol: dict[str, list[float]], dates: list[date] | None = None):
    return {
        symbol: dict(zip(dates or days(len(closes)), closes, strict=True))
        for symbol, closes in closes_by_symbol.items()
    }


def test_returns_are_simple_close_to_close_returns_on_the_dates_every_symbol_has():
    d = days(5)
    history = {
        "AAA": {d[0]: 100.0, d[1]: 110.0, d[2]: 121.0, d[3]: 133.1, d[4]: 146.41},
        # No close on d[2]: the return from d[1] to d[3] is one step of the joined series.
        "BBB": {d[0]: 50.0, d[1]: 40.0, d[3]: 60.0, d[4]: 30.0},
    }
    aligned = stats.aligned_returns(history, ["AAA", "BBB"], 3)
    np.testing.assert_allclose(aligned.returns[:, 0], [0.10, 133.1 / 110 - 1, 0.10])
    np.testing.assert_allclose(aligned.returns[:, 1], [-0.2, 0.5, -0.5])
    assert aligned.as_of == d[4]


def test_the_common_days_of_many_symbols_are_the_days_all_of_them_have():
    from portal.market.queries import aligned_closes

    d = days(6)
    history = {symbol: {day: 100.0 + index for index, day in enumerate(d)}
               for symbol in ("AAA", "BBB", "CCC", "DDD")}
    del history["BBB"][d[1]], history["DDD"][d[4]]  # each misses another day
    history["CCC"][d[5] + timedelta(days=1)] = 1.0  # a day only CCC has
    common, closes = aligned_closes(history, ["AAA", "BBB", "CCC", "DDD"])
    assert [str(day) for day in common] == [str(d[0]), str(d[2]), str(d[3]), str(d[5])]
    np.testing.assert_array_equal(closes[:, 0], [100.0, 102.0, 103.0, 105.0])
    same, _ = aligned_closes({s: history["AAA"] for s in ("AAA", "EEE")}, ["AAA", "EEE"])
    assert len(same) == 6


def test_only_the_last_lookback_returns_are_used_and_as_of_is_the_last_common_date():
    d = days(6)
    history = {
        "AAA": dict(zip(d, [1.0, 2.0, 4.0, 6.0, 3.0, 6.0], strict=True)),
        "BBB": dict(zip(d[:5], [5.0, 4.0, 2.0, 3.0, 6.0], strict=True)),  # ends a day earlier
    }
    aligned = stats.aligned_returns(history, ["AAA", "BBB"], 2)
    np.testing.assert_allclose(aligned.returns, [[0.5, 0.5], [-0.5, 1.0]])
    assert aligned.as_of == d[4]


def test_a_symbol_with_too_few_closes_is_named_with_its_count():
    history = history_of({"AAA": list(np.linspace(1, 2, 50)), "SHORT": [1.0, 1.1, 1.2, 1.1]})
    with pytest.raises(stats.NotEnoughData) as caught:
        stats.aligned_returns(history, ["AAA", "SHORT"], 30)
    assert caught.value.symbol == "SHORT"
    assert str(caught.value) == "symbol SHORT: only 3 daily returns, need 30"


def test_symbols_whose_dates_barely_overlap_name_the_limiting_symbol():
    d = days(80)
    history = {
        "AAA": {day: 1.0 + i % 7 for i, day in enumerate(d[:60])},
        "BBB": {day: 2.0 + i % 5 for i, day in enumerate(d[40:])},
    }
    with pytest.raises(stats.NotEnoughData) as caught:
        stats.aligned_returns(history, ["AAA", "BBB"], 30)
    assert caught.value.symbol == "BBB"
    assert "only 19 daily returns" in str(caught.value)


def test_a_price_that_never_moves_is_refused_rather_than_answered_with_nan():
    history = history_of({"AAA": [1.0, 2.0, 1.5, 1.8], "FLAT": [5.0] * 4})
    with pytest.raises(stats.NotEnoughData) as caught:
        stats.aligned_returns(history, ["AAA", "FLAT"], 3)
    assert caught.value.symbol == "FLAT"


@pytest.mark.parametrize("method", stats.METHODS)
def test_every_method_gives_a_symmetric_matrix_with_an_exact_unit_diagonal(method):
    returns = np.random.default_rng(7).normal(size=(120, 5))
    matrix = stats.correlation_matrix(returns, method)
    assert matrix.shape == (5, 5)
    assert (np.diag(matrix) == 1.0).all()
    assert (matrix == matrix.T).all()
    assert (np.abs(matrix) <= 1.0).all()


@pytest.mark.parametrize("method", stats.METHODS)
def test_two_symbols_give_a_two_by_two_matrix(method):
    x = np.array([0.01, -0.02, 0.03, 0.00, 0.015, -0.01])
    matrix = stats.correlation_matrix(np.column_stack([x, -2 * x]), method)
    np.testing.assert_allclose(matrix, [[1.0, -1.0], [-1.0, 1.0]])


def test_spearman_and_kendall_see_a_monotone_relation_that_pearson_does_not():
    x = np.linspace(-0.05, 0.05, 40)
    returns = np.column_stack([x, x**3])
    assert stats.correlation_matrix(returns, "pearson")[0, 1] < 0.95
    assert stats.correlation_matrix(returns, "spearman")[0, 1] == pytest.approx(1.0)
    assert stats.correlation_matrix(returns, "kendall")[0, 1] == pytest.approx(1.0)


def test_kendall_is_tau_b_which_corrects_for_ties():
    x = np.array([1.0, 2.0, 2.0, 3.0])
    y = np.array([1.0, 3.0, 2.0, 4.0])
    # 5 concordant, 0 discordant, one tie in x only: 5 / sqrt(5 * 6).
    tau = stats.correlation_matrix(np.column_stack([x, y]), "kendall")[0, 1]
    assert tau == pytest.approx(5 / sqrt(30))


def test_diversification_ratio_of_two_uncorrelated_equal_risk_assets_is_root_two():
    returns = np.array([[1.0, 1.0], [-1.0, 1.0], [1.0, -1.0], [-1.0, -1.0]]) / 100
    ratio = stats.diversification_ratio(returns, np.array([0.5, 0.5]))
    assert ratio == pytest.approx(sqrt(2))


def test_assets_that_move_as_one_do_not_diversify():
    x = np.array([0.01, -0.02, 0.03, 0.00, 0.015])
    returns = np.column_stack([x, 3 * x])
    assert stats.diversification_ratio(returns, np.array([0.2, 0.8])) == pytest.approx(1.0)


def test_effective_number_of_assets_runs_from_one_to_the_number_of_assets():
    assert stats.effective_number_of_assets(np.eye(4)) == pytest.approx(4.0)
    assert stats.effective_number_of_assets(np.ones((4, 4))) == pytest.approx(1.0)
    two_blocks = np.kron(np.eye(2), np.ones((2, 2)))
    assert stats.effective_number_of_assets(two_blocks) == pytest.approx(2.0)


BLOCKS = np.array([
    [1.0, 0.9, 0.8, 0.1],
    [0.9, 1.0, 0.75, 0.0],
    [0.8, 0.75, 1.0, 0.2],
    [0.1, 0.0, 0.2, 1.0],
])


def test_clusters_join_symbols_whose_average_correlation_reaches_the_threshold():
    symbols = ["A", "B", "C", "D"]
    assert stats.clusters(symbols, BLOCKS, 0.7) == [["A", "B", "C"], ["D"]]
    assert stats.clusters(symbols, BLOCKS, 0.85) == [["A", "B"], ["C"], ["D"]]
    assert stats.clusters(symbols, BLOCKS, 1.0) == [["A"], ["B"], ["C"], ["D"]]
    assert stats.clusters(symbols, BLOCKS, -0.5) == [["A", "B", "C", "D"]]


def test_analysis_pairs_are_ranked_and_the_threshold_is_inclusive():
    returns = np.random.default_rng(3).normal(size=(50, 4))
    result = stats.analyse(["A", "B", "C", "D"], returns, BLOCKS, np.full(4, 0.25), 0.8)
    assert (result.most_correlated.first, result.most_correlated.second) == ("A", "B")
    assert result.most_correlated.correlation == 0.9
    assert (result.least_correlated.first, result.least_correlated.second) == ("B", "D")
    assert [(p.first, p.second, p.correlation) for p in result.pairs_above_threshold] == [
        ("A", "B", 0.9), ("A", "C", 0.8),
    ]
    assert result.average_correlation == pytest.approx((0.9 + 0.8 + 0.1 + 0.75 + 0.0 + 0.2) / 6)


@pytest.mark.parametrize("shape", [(12, 2), (60, 5), (300, 9)])
def test_spearman_and_kendall_of_every_pair_at_once_match_scipy_even_with_ties(shape):
    from scipy.stats import kendalltau, rankdata, spearmanr

    rng = np.random.default_rng(shape[0])
    # Rounded so that ties (within a column and shared by pairs) really occur.
    returns = np.round(rng.normal(size=(shape[0], 1)) + rng.normal(size=shape), 1)
    returns[:, 0] = np.round(returns[:, 0])  # many ties in one column
    k = shape[1]
    np.testing.assert_array_equal(stats.average_ranks(returns),
                                  np.column_stack([rankdata(c) for c in returns.T]))
    kendall = stats.correlation_matrix(returns, "kendall")
    spearman = stats.correlation_matrix(returns, "spearman")
    for i in range(k):
        for j in range(i + 1, k):
            x, y = returns[:, i], returns[:, j]
            assert kendall[i, j] == pytest.approx(kendalltau(x, y, variant="b").statistic,
                                                  abs=1e-12)
            assert spearman[i, j] == pytest.approx(spearmanr(x, y).statistic, abs=1e-12)


def test_kendall_blocks_of_any_size_give_the_same_matrix():
    rng = np.random.default_rng(4)
    returns = rng.normal(size=(97, 4))
    whole = stats.kendall_tau_b(returns)
    for block_elements in (1, 4 * 7, 4 * 97 * 3, 1 << 20):
        np.testing.assert_array_equal(stats.kendall_tau_b(returns, block_elements), whole)
