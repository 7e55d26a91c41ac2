"""Can a trader place orders from the trades page, find them, and cancel one that rests?"""

import re
import uuid

from playwright.sync_api import expect

from tests.helpers import mark_page, still_same_page


def unique_quantity() -> str:
    # A quantity no other order has, so its row can be told apart from the demo book's.
    return f"1.{uuid.uuid4().int % 10**5:05d}7"


def test_trader_places_a_market_order_and_finds_it_in_history(page, live_server, login):
    login("trader@acme.test")
    page.click("nav >> text=Trades")
    page.wait_for_url(f"{live_server}/trades")
    quantity = unique_quantity()

    page.select_option("#order-symbol", "MSFT")
    page.select_option("#order-side", "buy")
    page.fill("#order-quantity", quantity)
    page.select_option("#order-type", "market")
    mark_page(page)
    page.click("#order-form button[type=submit]")

    expect(page.get_by_test_id("notice")).to_contain_text(f"Buy {quantity} MSFT: filled at")
    row = page.get_by_test_id("history-row").filter(has_text=quantity).first
    expect(row).to_contain_text("MSFT")
    expect(row).to_contain_text("filled")
    assert still_same_page(page)

    row.get_by_role("link").click()
    expect(page.get_by_test_id("trade-status")).to_have_text("filled")
    expect(page.get_by_test_id("fill-row")).to_have_count(1)


def test_trader_rests_a_limit_order_far_from_the_market_and_cancels_it(page, live_server,
                                                                       login):
    login("trader@acme.test")
    page.goto(f"{live_server}/trades")
    quantity = unique_quantity()

    page.select_option("#order-symbol", "KO")
    page.fill("#order-quantity", quantity)
    page.select_option("#order-type", "limit")
    page.fill("#order-limit-price", "1.05")
    page.click("#order-form button[type=submit]")

    expect(page.get_by_test_id("notice")).to_contain_text("limit order at 1.05 is pending")
    pending = page.get_by_test_id("pending-row").filter(has_text=quantity)
    expect(pending).to_have_count(1)

    pending.get_by_role("button", name=re.compile("^Cancel")).click()

    notice = page.get_by_test_id("notice")
    expect(notice).to_contain_text(f"Cancelled the buy order for {quantity} KO")
    expect(page.get_by_test_id("pending-row").filter(has_text=quantity)).to_have_count(0)
    cancelled = page.get_by_test_id("history-row").filter(has_text=quantity)
    expect(cancelled).to_contain_text("cancelled")


def test_a_bad_order_shows_the_error_next_to_the_field(page, live_server, login):
    login("trader@acme.test")
    page.goto(f"{live_server}/trades")

    page.fill("#order-quantity", "-3")
    mark_page(page)
    page.click("#order-form button[type=submit]")

    expect(page.get_by_test_id("error-quantity")).to_have_text("Enter a number above 0.")
    expect(page.locator("#order-quantity")).to_have_value("-3")
    # The 422 answer was swapped in by htmx (responseHandling in base.html), not loaded as a
    # new page.
    assert still_same_page(page)
