"""The pages' static files (the vendored htmx and its SSE extension, the stylesheet), served by
checkout itself: nothing loads from the internet at run time.

Each file's address carries a digest of its content (`/static/site.css?v=1a2b3c4d`), so a browser
may keep it for a year: a changed file gets a new address. The files are read once, at import.
Refreshing htmx: see the README ("Web pages"); the version is in the file name.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse, Response

STATIC = Path(__file__).parent / "static"
HTMX = "htmx-2.0.11.min.js"
HTMX_SSE = "htmx-ext-sse-2.2.4.min.js"
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
YEAR = 365 * 24 * 3600

_FILES: dict[str, bytes] = {p.name: p.read_bytes() for p in STATIC.iterdir() if p.suffix in TYPES}
_VERSIONS = {name: hashlib.sha256(body).hexdigest()[:10] for name, body in _FILES.items()}

router = APIRouter(include_in_schema=False)


def asset_url(name: str) -> str:
    """The file's address, with the digest that makes caching it for a year safe."""
    return f"/static/{name}?v={_VERSIONS[name]}"


def file_body(name: str) -> bytes:
    """One of the files as read at import (the service worker is also served at `/sw.js`)."""
    return _FILES[name]


@router.get("/static/{name}")
async def static_file(name: str) -> Response:
    body = _FILES.get(name)
    if body is None:
        return PlainTextResponse("No such file.", status_code=404, headers={"Cache-Control": "no-store"})
    return Response(
        body,
        media_type=TYPES[Path(name).suffix],
        headers={
            "Cache-Control": f"public, max-age={YEAR}, immutable",
            "ETag": f'"{_VERSIONS[name]}"',
            "X-Content-Type-Options": "nosniff",
        },
    )
