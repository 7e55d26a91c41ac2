"""/api/correlation/matrix, /api/correlation/analysis and the /correlation page.

The numbers are checked against an independent computation of the documented definition on
closes this module generates and imports (symbols CORA…CORF, which nothing else uses).
"""

import uuid
from datetime import date
from decimal import Decimal
from itertools import combinations

import numpy as np
import pytest
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform
from scipy.stats import rankdata
from sqlalchemy import select

from portal import tenancy
from portal.correlation import services as correlation_services
from portal.market.models import Price
from portal.market.services import trading_days
from portal.trades.models import Trade
from tests.helpers import import_prices, is_full_page, root_selector, soup

METHODS = ("pearson", "spearman", "kendall")


# --- test data -----------------------------------------------------------------------------

def generate_closes() -> dict[str, dict[date, str]]:
    """Deterministic closes: CORA and CORB share a strong factor, CORC barely; CORC misses
    a few days in the middle and the last two; CORD has 40 closes; CORF never moves."""
    rng = np.random.default_rng(20240628)
    days = trading_days(330, date(2024, 6, 28))
    n = len(days)
    market = rng.normal(0.0003, 0.01, n)
    series = {
        "CORA": market + rng.normal(0, 0.004, n),
        "CORB": 1.2 * market + rng.normal(0, 0.006, n),
        "CORC": 0.3 * market + rng.normal(0, 0.012, n),
        "CORE": -0.5 * market + rng.normal(0, 0.01, n),
    }
    closes: dict[str, dict[date, str]] = {}
    for (symbol, returns), start in zip(series.items(), (50.0, 120.0, 20.0, 75.0), strict=True):
        path = start * np.cumprod(1 + returns)
        closes[symbol] = {day: f"{value:.4f}" for day, value in zip(days, path, strict=True)}
    for index in (100, 101, 200, 250, 251, n - 2, n - 1):
        del closes["CORC"][days[index]]
    closes["CORD"] = {day: f"{30 + i * 0.1:.4f}" for i, day in enumerate(days[-40:])}
    closes["CORF"] = {day: "10.0000" for day in days[-300:]}
    return closes


@pytest.fixture(scope="module")
def closes(app, tmp_path_factory) -> dict[str, dict[date, float]]:
    generated = generate_closes()
    import_prices(app, tmp_path_factory.mktemp("prices") / "cor.csv",
                  [(day, symbol, close) for symbol, by_day in generated.items()
                   for day, close in by_day.items()])
    return {s: {d: float(c) for d, c in by_day.items()} for s, by_day in generated.items()}


def hold(app, tenant_id, trades) -> None:
    """Write trades straight into a tenant's book: (symbol, side, quantity, status)."""
    with app.app_context(), tenancy.tenant_session_scope(tenant_id, admin=True) as db:
        for symbol, side, quantity, status in trades:
            db.add(Trade(symbol=symbol, side=side, quantity=Decimal(quantity),
                         order_type="market", status=status,
                         fill_price=Decimal("1") if status == "filled" else None))


# --- the reference computation (the definition, written out independently) ----------------

def reference_returns(closes, symbols, lookback):
    common = sorted(set.intersection(*(set(closes[s]) for s in symbols)))[-(lookback + 1):]
    prices = np.array([[closes[s][day] for s in symbols] for day in common])
    return prices[1:] / prices[:-1] - 1, common[-1]


def pearson(returns):
    centred = returns - returns.mean(axis=0)
    covariance = centred.T @ centred
    scale = np.sqrt(np.diag(covariance))
    return covariance / np.outer(scale, scale)


def kendall_tau_b(x, y):
    dx = np.sign(x[:, None] - x[None, :])
    dy = np.sign(y[:, None] - y[None, :])
    upper = np.triu_indices(len(x), 1)
    dx, dy = dx[upper], dy[upper]
    return (dx * dy).sum() / np.sqrt((dx * dx).sum() * (dy * dy).sum())


