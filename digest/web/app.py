"""The Starlette application: routes, error pages, security headers."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from digest.config import Settings
from digest.errors import BusyError, ConfigError
from digest.mail.transport import Transport
from digest.render import environment
from digest.signing import web_secret
from digest.web import manage, pages, subscribe, unsubscribe, vote
from digest.web.context import Web

log = logging.getLogger(__name__)

# No scripts anywhere; styles only from our own stylesheet; forms post only here.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self';"
        " frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def create_app(
    settings: Settings,
    *,
    env: dict[str, str] | None = None,
    clock: Callable[[], datetime] | None = None,
    transport: Callable[[], Transport] | None = None,
) -> Starlette:
    """The readers' application for `settings`; ConfigError without a public URL or key."""
    if not settings.web.public_url:
        raise ConfigError(
            "[web] public_url is not set: set it to the address readers use, e.g."
            ' "https://papers.example.org" (links in emails are built from it)'
        )
    web = Web(settings, web_secret(settings, env), transport=transport)
    if clock is not None:
        web.clock = clock
    environment(settings.digest.templates_dir)  # a broken templates_dir fails now

    async def not_found(request: Request, exc: Exception) -> Response:
        return web.error(
            404, "there is no page here", "Check the address, or start from the latest digest."
        )

    async def http_error(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 500)
        words = {405: "this page does not accept that request", 413: "that request is too large"}
        return web.error(status, words.get(status, "that request could not be handled"))

    async def busy(request: Request, exc: Exception) -> Response:
        page = web.error(503, "we are busy sending today's digest", "Please try again in a minute.")
        page.headers["Retry-After"] = "30"
        return page

    async def server_error(request: Request, exc: Exception) -> Response:
        log.error("web: %s %s failed: %s", request.method, request.url.path, exc)
        return web.error(500, "something went wrong on our side", "Please try again later.")

    async def css(request: Request) -> Response:
        return stylesheet(web)

    routes = [
        Route("/static/web.css", css),
        Route("/", pages.latest),
        Route("/digest/{day}/", pages.day),
        Route("/digest/{day}/page/{page:int}/", pages.day),
        Route("/digests/", pages.days),
        Route("/digests/page/{page:int}/", pages.days),
        Route("/tag/{tag}/", pages.tag),
        Route("/tag/{tag}/page/{page:int}/", pages.tag),
        Route("/tag/{tag}/feed.atom", pages.feed),
        Route("/feed.atom", pages.feed),
        Route("/paper/{paper:int}/", pages.paper),
        Route("/search", pages.search),
        Route("/u/{token}", unsubscribe.unsubscribe, methods=["GET", "POST"]),
        Route("/v/{token}", vote.vote, methods=["GET", "POST"]),
        Route("/subscribe", subscribe.subscribe_form, methods=["GET"]),
        Route("/subscribe", subscribe.subscribe_post, methods=["POST"]),
        Route("/confirm/{token}", subscribe.confirm_page, methods=["GET"]),
        Route("/confirm/{token}", subscribe.confirm_post, methods=["POST"]),
        Route("/m/{token}", manage.manage_page, methods=["GET"]),
        Route("/m/{token}", manage.manage_post, methods=["POST"]),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(SecurityHeaders)],
        exception_handlers={
            404: not_found,
            HTTPException: http_error,
            BusyError: busy,
            Exception: server_error,
        },
    )
    app.state.web = web
    return app


class SecurityHeaders:
    """Adds SECURITY_HEADERS to every response (plain ASGI: no per-request task)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, with_headers)


def stylesheet(web: Web) -> Response:
    env = environment(web.settings.digest.templates_dir)
    css, _, _ = env.loader.get_source(env, "web.css")  # type: ignore[union-attr]
    return Response(css, media_type="text/css", headers={"Cache-Control": "public, max-age=3600"})
