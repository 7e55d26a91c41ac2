"""A filter form that refuses a value shows why beside the field: 400, in the fragment htmx
swaps (the form travels with the list it chooses) and on the whole page alike. Parsed as
HTML (BeautifulSoup)."""

import pytest

from tests.helpers import is_full_page, soup

# (who may see the page, the page with one refused filter, the refused field, the form's
# selector, the element htmx swaps)
REFUSED = [
    ("viewer@acme.test", "/alerts?since=2024-05-03&until=2024-05-02", "until",
     '[data-testid="alert-filters"]', "alert-list"),
    ("viewer@acme.test", "/alerts?severity=urgent", "severity",
     '[data-testid="alert-filters"]', "alert-list"),
    ("admin@acme.test", "/audit?since=yesterday", "since",
     '[data-testid="audit-filter"]', "audit-records"),
    ("admin@acme.test", "/audit?since=2024-05-03&until=2024-05-02", "until",
     '[data-testid="audit-filter"]', "audit-records"),
    ("viewer@acme.test", "/metrics/risk?lookback_days=5", "lookback_days",
     '[data-testid="risk"]', "risk"),
    ("viewer@acme.test", "/metrics?window=2w", "window", '[data-testid="trading"]', "trading"),
]


def _error_beside_its_field(html: str, form_selector: str, field: str) -> str:
    form = soup(html).select_one(form_selector)
    error = form.select_one(f'[data-testid="error-{field}"]')
    control = form.find(attrs={"name": field})
    # Beside it: in the same field wrapper, and named by the control for screen readers.
    assert error.parent is control.parent
    assert control["aria-invalid"] == "true" and control["aria-describedby"] == error["id"]
    return error.get_text(strip=True)


@pytest.mark.parametrize(("who", "url", "field", "form", "swapped"), REFUSED)
def test_a_refused_filter_is_shown_beside_its_field_on_the_page(browser_as, who, url, field,
                                                                form, swapped):
    page = browser_as(who).get(url)
    assert page.status_code == 400
    assert is_full_page(page)
    assert _error_beside_its_field(page.text, form, field)


@pytest.mark.parametrize(("who", "url", "field", "form", "swapped"), REFUSED)
def test_a_refused_filter_is_shown_beside_its_field_in_the_htmx_fragment(browser_as, who, url,
                                                                         field, form, swapped):
    fragment = browser_as(who).get(url, htmx=True)
    assert fragment.status_code == 400
    roots = soup(fragment.text).find_all(recursive=False)
    assert [root.get("id") for root in roots] == [swapped]
    assert _error_beside_its_field(fragment.text, form, field)


@pytest.mark.parametrize(("who", "url", "form", "swapped"), [
    ("viewer@acme.test", "/alerts?since=2024-05-02&until=2024-05-03",
     '[data-testid="alert-filters"]', "alert-list"),
    ("admin@acme.test", "/audit?since=2024-05-02", '[data-testid="audit-filter"]', "audit-records"),
    ("viewer@acme.test", "/metrics/risk?lookback_days=63", "#lookback_days", "risk"),
])
def test_a_good_filter_answers_its_fragment_without_errors(browser_as, who, url, form, swapped):
    fragment = browser_as(who).get(url, htmx=True)
    assert fragment.status_code == 200
    swapped_in = soup(fragment.text).select_one(f"#{swapped}")
    assert swapped_in.select_one(form) is not None
    assert swapped_in.select('[data-testid^="error-"]') == []


def test_the_refused_until_keeps_what_was_typed_and_the_list_keeps_the_rest(browser_as):
    page = browser_as("viewer@acme.test").get("/alerts?since=2024-05-03&until=2024-05-02")
    html = soup(page)
    assert html.select_one("#filter-until")["value"] == "2024-05-02"
    assert html.select_one("#filter-since")["value"] == "2024-05-03"


def test_a_refusal_outside_the_form_answers_htmx_the_error_block_not_a_whole_page(browser_as):
    # A hand-made cursor is no form field: the error itself is what htmx swaps in (400).
    fragment = browser_as("viewer@acme.test").get("/alerts?cursor=not-a-cursor", htmx=True)
    assert fragment.status_code == 400
    roots = soup(fragment.text).find_all(recursive=False)
    assert [root.name for root in roots] == ["section"] and "error-page" in roots[0]["class"]
    assert "cursor" in roots[0].select_one('[data-testid="error-message"]').get_text()