def reference_matrix(returns, method):
    if method == "pearson":
        return pearson(returns)
    if method == "spearman":
        return pearson(np.column_stack([rankdata(col) for col in returns.T]))
    k = returns.shape[1]
    matrix = np.eye(k)
    for i, j in combinations(range(k), 2):
        matrix[i, j] = matrix[j, i] = kendall_tau_b(returns[:, i], returns[:, j])
    return matrix


# --- the matrix ----------------------------------------------------------------------------

@pytest.mark.parametrize("lookback", [252, 60])
@pytest.mark.parametrize("method", METHODS)
def test_matrix_equals_an_independent_computation_of_the_definition(
    api_as, closes, method, lookback
):
    response = api_as("viewer@acme.test").get(
        "/api/correlation/matrix",
        query_string={"symbols": " cora, CORB ,corc,CORA,", "method": method,
                      "lookback_days": lookback},
    )
    assert response.status_code == 200, response.json
    body = response.json
    symbols = ["CORA", "CORB", "CORC"]
    returns, last_day = reference_returns(closes, symbols, lookback)
    assert body["symbols"] == symbols
    assert body["method"] == method
    assert body["lookback_days"] == lookback
    assert body["as_of"] == last_day.isoformat()
    np.testing.assert_allclose(body["matrix"], reference_matrix(returns, method), atol=1e-6)
    matrix = np.array(body["matrix"])
    assert (np.diag(matrix) == 1.0).all()
    assert (matrix == matrix.T).all()


def test_as_of_is_the_last_date_every_symbol_has_a_close(api_as, closes):
    body = api_as("viewer@acme.test").get(
        "/api/correlation/matrix?symbols=CORA,CORB&lookback_days=100").json
    with_corc = api_as("viewer@acme.test").get(
        "/api/correlation/matrix?symbols=CORA,CORC&lookback_days=100").json
    assert body["as_of"] == max(closes["CORA"]).isoformat()
    assert with_corc["as_of"] == max(closes["CORC"]).isoformat()
    assert with_corc["as_of"] < body["as_of"]


def test_defaults_are_252_days_of_pearson(api_as, closes):
    body = api_as("viewer@acme.test").get("/api/correlation/matrix?symbols=CORA,CORB").json
    assert (body["method"], body["lookback_days"]) == ("pearson", 252)
    returns, _ = reference_returns(closes, ["CORA", "CORB"], 252)
    assert body["matrix"][0][1] == pytest.approx(np.corrcoef(returns.T)[0, 1], abs=1e-6)


# --- the analysis --------------------------------------------------------------------------

def reference_analysis(closes, symbols, lookback, method, threshold, weights):
    returns, _ = reference_returns(closes, symbols, lookback)
    matrix = reference_matrix(returns, method)
    pairs = [((symbols[i], symbols[j]), matrix[i, j])
             for i, j in combinations(range(len(symbols)), 2)]
    covariance = np.cov(returns.T, ddof=1)
    weights = np.array(weights) / sum(weights)
    sigmas = returns.std(axis=0, ddof=1)
    eigenvalues = np.linalg.eigvalsh(matrix)
    tree = linkage(squareform(1 - matrix, checks=False), method="average")
    labels = fcluster(tree, t=1 - threshold, criterion="distance")
    clusters: dict = {}
    for symbol, label in zip(symbols, labels, strict=True):
        clusters.setdefault(label, []).append(symbol)
    return {
        "average": np.mean([value for _pair, value in pairs]),
        "most": max(pairs, key=lambda p: p[1]),
        "least": min(pairs, key=lambda p: p[1]),
        "above": sorted((p for p in pairs if p[1] >= threshold), key=lambda p: -p[1]),
        "ratio": (weights @ sigmas) / np.sqrt(weights @ covariance @ weights),
        "effective": eigenvalues.sum() ** 2 / (eigenvalues**2).sum(),
        "clusters": list(clusters.values()),
    }


