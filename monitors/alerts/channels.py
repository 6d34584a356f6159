"""The Apprise channel: alerts pushed to 钉钉 (dingtalk://), 企业微信 group robots (wecombot://) and webhooks
(json://) besides the email, through the same outbox (one row per alert and URL: nothing lost, nothing twice).

Settings name the URLs (`[[units]] notify`, `[alerts] notify` for the centre's summary) with secrets as
`{env:NAME}` placeholders. The outbox row keeps the URL as written; `{env:NAME}` is read from the environment
only here, when sending, and the expanded URL never reaches the database, a log line or an error message
(Apprise's own log records are captured during a send and every secret value is masked in them). A missing
variable fails that send with a reason naming the variable; the next run retries it.

What a robot gets: the email's subject as the title and its plain text cut to what the robot accepts
(`message_limit`: 企业微信 text messages take 2,048 bytes, 钉钉 about 20,000), ending with 详见邮件 when cut.

Outcomes: Apprise's True is sent; False (the robot or webhook refused, or no connection) is failed and retried
by the next run, the reason taken from Apprise's log; a request that went out and got no answer (read timeout,
connection closed without a response) may have been delivered, so it raises DeliveryInDoubt (never resent by
itself, as for email).
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from urllib.parse import quote

from config import Settings
from config.model import NOTIFY_PLACEHOLDER
from monitors.alerts.compose import Email
from storage.queries.outbox import DeliveryInDoubt

log = logging.getLogger(__name__)

_PLACEHOLDER = re.compile(NOTIFY_PLACEHOLDER)
# UTF-8 bytes of title + body a robot takes in one message (企业微信 text: 2,048 bytes; 钉钉: 20,000 bytes for
# the request); others (webhooks) get the same as 钉钉: a robot message is a pointer to the email, not the email.
MESSAGE_BYTES = {"wecombot": 2000, "dingtalk": 12000}
DEFAULT_MESSAGE_BYTES = 12000
CUT_NOTE = "……（内容较长，以下从略，详见邮件）"
# Apprise's debug lines for a request that went out without an answer (requests' ReadTimeout, RemoteDisconnected)
_NO_ANSWER = ("Read timed out", "Remote end closed connection without response")


class NotifyError(Exception):
    """A push that failed; the message (Chinese, no secret) is what the outbox records."""


def notify_targets(settings: Settings) -> dict[str | None, tuple[str, ...]]:
    """Each unit's notify URLs by name, the centre's (for the summary) under None; only those with some."""
    targets: dict[str | None, tuple[str, ...]] = {u.name: u.notify for u in settings.units if u.notify}
    if settings.alerts.notify:
        targets[None] = settings.alerts.notify
    return targets


def channel_key(alert_key: str, url: str) -> str:
    """The outbox key of one alert pushed to one URL: the email's key and a digest of both (≤ 300 characters,
    unique even when a long key is cut)."""
    digest = hashlib.sha1(f"{alert_key}\n{url}".encode()).hexdigest()[:16]
    suffix = f"|apprise:{digest}"
    return alert_key[:300 - len(suffix)] + suffix


def scheme(url: str) -> str:
    return url.partition("://")[0].lower() if "://" in url else ""


def message_limit(url: str) -> int:
    return MESSAGE_BYTES.get(scheme(url), DEFAULT_MESSAGE_BYTES)


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def robot_text(url: str, title: str, text: str) -> str:
    """The email's plain text cut to what the URL's robot takes with the title (whole lines when it can),
    ending with CUT_NOTE when cut."""
    budget = message_limit(url) - _utf8_len(title) - 2  # the title's line and its CRLF
    text = text.rstrip()
    if _utf8_len(text) <= budget:
        return text
    budget -= _utf8_len(CUT_NOTE) + 1
    kept = text.encode("utf-8")[:max(budget, 0)].decode("utf-8", "ignore")
    if "\n" in kept[len(kept) // 2:]:  # end on a whole line unless that drops more than half
        kept = kept[:kept.rindex("\n")]
    return kept.rstrip() + "\n" + CUT_NOTE


def expand(url: str, environ: Mapping[str, str] | None = None) -> tuple[str, dict[str, str]]:
    """The URL with each {env:NAME} replaced from the environment, and {secret value: placeholder} to mask.
    Raises NotifyError naming a variable that is not set (never a value)."""
    env = os.environ if environ is None else environ
    missing = [name for name in dict.fromkeys(_PLACEHOLDER.findall(url)) if not env.get(name)]
    if missing:
        raise NotifyError(f"环境变量 {'、'.join(missing)} 未设置，无法推送到 {url}")
    secrets: dict[str, str] = {}
    for match in _PLACEHOLDER.finditer(url):
        value = env[match.group(1)]
        for form in {value, quote(value, safe=""), quote(value)}:
            secrets[form] = match.group(0)
    return _PLACEHOLDER.sub(lambda m: env[m.group(1)], url), secrets


def mask(text: str, secrets: Mapping[str, str]) -> str:
    """The text with every secret value replaced by its placeholder (longest first)."""
    for value in sorted(secrets, key=len, reverse=True):
        if value:
            text = text.replace(value, secrets[value])
    return text


class _Masking(logging.Filter):
    """On a logger during a send: masks the secrets in every record (for any handler). On Apprise's, keeps the
    records here instead (`capture`): our own log line says what happened."""

    def __init__(self, secrets: Mapping[str, str], capture: bool) -> None:
        super().__init__()
        self.secrets = secrets
        self.capture = capture
        self.lines: list[tuple[int, str]] = []

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = mask(record.getMessage(), self.secrets), None
        if self.capture:
            self.lines.append((record.levelno, record.msg))
        return not self.capture


# The HTTP libraries under Apprise log request lines (a path may hold a token): masked during a send. A logger's
# filters see only its own records, not its children's, so each is named.
_HTTP_LOGGERS = ("urllib3.connectionpool", "urllib3.connection", "urllib3.poolmanager", "urllib3.util.retry",
                 "urllib3.response", "requests")


@contextmanager
def _apprise_log(secrets: Mapping[str, str]) -> Iterator[list[tuple[int, str]]]:
    """Apprise's log records of one send, masked and captured (DEBUG included: it says why a request failed);
    the HTTP libraries' records masked."""
    apprise_logger = logging.getLogger("apprise")
    captured = _Masking(secrets, capture=True)
    masking = _Masking(secrets, capture=False)
    level = apprise_logger.level
    apprise_logger.addFilter(captured)
    apprise_logger.setLevel(logging.DEBUG)
    for name in _HTTP_LOGGERS:
        logging.getLogger(name).addFilter(masking)
    try:
        yield captured.lines
    finally:
        for name in _HTTP_LOGGERS:
            logging.getLogger(name).removeFilter(masking)
        apprise_logger.setLevel(level)
        apprise_logger.removeFilter(captured)


