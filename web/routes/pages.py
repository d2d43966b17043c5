"""The dashboard's pages and assets: static files, no build step.

The chart library comes from the npm registry into web/frontend/node_modules (`make frontend`);
without it the pages still work and say that charts are unavailable.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, HTTPException
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

WEB_DIR = Path(__file__).resolve().parent.parent
STATIC_DIR = WEB_DIR / "static"
CHARTS_BUNDLE = (
    WEB_DIR
    / "frontend"
    / "node_modules"
    / "lightweight-charts"
    / "dist"
    / "lightweight-charts.standalone.production.js"
)
# The pages load only their own scripts and styles and call only this origin: no inline script
# or style element (the chart library sets element styles through the DOM, which CSP allows).
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

router = APIRouter(include_in_schema=False)


@router.get("/")
async def root() -> RedirectResponse:
    return RedirectResponse("/dashboard")


@router.get("/favicon.ico")
async def favicon() -> Response:
    return Response(status_code=204)


@router.get("/login")
async def login_page() -> FileResponse:
    return FileResponse(STATIC_DIR / "login.html", headers=PAGE_HEADERS)


@router.get("/dashboard")
async def dashboard_page() -> FileResponse:
    return FileResponse(STATIC_DIR / "dashboard.html", headers=PAGE_HEADERS)


@router.get("/vendor/lightweight-charts.js")
async def chart_library() -> FileResponse:
    if not CHARTS_BUNDLE.exists():
        raise HTTPException(404, "chart library not installed: run `make frontend`")
    return FileResponse(CHARTS_BUNDLE, media_type="text/javascript")


def mount_static(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