def assert_analysis_matches(body, expected):
    assert body["average_correlation"] == pytest.approx(expected["average"], abs=1e-6)
    assert tuple(body["most_correlated"]["symbols"]) == expected["most"][0]
    assert body["most_correlated"]["correlation"] == pytest.approx(expected["most"][1], abs=1e-6)
    assert tuple(body["least_correlated"]["symbols"]) == expected["least"][0]
    assert body["least_correlated"]["correlation"] == pytest.approx(
        expected["least"][1], abs=1e-6)
    assert [tuple(p["symbols"]) for p in body["pairs_above_threshold"]] == [
        pair for pair, _value in expected["above"]]
    np.testing.assert_allclose([p["correlation"] for p in body["pairs_above_threshold"]],
                               [value for _pair, value in expected["above"]], atol=1e-6)
    assert body["diversification_ratio"] == pytest.approx(expected["ratio"], abs=1e-6)
    assert body["effective_number_of_assets"] == pytest.approx(expected["effective"], abs=1e-6)
    assert body["clusters"] == expected["clusters"]


# Kendall's tau runs lower than Pearson's rho on the same data.
STRONG = {"pearson": 0.7, "spearman": 0.7, "kendall": 0.5}


@pytest.mark.parametrize("method", METHODS)
def test_analysis_of_named_symbols_matches_the_reference_with_equal_weights(
    api_as, closes, method
):
    symbols = ["CORA", "CORB", "CORC", "CORE"]
    threshold = STRONG[method]
    body = api_as("trader@acme.test").get(
        "/api/correlation/analysis",
        query_string={"symbols": ",".join(symbols), "method": method, "lookback_days": 200,
                      "threshold": threshold},
    ).json
    expected = reference_analysis(closes, symbols, 200, method, threshold, [1, 1, 1, 1])
    assert body["symbols"] == symbols
    assert (body["method"], body["lookback_days"], body["threshold"]) == (method, 200, threshold)
    assert body["weighting"] == "equal"
    assert body["weights"] == {symbol: 0.25 for symbol in symbols}
    assert_analysis_matches(body, expected)
    # The data is built so that the test means something: one strong pair, one cluster of two.
    assert [tuple(p["symbols"]) for p in body["pairs_above_threshold"]] == [("CORA", "CORB")]
    assert body["clusters"] == [["CORA", "CORB"], ["CORC"], ["CORE"]]
    assert "CORE" in body["least_correlated"]["symbols"]
    assert body["least_correlated"]["correlation"] < 0


def test_analysis_threshold_defaults_to_0_7(api_as, closes):
    body = api_as("viewer@acme.test").get(
        "/api/correlation/analysis?symbols=CORA,CORB").json
    assert body["threshold"] == 0.7


def test_analysis_threshold_moves_the_pairs_and_the_clusters(api_as, closes):
    symbols = ["CORA", "CORB", "CORC", "CORE"]
    body = api_as("viewer@acme.test").get(
        "/api/correlation/analysis",
        query_string={"symbols": ",".join(symbols), "threshold": "0.2"},
    ).json
    expected = reference_analysis(closes, symbols, 252, "pearson", 0.2, [1, 1, 1, 1])
    assert_analysis_matches(body, expected)
    assert len(body["pairs_above_threshold"]) > 1


def test_analysis_of_the_holdings_weights_by_market_value(app, api_as, fresh_tenant, closes):
    tenant = fresh_tenant()
    hold(app, tenant.id, [
        ("CORA", "buy", "100", "filled"),
        ("CORB", "buy", "50", "filled"),
        ("CORB", "sell", "20", "filled"),
        ("CORE", "buy", "10.5", "filled"),
    ])
    body = api_as(tenant.emails["viewer"]).get("/api/correlation/analysis").json
    symbols = ["CORA", "CORB", "CORE"]
    values = [100 * closes["CORA"][max(closes["CORA"])], 30 * closes["CORB"][max(closes["CORB"])],
              10.5 * closes["CORE"][max(closes["CORE"])]]
    assert body["symbols"] == symbols
    assert body["weighting"] == "market_value"
    for symbol, value in zip(symbols, values, strict=True):
        assert body["weights"][symbol] == pytest.approx(value / sum(values), abs=1e-9)
    assert_analysis_matches(body, reference_analysis(closes, symbols, 252, "pearson", 0.7,
                                                     values))


