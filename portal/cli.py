"""What every `flask --app wsgi <command>` shares: one-line errors and counted nouns.

An operator who mistypes a password or starts a command before PostgreSQL is up needs one line
that says what is wrong and what to do, not a 135-line traceback. `OperatorCommand` turns the
errors a setup can cause (the database unreachable or refusing the login, a bad setting) into
click's `Error: …` line with exit status 1; anything else is a bug and keeps its traceback.
"""

import re

import click
from sqlalchemy import exc as sa_exc

from portal.config import ConfigurationError

README_POSTGRES = 'README, "Running on PostgreSQL"'
# How libpq words "there is no server there".
UNREACHABLE = ("connection refused", "timeout", "could not translate host name",
               "name or service not known", "no route to host")


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    return f"{count} {singular if count == 1 else (plural_form or singular + 's')}"


def _server(reason: str) -> str:
    found = re.search(r'server at "([^"]+)"(?: \(([^)]+)\))?, port (\d+)', reason)
    if found:
        return f"{found.group(1)}:{found.group(3)}"
    found = re.search(r'server on socket "([^"]+)"', reason)
    return found.group(1) if found else "the configured server"


def database_error_line(error: sa_exc.DBAPIError) -> str:
    """One line: what the database said, and what the operator can do about it."""
    reason = str(error.orig or error).strip()
    fatal = re.findall(r"FATAL:\s*(.+)", reason)
    said = fatal[-1].strip() if fatal else reason.splitlines()[-1].strip()
    lowered = reason.lower()
    server = _server(reason)
    if "password authentication failed" in lowered or "no password supplied" in lowered:
        advice = "check the password in PORTAL_ADMIN_DATABASE_URL / PORTAL_DATABASE_URL"
    elif re.search(r'role "[^"]+" does not exist', said):
        advice = f"create the owner role first ({README_POSTGRES})"
    elif re.search(r'database "[^"]+" does not exist', said):
        advice = f"create the database first ({README_POSTGRES})"
    elif any(sign in lowered for sign in UNREACHABLE):
        said = f"nothing answers at {server}"
        advice = "start PostgreSQL or fix the host and port in PORTAL_ADMIN_DATABASE_URL"
    elif "unable to open database file" in lowered:
        return (f"cannot open the SQLite database: {said}; check that the folder in "
                "PORTAL_DATABASE_URL exists and is writable")
    else:
        return f"the database refused the command: {said}"
    return f"cannot use the database at {server}: {said}; {advice}"


class OperatorCommand(click.Command):
    """A command whose setup errors end in one line and exit status 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ConfigurationError as error:
            raise click.ClickException(str(error)) from None
        except (sa_exc.OperationalError, sa_exc.InterfaceError) as error:
            raise click.ClickException(database_error_line(error)) from None


def command(name: str, **kwargs):
    """`click.command` for the portal's commands (see the module docstring)."""
    return click.command(name, cls=OperatorCommand, **kwargs)
