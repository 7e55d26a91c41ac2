"""Trades: the JSON API for scripts and the order-entry pages for operators.

Both call the same queries and services; the pages render named blocks of one template
(`trades/index.html`) as htmx fragments.
"""

from flask import Blueprint, flash, redirect, request, url_for
from pydantic import ValidationError

from portal.errors import InvalidInput, NotPending, Unprocessable
from portal.formats import money, price, quantity
from portal.forms import field_errors
from portal.idempotency import validate_key
from portal.openapi import documented, page_of
from portal.pagination import parse_limit
from portal.permissions import require_permission
from portal.trades import queries, services
from portal.trades.schemas import (
    OrderRequest,
    TradeDetailOut,
    TradeFilters,
    TradeOut,
    TradePageOut,
)
from portal.web import json_body, json_response, render_page, wants_fragment

bp = Blueprint("trades", __name__, url_prefix="/trades")
api = Blueprint("trades_api", __name__, url_prefix="/api/trades")

ORDER_FORM_DEFAULTS = {"symbol": "", "side": "buy", "quantity": "", "order_type": "market",
                       "limit_price": ""}


def _list_args():
    return (TradeFilters.from_args(request.args), parse_limit(request.args.get("limit")),
            request.args.get("cursor") or None)


# JSON API

@api.get("")
@documented(summary="List trades, newest first", query=TradeFilters, paginated=True,
            responses={200: page_of(TradeOut)})
@require_permission("view_trades")
def list_trades():
    return json_response(TradePageOut.json(queries.list_trades(*_list_args(), final=True)))


@api.get("/history")
@documented(summary="Finished trades (filled, cancelled, rejected)", query=TradeFilters,
            paginated=True, responses={200: page_of(TradeOut)})
@require_permission("view_trades")
def history():
    return json_response(TradePageOut.json(queries.history(*_list_args(), final=True)))


@api.get("/pending")
@documented(summary="Pending orders", query=TradeFilters, paginated=True,
            responses={200: page_of(TradeOut)})
@require_permission("view_trades")
def pending():
    return json_response(TradePageOut.json(queries.pending(*_list_args(), final=True)))


@api.get("/<trade_id>")
@documented(summary="One trade with its fills", responses={200: TradeDetailOut})
@require_permission("view_trades")
def get_trade(trade_id):
    return json_response(TradeDetailOut.of(queries.get_trade(trade_id)))


@api.post("")
@documented(summary="Place an order (market orders fill at once)", body=OrderRequest,
            idempotent=True, responses={201: TradeOut})
@require_permission("execute_trades")
def place_order():
    payload = json_body("symbol, side, quantity, order_type")
    key = validate_key(request.headers.get("Idempotency-Key"))
    placement = services.place_order(OrderRequest.model_validate(payload), key)
    headers = {"Location": url_for("trades_api.get_trade", trade_id=placement.body["id"])}
    if placement.replayed:
        headers["Idempotent-Replayed"] = "true"
    return json_response(placement.body, placement.status, headers)


@api.post("/<trade_id>/cancel")
@documented(summary="Cancel a pending order", errors=(409,),
            responses={200: TradeDetailOut})
@require_permission("execute_trades")
def cancel(trade_id):
    return json_response(TradeDetailOut.of(services.cancel_order(trade_id)))


# Pages

def _index(status: int = 200, block: str = "trades", history_cursor: str | None = None,
           pending_cursor: str | None = None, **extra):
    """The trades page (or, for htmx, its `block`): order form, pending orders, history."""
    everything = TradeFilters()
    context = {
        "symbols": queries.tradable_symbols(),
        "pending": queries.with_notional(queries.pending(everything, 20, pending_cursor)),
        "history": queries.with_notional(queries.history(everything, 25, history_cursor)),
        "history_cursor": history_cursor,
        "pending_cursor": pending_cursor,
        "form": ORDER_FORM_DEFAULTS,
        "errors": {},
        **extra,
    }
    return render_page("trades/index.html", block, status=status, **context)


@bp.get("")
@require_permission("view_trades")
def index():
    return _index()


@bp.get("/history")
@require_permission("view_trades")
def history_page():
    return _index(history_cursor=request.args.get("cursor") or None, block="history")


@bp.get("/pending")
@require_permission("view_trades")
def pending_page():
    return _index(pending_cursor=request.args.get("cursor") or None, block="pending")


@bp.post("")
@require_permission("execute_trades")
def place():
    try:
        placement = services.place_order(OrderRequest.from_form(request.form))
    except ValidationError as exc:
        return _index(422, form=request.form, errors=field_errors(exc))
    except (InvalidInput, Unprocessable) as exc:
        return _index(422, form=request.form, errors={exc.field or "form": exc.message})
    notice = _placed_notice(placement.created)
    if wants_fragment():
        return _index(notice=notice)
    flash(notice, "ok")
    return redirect(url_for("trades.index"), code=303)


def _placed_notice(trade) -> str:
    """Numbers written as the tables write them (portal.formats)."""
    what = f"{trade.side.capitalize()} {quantity(trade.quantity)} {trade.symbol}"
    if trade.status == "filled":
        return (f"{what}: filled at {price(trade.fill_price)}, "
                f"notional {money(trade.notional)}, fee {money(trade.fee)}.")
    return f"{what}: limit order at {price(trade.limit_price)} is pending."


@bp.get("/<trade_id>")
@require_permission("view_trades")
def detail(trade_id):
    return render_page("trades/detail.html", "trade", trade=queries.get_trade(trade_id))


@bp.post("/<trade_id>/cancel")
@require_permission("execute_trades")
def cancel_page(trade_id):
    from_detail = request.form.get("return_to") == "detail"
    try:
        trade = services.cancel_order(trade_id)
    except NotPending as exc:
        if from_detail:
            return render_page("trades/detail.html", "trade", status=409,
                               trade=queries.get_trade(trade_id), error=exc.message)
        return _index(409, error=exc.message)
    notice = f"Cancelled the {trade.side} order for {quantity(trade.quantity)} {trade.symbol}."
    if wants_fragment():
        if from_detail:
            return render_page("trades/detail.html", "trade", trade=trade, notice=notice)
        return _index(notice=notice)
    flash(notice, "ok")
    target = url_for("trades.detail", trade_id=trade.id) if from_detail else url_for(
        "trades.index")
    return redirect(target, code=303)