def test_named_symbols_not_all_held_are_weighted_equally(app, api_as, fresh_tenant, closes):
    tenant = fresh_tenant()
    hold(app, tenant.id, [("CORA", "buy", "100", "filled"), ("CORB", "buy", "5", "filled")])
    client = api_as(tenant.emails["viewer"])
    held = client.get("/api/correlation/analysis?symbols=CORB,CORA").json
    mixed = client.get("/api/correlation/analysis?symbols=CORA,CORB,CORE").json
    assert held["weighting"] == "market_value"
    assert held["weights"]["CORA"] > held["weights"]["CORB"]
    assert mixed["weighting"] == "equal"
    assert mixed["weights"] == {"CORA": 1 / 3, "CORB": 1 / 3, "CORE": 1 / 3}


def test_holdings_count_only_filled_trades_still_held(app, api_as, fresh_tenant, closes):
    tenant = fresh_tenant()
    hold(app, tenant.id, [
        ("CORA", "buy", "10", "filled"),
        ("CORB", "buy", "10", "filled"),
        ("CORC", "buy", "10", "filled"),
        ("CORC", "sell", "10", "filled"),  # sold out: no longer a holding
        ("CORE", "buy", "10", "pending"),
        ("CORD", "buy", "10", "cancelled"),
        ("CORF", "buy", "10", "rejected"),
    ])
    body = api_as(tenant.emails["viewer"]).get("/api/correlation/matrix").json
    assert body["symbols"] == ["CORA", "CORB"]


# --- bad input -----------------------------------------------------------------------------

BAD_INPUTS = [
    ({"symbols": "CORA"}, "symbols", "at least two symbols"),
    ({"symbols": ",, ,"}, "symbols", "at least two symbols"),
    ({"symbols": "CORA,cora"}, "symbols", "at least two symbols"),
    ({"symbols": "CORA,NOSUCH1"}, "symbols", "NOSUCH1"),
    ({"symbols": "CORA,CORD"}, "symbols", "symbol CORD: only 39 daily returns, need 252"),
    ({"symbols": "CORA,CORB", "lookback_days": "330"}, "symbols", "need 330"),
    ({"symbols": "CORA,CORF"}, "symbols", "CORF"),
    ({"symbols": "CORA,CORB", "lookback_days": "29"}, "lookback_days", "lookback_days"),
    ({"symbols": "CORA,CORB", "lookback_days": "1261"}, "lookback_days", "lookback_days"),
    ({"symbols": "CORA,CORB", "lookback_days": "a year"}, "lookback_days", "lookback_days"),
    ({"symbols": "CORA,CORB", "lookback_days": "60.5"}, "lookback_days", "lookback_days"),
    ({"symbols": "CORA,CORB", "method": "median"}, "method", "method"),
    ({"symbols": "CORA,CORB", "method": "Pearson"}, "method", "method"),
]
BAD_THRESHOLDS = ["-1", "1.01", "high", "nan", "inf"]


@pytest.mark.parametrize("endpoint", ["matrix", "analysis"])
@pytest.mark.parametrize(("params", "field", "words"), BAD_INPUTS)
def test_bad_input_answers_400_naming_the_problem(api_as, closes, endpoint, params, field,
                                                  words):
    response = api_as("viewer@acme.test").get(f"/api/correlation/{endpoint}",
                                              query_string=params)
    assert response.status_code == 400
    error = response.json["error"]
    assert error["field"] == field
    assert words in error["message"]


@pytest.mark.parametrize("threshold", BAD_THRESHOLDS)
def test_analysis_refuses_a_threshold_outside_minus_one_to_one(api_as, closes, threshold):
    response = api_as("viewer@acme.test").get(
        "/api/correlation/analysis", query_string={"symbols": "CORA,CORB",
                                                   "threshold": threshold})
    assert response.status_code == 400
    assert response.json["error"]["field"] == "threshold"


def test_threshold_of_exactly_one_is_allowed(api_as, closes):
    body = api_as("viewer@acme.test").get(
        "/api/correlation/analysis?symbols=CORA,CORB,CORC&threshold=1").json
    assert body["pairs_above_threshold"] == []
    assert body["clusters"] == [["CORA"], ["CORB"], ["CORC"]]


def test_a_tenant_holding_fewer_than_two_symbols_must_name_them(app, api_as, fresh_tenant,
                                                               closes):
    tenant = fresh_tenant()
    client = api_as(tenant.emails["viewer"])
    for endpoint in ("matrix", "analysis"):
        response = client.get(f"/api/correlation/{endpoint}")
        assert response.status_code == 400
        assert response.json["error"]["field"] == "symbols"
    hold(app, tenant.id, [("CORA", "buy", "1", "filled")])
    assert client.get("/api/correlation/matrix").status_code == 400
    assert client.get("/api/correlation/matrix?symbols=CORA,CORB").status_code == 200


# --- the page ------------------------------------------------------------------------------

def test_page_shows_heatmap_legend_analysis_and_the_htmx_form(browser_as, closes):
    response = browser_as("viewer@acme.test").get(
        "/correlation?symbols=CORA,CORB,CORC&lookback_days=126&method=spearman")
    assert response.status_code == 200
    html = response.text
    assert is_full_page(html)
    assert 'data-testid="heatmap"' in html and 'data-testid="heatmap-legend"' in html
    assert 'data-lookback="126"' in html and 'data-method="spearman"' in html
    for symbol in ("CORA", "CORB", "CORC"):
        assert f'<th scope="col">{symbol}</th>' in html
    # Diagonal cells are the red end of the scale.
    heatmap = soup(html).select_one('[data-testid="heatmap"]')
    assert len(heatmap.select("td.heat-p5")) >= 3
    assert 'data-testid="correlation-analysis"' in html
    assert 'hx-trigger="change, submit"' in html and 'hx-push-url="true"' in html
    assert 'class="htmx-indicator' in html
    assert 'method="get"' in html  # works as a plain form without JavaScript
    assert '<option value="126" selected>' in html


def test_the_page_lists_real_clusters_and_says_when_there_are_none(browser_as, closes):
    browser = browser_as("viewer@acme.test")

    def clusters(query: str):
        return soup(browser.get(f"/correlation?{query}")).select_one('[data-testid="clusters"]')

    grouped = clusters("symbols=CORA,CORB,CORC&threshold=0.5")
    assert [li.get_text() for li in grouped.select("li")] == ["CORA, CORB"]
    assert "on their own: CORC" in grouped.get_text()
    assert grouped.select_one('[data-testid="no-clusters"]') is None

    none = clusters("symbols=CORA,CORB,CORC&threshold=1")
    assert none.select("li") == []
    message = none.select_one('[data-testid="no-clusters"]').get_text()
    assert message == "no clusters at \u03c1 \u2265 1.0"  # rho, greater-or-equal


def test_htmx_request_gets_only_the_results_block(browser_as, closes):

    response = browser_as("viewer@acme.test").get(
        "/correlation?symbols=CORA,CORB&lookback_days=60", htmx=True)
    assert response.status_code == 200
    html = response.text
    # The block is the form and the results it asked for, swapped together.
    assert root_selector(html) == "section#correlation-results"
    assert soup(html).select_one('form[data-testid="correlation-form"]') is not None
    assert soup(html).select('[data-testid^="error-"]') == []
    assert 'data-lookback="60"' in html
    assert "HX-Request" in response.headers.get("Vary", "")