def _reason(lines: list[tuple[int, str]]) -> str:
    warnings = [text for level, text in lines if level >= logging.WARNING]
    return warnings[-1] if warnings else "推送服务未确认收到"


class AppriseChannel:
    """钉钉、企业微信群机器人和 Webhook（Apprise）：地址中的 {env:变量名} 在发送时才从环境变量读取。"""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self.environ = environ  # None: os.environ, read at each send

    def __repr__(self) -> str:
        return "AppriseChannel()"

    def send(self, email: Email, message_key: str = "") -> str | None:
        """Push one outbox row: `email.to` holds its one URL (placeholders kept), subject and text what to say."""
        import apprise

        if len(email.to) != 1:
            raise NotifyError("推送消息应只有一个通知地址")
        template = email.to[0]
        url, secrets = expand(template, self.environ)
        with _apprise_log(secrets) as lines:
            try:
                pusher = apprise.Apprise()
                if not pusher.add(url):
                    raise NotifyError(f"通知地址 {template} 无法使用（请检查写法和其中环境变量的值）")
                ok = pusher.notify(title=email.subject, body=email.text, body_format=apprise.NotifyFormat.TEXT)
            except NotifyError:
                raise
            except Exception as exc:  # noqa: BLE001 - Apprise or a plugin raised: that push failed
                raise NotifyError(f"推送到 {template} 失败（{type(exc).__name__}: {mask(str(exc), secrets)}）"
                                  ) from None
        if ok:
            log.info("已推送：%s → %s", message_key, template)
            return None
        reason = f"推送到 {template} 失败（{_reason(lines)}）"
        if any(marker in text for _, text in lines for marker in _NO_ANSWER):
            log.warning("推送结果不明：%s → %s", message_key, template)
            raise DeliveryInDoubt(f"推送到 {template} 后未收到应答，请人工确认是否已送达")
        log.warning("推送失败：%s：%s", message_key, reason)
        raise NotifyError(reason)


__all__ = ["CUT_NOTE", "AppriseChannel", "NotifyError", "channel_key", "expand", "mask", "message_limit",
           "notify_targets", "robot_text"]
