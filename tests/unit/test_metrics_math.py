"""Are the average-cost ledger and the risk statistics right on numbers worked out by hand
or with an independent implementation (the statistics module, not numpy)?"""

import random
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

import pytest

from portal.metrics import analytics, charts
from portal.metrics.analytics import Execution
from tests import reference

T0 = datetime(2024, 1, 2, 15, 0, tzinfo=UTC)


def fill(symbol, side, quantity, price, fee="0", minutes=0, trade_id=None):
    return Execution(trade_id or uuid.uuid4(), symbol, side, D(quantity), D(price), D(fee),
                     T0 + timedelta(minutes=minutes))


def test_buys_average_their_cost_including_fees():
    ledger = analytics.replay([
        fill("A", "buy", "100", "10", "1"),
        fill("A", "buy", "50", "13", "0.5", minutes=1),
    ])
    holding = ledger.holdings["A"]
    # (100 x 10 + 1 + 50 x 13 + 0.5) / 150 = 1651.5 / 150
    assert holding.quantity == D("150")
    assert holding.avg_cost == D("11.01")
    assert ledger.realizations == []


def test_a_sell_realises_against_the_average_cost_and_pays_its_fee():
    sell = uuid.uuid4()
    ledger = analytics.replay([
        fill("A", "buy", "100", "10", "1"),
        fill("A", "buy", "50", "13", "0.5", minutes=1),
        fill("A", "sell", "60", "15", "0.9", minutes=2, trade_id=sell),
    ])
    holding = ledger.holdings["A"]
    assert holding.quantity == D("90")
    assert holding.avg_cost == D("11.01")  # a sale does not move the average cost
    [realised] = ledger.realizations
    assert realised.trade_id == sell
    assert realised.quantity == D("60")
    assert realised.pnl == D("238.5")  # 60 x (15 - 11.01) - 0.9


def test_closing_a_position_resets_the_average_and_reopening_starts_fresh():
    ledger = analytics.replay([
        fill("B", "buy", "10", "100"),
        fill("B", "sell", "10", "90", minutes=1),
        fill("B", "buy", "5", "80", "0.4", minutes=2),
    ])
    assert ledger.realized_pnl == D("-100")
    assert ledger.holdings["B"].quantity == D("5")
    assert ledger.holdings["B"].avg_cost == D("80.08")
    assert [h.symbol for h in ledger.open_holdings] == ["B"]


def test_a_sell_through_zero_closes_the_long_and_opens_a_short_with_the_rest_of_the_fee():
    ledger = analytics.replay([
        fill("C", "buy", "10", "50"),
        fill("C", "sell", "15", "60", "1.5", minutes=1),
    ])
    # 10 close: 10 x (60 - 50) - 1.0 (two thirds of the fee); 5 open short at 60 - 0.5/5
    assert ledger.realized_pnl == D("99")
    assert ledger.holdings["C"].quantity == D("-5")
    assert ledger.holdings["C"].avg_cost == D("59.9")
    ledger = analytics.replay([
        fill("C", "buy", "10", "50"),
        fill("C", "sell", "15", "60", "1.5", minutes=1),
        fill("C", "buy", "5", "55", minutes=2),
    ])
    # Covering the short at 55 realises 5 x (59.9 - 55).
    assert ledger.realized_pnl == D("99") + D("24.5")
    assert ledger.open_holdings == []


def test_symbols_are_kept_apart():
    ledger = analytics.replay([fill("A", "buy", "1", "10"), fill("B", "buy", "2", "20")])
    assert {h.symbol: h.quantity for h in ledger.open_holdings} == {"A": D(1), "B": D(2)}


def test_value_series_uses_only_days_where_every_holding_has_a_close():
    closes = {
        "A": {date(2024, 1, 1): D("10"), date(2024, 1, 2): D("11"), date(2024, 1, 3): D("12")},
        "B": {date(2024, 1, 2): D("5"), date(2024, 1, 3): D("4"), date(2024, 1, 4): D("3")},
    }
    series = analytics.value_series({"A": D(2), "B": D(10)}, closes)
    assert series.days == [date(2024, 1, 2), date(2024, 1, 3)]
    assert series.values == [D("72"), D("64")]
    assert analytics.value_series({"A": D(2), "B": D(10)}, closes, points=1).values == [D("64")]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_risk_figures_match_an_independent_computation(seed):
    rng = random.Random(seed)
    values = [1000.0]
    for _ in range(120):
        values.append(values[-1] * (1 + rng.gauss(0.0005, 0.015)))
    got = analytics.risk_figures(values)
    for name, expected in reference.risk_figures(values).items():
        assert getattr(got, name) == pytest.approx(expected, rel=1e-9, abs=1e-12), name


def test_drawdown_is_the_fall_from_the_running_peak():
    assert list(analytics.drawdowns([100, 120, 90, 130, 65])) == pytest.approx(
        [0.0, 0.0, 0.25, 0.0, 0.5])


def test_thirty_returns_are_enough_and_twenty_nine_are_not():
    rising = [100.0 + day + (day % 3) for day in range(31)]
    assert analytics.risk_figures(rising).observations == 30
    with pytest.raises(analytics.RiskUndefined, match="at least 30"):
        analytics.risk_figures(rising[:30])


def test_ratios_without_a_denominator_are_none_not_infinite():
    steady = [100.0 * 1.001**day for day in range(40)]  # no down day, no drawdown
    figures = analytics.risk_figures(steady)
    assert figures.max_drawdown == 0.0
    assert figures.sortino_ratio is None
    assert figures.calmar_ratio is None
    flat = analytics.risk_figures([100.0] * 40)
    assert flat.sharpe_ratio is None and flat.volatility == 0.0


def test_a_non_positive_value_makes_returns_undefined():
    values = [100.0] * 20 + [-5.0] + [100.0] * 20
    with pytest.raises(analytics.RiskUndefined, match="not positive"):
        analytics.risk_figures(values)


def test_line_chart_spans_the_plot_area_and_labels_ends():
    days = [date(2024, 1, 1) + timedelta(days=i) for i in range(5)]
    chart = charts.line_chart("Value", days, [10, 20, 15, 30, 25], lambda v: f"{v:.0f}")
    points = [tuple(map(float, p.split(","))) for p in chart.points.split()]
    assert points[0][0] == chart.plot_left and points[-1][0] == chart.plot_right
    assert min(y for _x, y in points) == chart.plot_top  # the high touches the top
    assert max(y for _x, y in points) == chart.plot_bottom  # the low touches the bottom
    assert [t.label for t in chart.x_ticks] == ["2024-01-01", "2024-01-03", "2024-01-05"]
    assert [t.label for t in chart.y_ticks] == ["30", "20", "10"]
    assert charts.line_chart("Value", days[:1], [1.0], str) is None
