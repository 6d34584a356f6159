"""What every route of the dashboard shares: the application layer, the viewer, templates, CSRF."""
from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from monitors.app import Monitor
from monitors.web.security import SESSION_COOKIE, Security, Viewer

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
templates = Jinja2Templates(directory=str(TEMPLATES))  # autoescape on for .html: crawled text is untrusted


class LoginRequired(Exception):
    """The centre's page asked by someone not logged in: pages redirect to /login, the API answers 401."""


def app_monitor(request: Request) -> Monitor:
    monitor: Monitor = request.app.state.monitor
    return monitor


def app_security(request: Request) -> Security:
    security: Security = request.app.state.security
    return security


def current_viewer(request: Request, unit: str | None = None, token: str | None = None) -> Viewer:
    """The centre (open access on loopback, or a valid session), else the unit whose token is given, else nobody."""
    security = app_security(request)
    if security.open_access or security.session_valid(request.cookies.get(SESSION_COOKIE)):
        return Viewer("centre")
    token = token if token is not None else request.query_params.get("token", "")
    if unit and security.unit_token_valid(unit, token):
        return Viewer("unit", unit)
    return Viewer("anonymous")


def require_centre(request: Request) -> Viewer:
    viewer = current_viewer(request)
    if viewer.kind != "centre":
        raise LoginRequired()
    return viewer


def require_unit(request: Request, unit: str, token: str | None = None) -> Viewer:
    """The centre, or the unit through its own token; anyone else is refused (403: a token of another unit
    opens nothing here)."""
    viewer = current_viewer(request, unit, token)
    if viewer.kind == "anonymous":
        if request.query_params.get("token") or token:
            raise HTTPException(status_code=403, detail="链接无效或已过期，请使用本单位的专用链接")
        raise LoginRequired()
    return viewer


def check_csrf(request: Request, viewer: Viewer, token: str) -> None:
    if not app_security(request).csrf_valid(viewer, token):
        raise HTTPException(status_code=403, detail="表单已失效，请刷新页面后重试")


def unit_link(request: Request, unit: str, viewer: Viewer) -> str:
    """The unit's page as this viewer reaches it (a unit keeps its token in every link)."""
    path = f"/u/{quote(unit, safe='')}"
    if viewer.kind == "unit":
        return f"{path}?token={app_security(request).unit_token(unit)}"
    return path


def render(request: Request, name: str, viewer: Viewer, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A page from templates/, with the viewer, its CSRF token and the link helper every template may use."""
    security = app_security(request)
    return templates.TemplateResponse(request, name, {
        "viewer": viewer, "csrf": security.csrf_token(viewer),
        "unit_link": lambda unit: unit_link(request, unit, viewer), **context}, status_code=status_code)
