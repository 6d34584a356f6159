"""The dashboard's application: `create_app(settings)` is what `monitor serve` runs (uvicorn) and what tests use.

The routes are thin: each calls the application layer (`monitors.app.Monitor`, the same one the CLI and the
daemon use) and renders what it returns; no evaluation is done here.
"""
from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from config import Settings
from monitors.app import Monitor
from monitors.web.deps import STATIC, LoginRequired
from monitors.web.security import Security

TITLE = "政府网站与政务新媒体监测"
ERROR_TITLES = {400: "请求有误", 403: "无权访问", 404: "页面不存在", 405: "不支持的操作", 409: "状态已变化",
                422: "请求有误"}


def create_app(settings: Settings) -> FastAPI:
    monitor = Monitor(settings)
    sessions = monitor.prepare()
    app = FastAPI(title=TITLE, version="1", docs_url="/api/docs", redoc_url=None, openapi_url="/openapi.json",
                  description="区大数据服务中心的监测数据：各单位的检查结果、季度通报数据、问题及整改状态。")
    app.state.monitor = monitor
    app.state.security = Security.for_settings(settings, sessions)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": "需要登录（区大数据服务中心）或本单位的专用链接"}, status_code=401)
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        """The API answers JSON; a page answers a page a person can read, with the way back."""
        if request.url.path.startswith(("/api/", "/openapi.json")):
            return await http_exception_handler(request, exc)
        from monitors.web.deps import current_viewer, render

        detail = exc.detail if isinstance(exc.detail, str) else ERROR_TITLES.get(exc.status_code, "出错了")
        response = render(request, "error.html", current_viewer(request), status_code=exc.status_code,
                          title=ERROR_TITLES.get(exc.status_code, "出错了"), detail=detail)
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    @app.middleware("http")
    async def security_headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        response: Response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")  # unit tokens never leave in a Referer
        response.headers.setdefault("Content-Security-Policy",
                                    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'")
        return response

    from monitors.web import api, fixes, pages

    app.include_router(pages.router)
    app.include_router(fixes.router)
    app.include_router(api.router, prefix="/api")
    return app
