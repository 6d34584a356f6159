"""The SMTP channel: the transport only (urlwatch's `mailer.py`); what the email says is `compose`'s job.

smtplib from the standard library: plain, SSL (SMTP_SSL) or STARTTLS, login only when a user is set. The
password comes from the settings object, which the loader filled from env MONITOR_SMTP_PASSWORD; it never
reaches a log or an error message (smtplib's errors carry the server's reply, not what we sent).
"""
from __future__ import annotations

import hashlib
import re
import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from config.model import SmtpSettings
from monitors.alerts.compose import Email
from monitors.alerts.outbox import channel

TIMEOUT = 30.0  # seconds for connect and each SMTP command


def header_safe(value: str) -> str:
    """A header value with no CR, LF or other control character: crawled text can never add a header."""
    return re.sub(r"[\x00-\x1f\x7f\u2028\u2029\x85]+", " ", value).strip()


def _addresses(values: tuple[str, ...] | list[str]) -> list[str]:
    return [a for a in (header_safe(v) for v in values) if a]


class SmtpError(Exception):
    """A send that failed; the message (Chinese) is what the outbox records."""


@channel("smtp")
class SmtpChannel:
    """电子邮件（SMTP）：按 [smtp] 设置发送，密码只从环境变量 MONITOR_SMTP_PASSWORD 读取。"""

    def __init__(self, settings: SmtpSettings, timeout: float = TIMEOUT) -> None:
        self.settings = settings
        self.timeout = timeout

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
        msg["Date"] = formatdate(localtime=True)
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
            client: smtplib.SMTP
            if s.security == "ssl":
                client = smtplib.SMTP_SSL(s.host, s.port, timeout=self.timeout, context=ssl.create_default_context())
            else:
                client = smtplib.SMTP(s.host, s.port, timeout=self.timeout)
            with client:
                if s.security == "starttls":
                    client.starttls(context=ssl.create_default_context())
                if s.user:
                    client.login(s.user, s.password)
                refused = client.send_message(msg, from_addr=header_safe(s.sender), to_addrs=recipients)
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


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _refusals(refused: dict) -> str:
    return "；".join(f"{addr}（{code} {_text(msg)}）" for addr, (code, msg) in refused.items())


__all__ = ["SmtpChannel", "SmtpError", "header_safe"]
