"""The SMTP channel: the transport only (urlwatch's `mailer.py`); what the email says is `compose`'s job.

smtplib from the standard library: plain, SSL (SMTP_SSL) or STARTTLS, login only when a user is set, and only
on an encrypted connection unless `[smtp] allow_plain_auth` (the loader refuses `user` with `security = "none"`
already; this is the second lock). The password comes from the settings object, which the loader filled from
env MONITOR_SMTP_PASSWORD; it never reaches a log or an error message (smtplib's errors carry the server's
reply, not what we sent).

The outcome of a send is known up to the end of the message: a refused connection, a failed login, a 4xx/5xx
to MAIL, RCPT or DATA is a failure (SmtpError, retried by the next run). Once the whole message went out after
DATA's 354, only the server's reply tells; a connection lost before it raises DeliveryInDoubt (the server may
have kept the message), which the outbox never retries by itself.

Headers: `Reply-To` the centre (`[alerts] centre`: a unit's answer reaches the people who can act on it, not
the sending mailbox), `Date` in `[monitor] timezone` (+0800, not the server's UTC).
"""
from __future__ import annotations

import hashlib
import re
import smtplib
import socket
import ssl
from collections.abc import Sequence
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formatdate, make_msgid
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from config.model import SmtpSettings
from monitors.alerts.compose import Email
from monitors.alerts.outbox import DeliveryInDoubt, channel

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

TIMEOUT = 30.0  # seconds for connect and each SMTP command


def header_safe(value: str) -> str:
    """A header value with no CR, LF or other control character: crawled text can never add a header."""
    return re.sub(r"[\x00-\x1f\x7f\u2028\u2029\x85]+", " ", value).strip()


def _addresses(values: tuple[str, ...] | list[str]) -> list[str]:
    return [a for a in (header_safe(v) for v in values) if a]


class SmtpError(Exception):
    """A send that failed; the message (Chinese) is what the outbox records."""


class _TrackedSMTP(smtplib.SMTP):
    """smtplib.SMTP that knows when the whole message has gone out after DATA's 354 (`payload_sent`)."""

    in_data = False
    go_ahead = False  # DATA answered 354
    payload_sent = False

    def data(self, msg: ReadableBuffer | str) -> tuple[int, bytes]:
        self.in_data = True
        try:
            return super().data(msg)
        finally:
            self.in_data = False

    def getreply(self) -> tuple[int, bytes]:
        reply = super().getreply()
        if self.in_data and reply[0] == 354:
            self.go_ahead = True
        return reply

    def send(self, s: ReadableBuffer | str) -> None:
        super().send(s)  # raises when not every byte went out
        if self.go_ahead:
            self.payload_sent = True


class _TrackedSMTP_SSL(_TrackedSMTP, smtplib.SMTP_SSL):
    pass


PLAIN_AUTH_REFUSED = ("[smtp] user 需要 security = \"starttls\" 或 \"ssl\"（否则口令以明文发送）；"
                      "确需明文时设 allow_plain_auth = true")


