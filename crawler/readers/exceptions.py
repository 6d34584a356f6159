"""Why an account could not be read: typed exceptions whose `reason` is stored as the 无法读取 reason.

Modelled on changedetection.io's `content_fetchers/exceptions/`: a reader never returns an empty list to
mean "no posts" when it could not see the posts; it raises one of these, and the caller stores
`exc.reason` (Chinese, shown to users) beside the account's status 无法读取 (DESIGN.md: never "silent").
Whether to ask again is decided by the type: `read_accounts` retries `Unreachable` once at once; every other
refusal waits for the next scheduled read.
"""
from __future__ import annotations


class ReadError(Exception):
    """An account could not be read. `reason` is the user-facing Chinese text stored for 无法读取."""

    base_reason = "无法读取"
    kind = "error"  # a stable machine word for logs and tests

    def __init__(self, detail: str = "") -> None:
        self.detail = detail
        self.reason = f"{self.base_reason}（{detail}）" if detail else self.base_reason
        super().__init__(self.reason)


class LoginWall(ReadError):
    """The platform asks for a login before it shows the posts (even to a real browser)."""
    base_reason, kind = "需要登录", "login_wall"


class VisitorWall(ReadError):
    """A visitor check (Weibo's Sina Visitor System, WeChat's 环境异常) that not even the browser passed."""
    base_reason, kind = "访客验证未通过", "visitor_wall"

    def __init__(self, detail: str = "", location: str | None = None) -> None:
        super().__init__(detail)
        self.location = location  # the visitor page we were sent to, for the browser to open


class RateLimited(ReadError):
    """HTTP 403/418 or an anti-spider page: the platform refuses us for now (risk-control cool-down)."""
    base_reason, kind = "平台限制访问", "rate_limited"


class PageChanged(ReadError):
    """The answer is not what the reader knows how to read (markup/JSON changed, or it holds no post)."""
    base_reason, kind = "页面结构已变化或无内容", "page_changed"


class NotFound(ReadError):
    """The address answers 404: the account or article does not exist (any more)."""
    base_reason, kind = "地址不存在", "not_found"


class Deleted(NotFound):
    """The article was deleted by its publisher or removed for violations."""
    base_reason, kind = "文章已删除", "deleted"


class BridgeExpired(ReadError):
    """An RSS bridge (WeWe RSS, RSSHub) lost its WeChat login: the feed no longer shows the account."""
    base_reason, kind = "订阅源登录失效", "bridge_expired"


class Unreachable(ReadError):
    """Network failure: connection refused or reset, DNS failure, timeout, or a 5xx answer."""
    base_reason, kind = "无法连接/超时", "unreachable"


class UnsupportedUrl(ReadError):
    """The configured URL is not an address this platform's reader understands (a settings mistake)."""
    base_reason, kind = "账号地址无法识别", "unsupported_url"


class BrowserUnavailable(ReadError):
    """The page needs a browser and Chromium could not be started on this machine."""
    base_reason, kind = "浏览器无法启动", "browser_unavailable"


class ReaderCrashed(ReadError):
    """A bug in a reader: kept apart from the platform's refusals so one account cannot sink a batch."""
    base_reason, kind = "读取程序出错", "crashed"


def too_large_reason(limit_bytes: int) -> str:
    """The failure reason of a page over `[crawl] max_page_mb` (the crawl and the plain client say the same)."""
    return f"页面超过 {limit_bytes / 1024 / 1024:g} MB，已停止读取"


class TooLarge(ReadError):
    """The body is larger than `[crawl] max_page_mb`, raw or decompressed: reading stopped there."""
    kind = "too_large"

    def __init__(self, limit_bytes: int, status: int | None = None) -> None:
        super().__init__()
        self.limit_bytes, self.status = limit_bytes, status  # status: the page did answer (probes count it)
        self.reason = too_large_reason(limit_bytes)
        self.args = (self.reason,)
