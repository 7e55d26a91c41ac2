"""Members: the list, role changes, removal and invitations (JSON for scripts, the
`/admin/members` page for people), and the public `/invite/<token>` page where an invitation
is accepted. Pages, fragments and JSON share the same queries and services."""

from flask import Blueprint, flash, g, redirect, request, url_for
from flask_jwt_extended import set_access_cookies
from pydantic import ValidationError

from portal.auth.context import issue_token
from portal.auth.views import login_budget
from portal.errors import BadCredentials, Conflict, Gone, http_status
from portal.forms import field_errors
from portal.members import queries, services
from portal.members.invitation_lookup import open_invitation
from portal.members.schemas import (
    InvitationCreate,
    InvitationCreated,
    InvitationOut,
    MemberOut,
    NewAccount,
    RoleChange,
    invitation_json,
    invitation_page_json,
    member_json,
    member_page_json,
)
from portal.openapi import documented, page_of
from portal.pagination import parse_limit
from portal.permissions import ROLES, private, public, require_permission
from portal.security import refuse_cross_site_post
from portal.web import json_body, json_response, render_page, wants_fragment

bp = Blueprint("members", __name__)
api = Blueprint("members_api", __name__, url_prefix="/api")
TAGS = ("members",)


def _invite_url(token: str) -> str:
    return url_for("members.invitation", token=token, _external=True)


# JSON, for scripts.

@api.get("/members")
@documented(summary="List the organisation's members, newest first", paginated=True,
            responses={200: page_of(MemberOut)}, tags=TAGS)
@require_permission("manage_users")
def list_members():
    page = queries.members_page(parse_limit(request.args.get("limit")),
                                request.args.get("cursor") or None)
    return json_response(member_page_json(page))


@api.patch("/members/<user_id>")
@documented(summary="Change a member's role (a demotion ends their sessions here)",
            body=RoleChange, responses={200: MemberOut}, errors=(409,), tags=TAGS)
@require_permission("manage_users")
def change_role(user_id):
    data = RoleChange.model_validate(json_body("role"))
    return json_response(member_json(services.change_role(user_id, data.role)))


@api.delete("/members/<user_id>")
@documented(summary="Remove a member from the organisation (their sessions here end)",
            responses={204: None}, errors=(409,), tags=TAGS)
@require_permission("manage_users")
def remove_member(user_id):
    services.remove_member(user_id)
    return "", 204


@api.post("/invitations")
@documented(summary="Invite an email address; the link is shown only in this answer",
            body=InvitationCreate, responses={201: InvitationCreated}, errors=(409,), tags=TAGS)
@require_permission("manage_users")
def create_invitation():
    data = InvitationCreate.model_validate(json_body("email and role"))
    invitation, token = services.invite(data)
    body = InvitationCreated(id=invitation.id, email=invitation.email, role=invitation.role,
                             expires_at=invitation.expires_at, invite_url=_invite_url(token))
    return json_response(body.model_dump(mode="json"), 201)


@api.get("/invitations")
@documented(summary="List pending invitations, newest first", paginated=True,
            responses={200: page_of(InvitationOut)}, tags=TAGS)
@require_permission("manage_users")
def list_invitations():
    page = queries.pending_invitations_page(parse_limit(request.args.get("limit")),
                                            request.args.get("cursor") or None)
    return json_response(invitation_page_json(page))


@api.post("/invitations/<invitation_id>/revoke")
@documented(summary="Revoke a pending invitation (harmless twice)",
            responses={200: InvitationOut}, errors=(409,), tags=TAGS)
@require_permission("manage_users")
def revoke_invitation(invitation_id):
    return json_response(invitation_json(services.revoke_invitation(invitation_id)))


# The admin page and its fragments.

def _page_context(block: str, **extra) -> dict:
    """What the page shows; for an htmx swap of one block, only what that block shows (the
    invite form's answer reads neither list, and the pending list fetches itself)."""
    args = request.args
    whole = not wants_fragment()
    context = {"roles": ROLES, "cursor": args.get("cursor") or None, "form": {}, "errors": {},
               **extra}
    if whole or block == "members":
        context["page"] = queries.members_page(parse_limit(args.get("limit")),
                                               args.get("cursor") or None)
    if whole or block == "invitations":
        context["invitations"] = queries.pending_invitations_page(parse_limit(None), None)
    return context


@bp.get("/admin/members")
@require_permission("manage_users")
def index():
    return render_page("members/index.html", "members", **_page_context("members"))


@bp.get("/admin/members/invitations")
@require_permission("manage_users")
def pending():
    return render_page("members/index.html", "invitations", **_page_context("invitations"))


def _member_row(membership, status: int = 200, error: str | None = None):
    return render_page("members/_member_row.html", status=status, member=membership,
                       roles=ROLES, error=error)


