"""Routes that serve the dashboard page and its static files from the API process.

The page is plain HTML, CSS and JavaScript modules in `dashboard/static/`, with no build step
and no request to another host, so it works offline. The files need no token because they
contain no user data; the page sends the bearer token on its own `/api/` requests.
"""

from __future__ import annotations

import re
from pathlib import Path

from aiohttp import web

STATIC_DIR = Path(__file__).resolve().parent / "static"

CONTENT_TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
}

# A flat file name with a served extension. Anything else, such as "../x" or a dot file, is 404.
_STATIC_NAME = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.(html|js|css|svg)$")

# Scripts, styles and requests only from this origin, so injected markup cannot load code.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


def add_dashboard_routes(app: web.Application) -> None:
    """Add GET / (the dashboard page) and GET /static/{name} (its files) to `app`."""
    app.router.add_get("/", serve_index)
    app.router.add_get("/static/{name}", serve_static)


async def serve_index(request: web.Request) -> web.Response:
    return _file_response(STATIC_DIR / "index.html")


async def serve_static(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    path = STATIC_DIR / name
    if not _STATIC_NAME.match(name) or not path.is_file():
        raise web.HTTPNotFound()
    return _file_response(path)


def _file_response(path: Path) -> web.Response:
    # The files are a few kilobytes each, so reading them per request keeps edits visible
    # without a restart. no-cache makes the browser revalidate after an upgrade.
    return web.Response(
        body=path.read_bytes(),
        content_type=CONTENT_TYPES[path.suffix],
        charset="utf-8",
        headers={
            "Cache-Control": "no-cache",
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )
