"""AlphaPulse Portal: a multi-tenant operator portal for trading desks."""

import os

from flask import Flask

__version__ = "0.1.0"


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_relative_config=True,
        template_folder=os.path.join(os.path.dirname(__file__), os.pardir, "templates"),
        static_folder=os.path.join(os.path.dirname(__file__), os.pardir, "static"),
    )
    os.makedirs(app.instance_path, exist_ok=True)
    register_config(app, test_config)
    register_logging(app)
    register_database(app)
    # The auth hook must run before the tenant allowance's (portal.ratelimits), because the
    # API limit is keyed by the tenant that the hook finds in the token.
    register_request_context(app)
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    return app


def register_config(app: Flask, test_config: dict | None) -> None:
    from portal.config import from_environment

    app.config.from_mapping(from_environment(app.instance_path))
    if test_config:
        app.config.from_mapping(test_config)


def register_logging(app: Flask) -> None:
    from portal.logging import configure_logging

    configure_logging(app)


def register_database(app: Flask) -> None:
    from portal import tenancy

    tenancy.init_app(app)


def register_request_context(app: Flask) -> None:
    from portal.apikeys.gate import init_app as init_api_key_gate
    from portal.auth.context import init_app as init_auth_context
    from portal.web import init_app as init_web

    init_web(app)
    # A script's API key is bound first; the token gate then leaves that request alone.
    init_api_key_gate(app)
    init_auth_context(app)


def register_extensions(app: Flask) -> None:
    from portal import observability, ratelimits
    from portal.auth import signing
    from portal.extensions import jwt, limiter

    jwt.init_app(app)
    signing.init_app(jwt)
    limiter.init_app(app)
    ratelimits.init_app(app, limiter)
    observability.init_app(app)


def register_blueprints(app: Flask) -> None:
    from portal.alerts.views import api as alerts_api
    from portal.alerts.views import bp as alerts
    from portal.apikeys.views import api as apikeys_api
    from portal.apikeys.views import bp as apikeys
    from portal.audit.views import api as audit_api
    from portal.audit.views import bp as audit
    from portal.auth.views import api as auth_api
    from portal.auth.views import bp as auth
    from portal.correlation.views import api as correlation_api
    from portal.correlation.views import bp as correlation
    from portal.members.views import api as members_api
    from portal.members.views import bp as members
    from portal.metrics.views import api as metrics_api
    from portal.metrics.views import bp as metrics
    from portal.observability import bp as internal
    from portal.openapi.views import bp as openapi
    from portal.system.views import api as system_api
    from portal.system.views import bp as system
    from portal.trades.views import api as trades_api
    from portal.trades.views import bp as trades

    for blueprint in (
        auth, auth_api, system, system_api, alerts, alerts_api, trades, trades_api,
        metrics, metrics_api, correlation, correlation_api, audit, audit_api, internal,
        openapi, apikeys, apikeys_api,
        members, members_api,
    ):
        app.register_blueprint(blueprint)


def register_errorhandlers(app: Flask) -> None:
    from portal.web import register_errorhandlers as register

    register(app)


def register_commands(app: Flask) -> None:
    from portal.commands import register

    register(app)
