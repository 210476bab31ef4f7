"""Handlers of the archive pages and feeds: parse the path, build the page
(digest.web.archive / feeds), render. Reads only; they never wait for a writer."""

from __future__ import annotations

import re
from collections.abc import Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from digest.web import archive, feeds
from digest.web.context import Web

_PAGE = re.compile(r"[1-9][0-9]*")
NOT_FOUND = ("there is no page here", "Start from the latest digest, or search.")


async def _show(request: Request, build: Callable[[Web], archive.Page]) -> Response:
    web: Web = request.app.state.web

    def answer() -> Response:
        try:
            name, context = build(web)
        except archive.NotFound:
            return web.error(404, *NOT_FOUND)
        return web.page(name, **context)

    key = f"{request.url.path}?{request.url.query}"
    return await run_in_threadpool(web.cached, key, answer)


def _page_number(request: Request) -> int:
    return int(request.path_params.get("page", 1))


async def latest(request: Request) -> Response:
    return await _show(request, lambda w: archive.day_page(w.db(), w.settings, w.root, None))


async def day(request: Request) -> Response:
    when, page = request.path_params["day"], _page_number(request)
    return await _show(request, lambda w: archive.day_page(w.db(), w.settings, w.root, when, page))


async def days(request: Request) -> Response:
    page = _page_number(request)
    return await _show(request, lambda w: archive.days_page(w.db(), page))


async def tag(request: Request) -> Response:
    name, page = request.path_params["tag"], _page_number(request)
    return await _show(request, lambda w: archive.tag_page(w.db(), w.settings, w.root, name, page))


async def paper(request: Request) -> Response:
    pid = request.path_params["paper"]
    return await _show(request, lambda w: archive.paper_page(w.db(), w.settings, w.root, pid))


async def search(request: Request) -> Response:
    query = request.query_params.get("q", "")[:1000]
    raw = request.query_params.get("page", "1")
    if not _PAGE.fullmatch(raw):  # "abc", "-1", "0": a bad address, not page 1
        web: Web = request.app.state.web
        return web.error(400, "page must be a whole number from 1", "Search again from the form.")
    page = int(raw[:10])  # past the last page: 404, as for the day and tag pages
    return await _show(
        request, lambda w: archive.search_page(w.db(), w.settings, w.root, query, page)
    )


async def feed(request: Request) -> Response:
    web: Web = request.app.state.web
    name = request.path_params.get("tag")

    def answer() -> Response:
        base = web.settings.web.public_url or ""
        if name is None:
            body = feeds.all_digests(web.db(), web.settings, base)
        elif name in web.settings.tags:
            body = feeds.tag_feed(web.db(), web.settings, base, name)
        else:
            return web.error(404, *NOT_FOUND)
        return Response(body, media_type="application/atom+xml; charset=utf-8")

    return await run_in_threadpool(web.cached, request.url.path, answer)
