"""The readers' web application: subscribe, confirm, manage, unsubscribe, archive, feeds.

`create_app(settings)` builds a Starlette application; `digest web` serves it
with uvicorn and `digest serve --web` runs it beside the scheduler. Handlers
stay thin: they parse the request, call one store function and render one
template. Signing lives in `digest.signing`, below the web in the import graph,
so emails can carry the links without importing this package.
"""

from __future__ import annotations

from digest.web.app import create_app

__all__ = ["create_app"]