def _member_refused(user_id, status: int, message: str):
    """A refused change: the row again with the reason (htmx), or back to the page."""
    if wants_fragment():
        return _member_row(queries.get_member(user_id), status, message)
    flash(message, "error")
    return redirect(url_for("members.index"), code=303)


@bp.post("/admin/members/<user_id>/role")
@require_permission("manage_users")
def change_role_form(user_id):
    try:
        data = RoleChange.model_validate({"role": request.form.get("role", "")})
    except ValidationError:
        return _member_refused(user_id, 400, "role: choose viewer, trader or admin")
    try:
        membership = services.change_role(user_id, data.role)
    except Conflict as exc:
        return _member_refused(user_id, 409, exc.message)
    if wants_fragment():
        return _member_row(membership)
    flash(f"{membership.user.email} is now {membership.role}.", "success")
    return redirect(url_for("members.index"), code=303)


@bp.post("/admin/members/<user_id>/remove")
@require_permission("manage_users")
def remove_form(user_id):
    membership = queries.get_member(user_id)
    if request.form.get("confirm") != "yes":
        # Without JavaScript there is no confirm dialog: ask on a page of its own.
        return render_page("members/confirm_remove.html", member=membership)
    try:
        services.remove_member(user_id)
    except Conflict as exc:
        return _member_refused(user_id, 409, exc.message)
    if wants_fragment():
        return ""  # the row disappears
    flash(f"{membership.user.email} has been removed.", "success")
    return redirect(url_for("members.index"), code=303)


@bp.post("/admin/members/invitations")
@require_permission("manage_users")
def invite_form():
    try:
        invitation, token = services.invite(InvitationCreate.from_form(request.form))
    except ValidationError as exc:
        return render_page("members/index.html", "invite", status=422,
                           **_page_context("invite", form=request.form, errors=field_errors(exc)))
    except Conflict as exc:
        errors = {"email": exc.message}
        return render_page("members/index.html", "invite", status=409,
                           **_page_context("invite", form=request.form, errors=errors))
    response = render_page("members/index.html", "invite", **_page_context(
        "invite", created=invitation, invite_url=_invite_url(token)))
    # The pending list (its own block) fetches itself again.
    response.headers["HX-Trigger"] = "invitations-changed"
    return response


@bp.post("/admin/members/invitations/<invitation_id>/revoke")
@require_permission("manage_users")
def revoke_form(invitation_id):
    try:
        invitation = services.revoke_invitation(invitation_id)
    except Conflict as exc:
        if wants_fragment():
            return render_page("members/index.html", "invitations", status=409,
                               **_page_context("invitations", invitation_error=exc.message))
        flash(exc.message, "error")
        return redirect(url_for("members.index"), code=303)
    if wants_fragment():
        return render_page("members/index.html", "invitations", **_page_context("invitations"))
    flash(f"The invitation for {invitation.email} has been revoked.", "success")
    return redirect(url_for("members.index"), code=303)


# Accepting an invitation: public, before the person has any token for the organisation.

def _invited_email() -> str:
    """Attempts on an invitation spend the invited email's login budget (shared with /login):
    holding links, as the inviting admin does, buys no extra guesses at anyone's password."""
    ticket = _ticket()
    return ticket.email if ticket else ""


def _ticket():
    if "invitation_ticket" not in g:
        g.invitation_ticket = open_invitation(request.view_args.get("token", ""))
    return g.invitation_ticket


@bp.route("/invite/<token>", methods=["GET", "POST"])
@public
@private
@login_budget(_invited_email)
def invitation(token):
    ticket = _ticket()
    if ticket is None:
        return render_page("members/invitation.html", status=404, ticket=None)
    if request.method == "POST":
        # Accepting signs the browser in: a hostile page must not sign a visitor in to an
        # account of its own making (login CSRF).
        refuse_cross_site_post()
    if request.method == "GET":
        return render_page("members/invitation.html", ticket=ticket, form={}, errors={})
    form = request.form
    try:
        if form.get("account") == "existing":
            accepted = services.accept_with_existing_account(ticket, form.get("password", ""))
        else:
            accepted = services.accept_with_new_account(ticket, NewAccount.from_form(form))
    except ValidationError as exc:
        return render_page("members/invitation.html", status=422, ticket=ticket,
                           form=form, errors=field_errors(exc))
    except Gone:
        return render_page("members/invitation.html", status=404, ticket=None)
    except (BadCredentials, Conflict) as exc:
        # Either way the answer is the existing account's password: show that form.
        return render_page("members/invitation.html", status=http_status(exc), ticket=ticket,
                           form=form, errors={exc.field or "form": exc.message},
                           account="existing")
    response = redirect(url_for("system.dashboard"), code=303)
    set_access_cookies(response, issue_token(accepted.user, accepted.membership))
    return response