@channel("smtp")
class SmtpChannel:
    """电子邮件（SMTP）：按 [smtp] 设置发送，密码只从环境变量 MONITOR_SMTP_PASSWORD 读取。"""

    def __init__(self, settings: SmtpSettings, timeout: float = TIMEOUT, *, reply_to: Sequence[str] = (),
                 timezone: str | None = None) -> None:
        self.settings = settings
        self.timeout = timeout
        self.reply_to = tuple(reply_to)  # the centre's addresses
        self.tz = ZoneInfo(timezone) if timezone else None  # None: the machine's zone

    def __repr__(self) -> str:  # never the password
        s = self.settings
        return f"SmtpChannel({s.host}:{s.port}, security={s.security}, user={s.user!r})"

    def message(self, email: Email, message_key: str = "") -> EmailMessage:
        s = self.settings
        msg = EmailMessage()
        msg["Subject"] = header_safe(email.subject)
        msg["From"] = header_safe(s.sender)
        msg["To"] = ", ".join(_addresses(email.to))
        if email.cc:
            msg["Cc"] = ", ".join(_addresses(email.cc))
        if reply_to := _addresses(self.reply_to):
            msg["Reply-To"] = ", ".join(reply_to)
        msg["Date"] = format_datetime(datetime.now(self.tz)) if self.tz else formatdate(localtime=True)
        domain = header_safe(s.sender.rpartition("@")[2]) or None
        if message_key:
            # The same outbox row always has the same Message-ID: a resend after a crash can be recognised.
            digest = hashlib.sha1(message_key.encode("utf-8")).hexdigest()[:20]
            msg["Message-ID"] = f"<{digest}.alert@{domain or 'localhost'}>"
        else:
            msg["Message-ID"] = make_msgid(domain=domain)
        msg.set_content(email.text, charset="utf-8")
        msg.add_alternative(email.html, subtype="html", charset="utf-8")
        return msg

    def send(self, email: Email, message_key: str = "") -> str | None:
        """Send one email; returns a note (some recipients refused) or None; raises SmtpError with the reason."""
        s = self.settings
        msg = self.message(email, message_key)
        recipients = _addresses(list(email.to) + list(email.cc))
        if not recipients:
            raise SmtpError("没有收件人")
        where = f"{s.host}:{s.port}"
        try:
            refused = self._send(msg, recipients, where)
        except (SmtpError, DeliveryInDoubt):
            raise
        except smtplib.SMTPAuthenticationError as exc:
            raise SmtpError(f"邮件服务器 {where} 登录失败（{exc.smtp_code}）：请检查 [smtp] user 和环境变量 "
                            f"MONITOR_SMTP_PASSWORD") from None
        except smtplib.SMTPRecipientsRefused as exc:
            raise SmtpError(f"邮件服务器 {where} 拒绝了全部收件人：{_refusals(exc.recipients)}") from None
        except smtplib.SMTPResponseException as exc:
            raise SmtpError(f"邮件服务器 {where} 拒收（{exc.smtp_code} {_text(exc.smtp_error)}）") from None
        except smtplib.SMTPServerDisconnected as exc:
            raise SmtpError(f"邮件服务器 {where} 断开了连接（{exc}）") from None
        except ConnectionRefusedError:
            raise SmtpError(f"无法连接邮件服务器 {where}（连接被拒绝）") from None
        except (socket.timeout, TimeoutError):
            raise SmtpError(f"连接邮件服务器 {where} 超时（{self.timeout:g} 秒）") from None
        except ssl.SSLError as exc:
            raise SmtpError(f"与邮件服务器 {where} 的加密连接失败（{exc.reason or exc}）") from None
        except (OSError, smtplib.SMTPException) as exc:
            raise SmtpError(f"邮件服务器 {where} 发送失败（{type(exc).__name__}: {exc}）") from None
        if refused:
            return f"部分收件人被拒绝：{_refusals(refused)}"
        return None

    def _send(self, msg: EmailMessage, recipients: list[str], where: str) -> dict[str, tuple[int, bytes]]:
        """One SMTP session; smtplib's exceptions pass through, except those after the message went out."""
        s = self.settings
        client: _TrackedSMTP
        if s.security == "ssl":
            client = _TrackedSMTP_SSL(s.host, s.port, timeout=self.timeout, context=ssl.create_default_context())
        else:
            client = _TrackedSMTP(s.host, s.port, timeout=self.timeout)
        accepted = False
        try:
            if s.security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if s.user:
                if not isinstance(client.sock, ssl.SSLSocket) and not s.allow_plain_auth:
                    raise SmtpError(f"未登录邮件服务器 {where}：{PLAIN_AUTH_REFUSED}")
                client.login(s.user, s.password)
            refused = client.send_message(msg, from_addr=header_safe(s.sender), to_addrs=recipients)
            accepted = True
            return refused
        except Exception as exc:
            # After the message went out only the server's reply is an answer: anything else leaves it in doubt.
            if client.payload_sent and not isinstance(exc, smtplib.SMTPResponseException):
                raise DeliveryInDoubt(f"邮件服务器 {where} 在接收正文后断开（{type(exc).__name__}: {exc}）") from None
            raise
        finally:
            _hang_up(client, polite=accepted)


def _hang_up(client: smtplib.SMTP, polite: bool) -> None:
    """QUIT after an accepted message (its reply changes nothing: the message is sent), else just close."""
    try:
        if polite:
            client.quit()
    except (OSError, smtplib.SMTPException):
        pass
    finally:
        client.close()


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _refusals(refused: dict) -> str:
    return "；".join(f"{addr}（{code} {_text(msg)}）" for addr, (code, msg) in refused.items())


__all__ = ["PLAIN_AUTH_REFUSED", "SmtpChannel", "SmtpError", "header_safe"]