@pytest.mark.parametrize("htmx", [False, True])
@pytest.mark.parametrize(("query", "field", "words"), [
    ("symbols=CORA,NOSUCH2", "symbols", "NOSUCH2"),
    ("symbols=CORA,CORD", "symbols", "only 39 daily returns"),
    ("symbols=CORA,CORB&lookback_days=5", "lookback_days", "Enter 30 or more."),
    ("symbols=CORA,CORB&method=median", "method", "Choose"),
    ("symbols=CORA,CORB&threshold=7", "threshold", "Enter 1.0 or less."),
])
def test_page_shows_bad_input_inline_beside_its_field(browser_as, closes, htmx, query, field,
                                                      words):
    response = browser_as("viewer@acme.test").get(f"/correlation?{query}", htmx=htmx)
    assert response.status_code == 400
    assert is_full_page(response) is not htmx
    form = soup(response).select_one(
        '#correlation-results form[data-testid="correlation-form"]')
    error = form.select_one(f'[data-testid="error-{field}"]')
    assert words in error.get_text()
    control = form.find(attrs={"name": field})
    assert control["aria-invalid"] == "true" and control["aria-describedby"] == error["id"]
    assert 'data-testid="heatmap"' not in response.text


# --- tenancy, cache and permissions -------------------------------------------------------

@pytest.fixture
def two_books(app, fresh_tenant, closes):
    a, b = fresh_tenant(), fresh_tenant()
    hold(app, a.id, [("CORA", "buy", "10", "filled"), ("CORB", "buy", "10", "filled")])
    hold(app, b.id, [("CORC", "buy", "10", "filled"), ("CORE", "buy", "10", "filled")])
    return a, b


def test_default_symbols_are_each_tenants_own_holdings_a_b_a(api_as, browser_as, two_books):
    a, b = two_books
    clients = {t.slug: api_as(t.emails["viewer"]) for t in (a, b)}
    browsers = {t.slug: browser_as(t.emails["viewer"]) for t in (a, b)}
    own = {a.slug: ("CORA", "CORB"), b.slug: ("CORC", "CORE")}
    other = {a.slug: b.slug, b.slug: a.slug}
    for tenant in (a.slug, b.slug, a.slug):
        for endpoint in ("matrix", "analysis"):
            body = clients[tenant].get(f"/api/correlation/{endpoint}").json
            assert tuple(body["symbols"]) == own[tenant]
        for htmx in (False, True):
            html = browsers[tenant].get("/correlation", htmx=htmx).text
            for symbol in own[tenant]:
                assert f'<th scope="col">{symbol}</th>' in html
            for symbol in own[other[tenant]]:
                assert f'<th scope="col">{symbol}</th>' not in html


def test_demo_tenants_see_their_own_books(api_as, app, tenant_a, tenant_b):
    def filled_symbols(tenant_id):
        with app.app_context(), tenancy.tenant_session_scope(tenant_id, admin=True) as db:
            rows = db.execute(select(Trade.symbol, Trade.side, Trade.quantity)
                              .where(Trade.status == "filled"))
            net: dict[str, Decimal] = {}
            for symbol, side, quantity in rows:
                net[symbol] = net.get(symbol, Decimal(0)) + (
                    quantity if side == "buy" else -quantity)
            return sorted(symbol for symbol, quantity in net.items() if quantity > 0)

    acme = api_as("viewer@acme.test").get("/api/correlation/matrix?lookback_days=60").json
    globex = api_as("trader@globex.test").get("/api/correlation/matrix?lookback_days=60").json
    acme_again = api_as("ops@example.test", "acme").get(
        "/api/correlation/matrix?lookback_days=60").json
    assert acme["symbols"] == filled_symbols(tenant_a.id) == acme_again["symbols"]
    assert globex["symbols"] == filled_symbols(tenant_b.id)
    assert not set(acme["symbols"]) & set(globex["symbols"])


def test_cached_results_are_kept_per_tenant(app, api_as, fresh_tenant, closes):
    a, b = fresh_tenant(), fresh_tenant()
    same_book = [("CORA", "buy", "10", "filled"), ("CORB", "buy", "10", "filled")]
    hold(app, a.id, same_book)
    hold(app, b.id, same_book)
    correlation_services.cache.clear()
    first = api_as(a.emails["viewer"]).get("/api/correlation/analysis").json
    second = api_as(b.emails["viewer"]).get("/api/correlation/analysis").json
    assert first == second  # the same book gives the same answer...
    keys = correlation_services.cache.keys()
    # ...computed and kept once per tenant, never shared.
    assert {key[0] for key in keys} == {a.id, b.id}
    assert all(isinstance(key[0], uuid.UUID) for key in keys)
    hold(app, b.id, [("CORE", "buy", "10", "filled")])
    assert api_as(a.emails["viewer"]).get("/api/correlation/analysis").json == first
    changed = api_as(b.emails["viewer"]).get("/api/correlation/analysis").json
    assert changed["symbols"] == ["CORA", "CORB", "CORE"]




def test_newly_imported_closes_are_used_at_once_not_a_cached_result(app, api_as, tmp_path):
    days = trading_days(41, date(2024, 3, 29))
    rng = np.random.default_rng(5)
    rows = [(day, symbol, f"{10 + rng.random():.4f}") for day in days[:-1]
            for symbol in ("CORG", "CORH")]
    import_prices(app, tmp_path / "first.csv", rows)
    client = api_as("viewer@acme.test")
    query = "/api/correlation/matrix?symbols=CORG,CORH&lookback_days=30"
    before = client.get(query).json
    assert before["as_of"] == days[-2].isoformat()
    assert client.get(query).json == before
    import_prices(app, tmp_path / "next.csv",
                  [(days[-1], "CORG", "30"), (days[-1], "CORH", "1")])
    after = client.get(query).json
    assert after["as_of"] == days[-1].isoformat()
    assert after["matrix"] != before["matrix"]


@pytest.mark.parametrize("role", ["viewer", "trader", "admin"])
def test_every_role_may_view_correlation(api_as, browser_as, fresh_tenant, closes, role):
    tenant = fresh_tenant()
    client = api_as(tenant.emails[role])
    assert client.get("/api/correlation/matrix?symbols=CORA,CORB").status_code == 200
    assert client.get("/api/correlation/analysis?symbols=CORA,CORB").status_code == 200
    assert browser_as(tenant.emails[role]).get("/correlation?symbols=CORA,CORB").status_code == 200


def test_without_a_token_nothing_is_answered(client):
    assert client.get("/api/correlation/matrix?symbols=AAPL,MSFT").status_code == 401
    assert client.get("/api/correlation/analysis?symbols=AAPL,MSFT").status_code == 401
    page = client.get("/correlation")
    assert page.status_code == 302 and "/login" in page.headers["Location"]


def test_no_response_mentions_tenant_id(api_as, browser_as, closes):
    client = api_as("admin@acme.test")
    browser = browser_as("admin@acme.test")
    responses = [
        client.get("/api/correlation/matrix"),
        client.get("/api/correlation/analysis"),
        client.get("/api/correlation/matrix?symbols=CORA,NOPE"),
        browser.get("/correlation"),
        browser.get("/correlation", htmx=True),
        browser.get("/correlation?symbols=CORA", htmx=True),
    ]
    for response in responses:
        assert "tenant_id" not in response.get_data(as_text=True)


def test_a_close_changed_by_another_process_is_used_by_the_next_request(app, api_as, tmp_path):
    """The closes cache is shared by every tenant and lives in each process; a write that
    never passes through this process's signals (another worker, a psql session) must still
    reach the next request, even when it only changes a close (same dates, same count)."""
    days = trading_days(41, date(2024, 2, 29))
    rng = np.random.default_rng(9)
    import_prices(app, tmp_path / "cori.csv", [(day, symbol, f"{10 + rng.random():.4f}")
                                               for day in days for symbol in ("CORI", "CORJ")])
    client = api_as("viewer@acme.test")
    query = "/api/correlation/matrix?symbols=CORI,CORJ&lookback_days=30&method=pearson"
    before = client.get(query).json
    with app.app_context(), tenancy.unscoped_session(admin=True) as db:
        price = db.get(Price, ("CORI", days[-1]))
        price.close = price.close * 3
    after = client.get(query).json
    assert after["as_of"] == before["as_of"]
    assert after["matrix"] != before["matrix"]
