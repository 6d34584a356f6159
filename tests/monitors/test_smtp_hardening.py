"""Email hardening against a real local SMTP server (aiosmtpd): a login only over TLS, a connection lost after
DATA leaves the email in doubt (never sent twice), and a row left `sending` is judged by when it was claimed.

No demo: each test writes a small settings file and puts rows in the outbox itself; `monitor alerts --send`
delivers every pending row whatever the plan says.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from click.testing import CliRunner
from sqlalchemy import text, update

from config.model import SmtpSettings
from monitors.alerts import DeliveryInDoubt, SmtpChannel, compose_unit_email
from monitors.cli import main
from storage import queries
from storage.db import get_engine, get_sessionmaker, migrate
from storage.models import OutboxEmail
from tests.helpers import free_port
from tests.monitors.test_alerts import AUDIT, CENTRE, evil_items

SUBJECTS = ("提醒甲", "提醒乙")  # two outbox rows, sent in this order


@dataclass
class Handler:
    """Stores each message. `drops` says, a connection each, where to close it: "data" after storing the message
    and before its 250 reply, "rcpt" on RCPT (before any DATA), "hang" no close but no reply in time, "" none."""

    messages: list[str] = field(default_factory=list)  # subjects
    drops: list[str] = field(default_factory=list)
    quit_reply: str = "221 Bye"

    async def handle_MAIL(self, server, session, envelope, address, mail_options) -> str:
        session.drop = self.drops.pop(0) if self.drops else ""
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        if getattr(session, "drop", "") == "rcpt":
            server.transport.close()
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_QUIT(self, server, session, envelope) -> str:
        return self.quit_reply

    async def handle_DATA(self, server, session, envelope) -> str:
        self.messages.append(message_from_bytes(envelope.original_content, policy=policy.default)["Subject"])
        if getattr(session, "drop", "") == "data":
            server.transport.close()  # the reply below is written to a closed transport: never seen
        if getattr(session, "drop", "") == "hang":
            await asyncio.sleep(2)  # longer than the client waits
        return "250 OK"


def start(handler: Handler, **kwargs) -> Controller:
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **kwargs)
    controller.start()
    return controller


@pytest.fixture
def server():
    controller = start(Handler())
    yield controller
    controller.stop()


def write_settings(root: Path, db_url: str, port: int, smtp: str = "") -> Path:
    path = root / "settings.toml"
    path.write_text(f'[monitor]\ndatabase_url = "{db_url}"\n\n[alerts]\ncentre = ["{CENTRE}"]\n\n'
                    f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nsender = "monitor@cangshan.example.gov.cn"\n{smtp}',
                    encoding="utf-8")
    return path


def add_rows(db_url: str) -> None:
    with get_sessionmaker(db_url).begin() as session:
        for subject in SUBJECTS:
            queries.add_outbox_email(session, f"2020-10-10:{subject}", "审计局", [AUDIT], [CENTRE], subject, "正文",
                                     "<p>正文</p>")


def send(config: Path, *args: str):
    return CliRunner().invoke(main, ["--config", str(config), "alerts", "--as-of", "2020-10-10", "--send", *args])


def outbox(db_url: str) -> dict[str, queries.OutboxRow]:
    with get_sessionmaker(db_url)() as session:
        return {r.subject: r for r in queries.outbox_rows(session)}


# --- a connection lost after DATA ----------------------------------------------------------------------

def test_a_server_dropping_the_connection_after_data_does_not_get_the_email_twice(
        db_url: str, tmp_path: Path, server: Controller) -> None:
    config = write_settings(tmp_path, db_url, server.port)
    add_rows(db_url)
    # 甲: stored, then the connection closed before the 250 (in doubt); 乙: closed at RCPT (not sent: retried)
    server.handler.drops = ["data", "rcpt"]

    first = send(config)
    assert first.exit_code == 1, first.output
    assert server.handler.messages == ["提醒甲"]
    rows = outbox(db_url)
    assert (rows["提醒甲"].status, rows["提醒甲"].last_error) == ("failed", queries.OUTBOX_IN_DOUBT)
    assert rows["提醒乙"].status == "failed" and "断开了连接" in rows["提醒乙"].last_error
    assert "已发送 0 封，失败 1 封" in first.output and "失败：提醒乙" in first.output  # only 乙 is retried
    assert (f"{queries.OUTBOX_IN_DOUBT}（是否已收到），确认后用 --interrupted resend|sent 处理：#{rows['提醒甲'].id} 提醒甲"
            in first.output)  # the line says why it waits for a person: in doubt, not interrupted

    second = send(config)  # 乙 goes out; 甲 is not retried by itself: the server still has exactly one copy
    assert second.exit_code == 1 and "#" + str(rows["提醒甲"].id) in second.output
    assert server.handler.messages == ["提醒甲", "提醒乙"]
    assert outbox(db_url)["提醒甲"].attempts == 1

    settled = send(config, "--interrupted", "sent")  # a person checked: it arrived
    assert settled.exit_code == 0, settled.output
    assert "已处理发送中断的邮件 1 封：视为已发送" in settled.output
    assert server.handler.messages == ["提醒甲", "提醒乙"]
    assert outbox(db_url)["提醒甲"].status == "sent"


def test_an_odd_reply_to_quit_after_the_250_is_still_sent(server: Controller) -> None:
    server.handler.quit_reply = "554 5.0.0 odd"
    email = compose_unit_email("审计局", [AUDIT], [], evil_items(), date(2020, 10, 10), "仓山区")
    assert SmtpChannel(SmtpSettings(host="127.0.0.1", port=server.port)).send(email) is None
    assert len(server.handler.messages) == 1


def test_no_reply_in_time_after_data_is_in_doubt_too(server: Controller) -> None:
    server.handler.drops = ["hang"]
    email = compose_unit_email("审计局", [AUDIT], [], evil_items(), date(2020, 10, 10), "仓山区")
    with pytest.raises(DeliveryInDoubt, match="在接收正文后断开"):
        SmtpChannel(SmtpSettings(host="127.0.0.1", port=server.port), timeout=0.5).send(email)
    assert len(server.handler.messages) == 1


def test_in_doubt_rows_wait_for_a_person_on_both_backends(db_url: str) -> None:
    add_rows(db_url)
    sessions = get_sessionmaker(db_url)
    with sessions.begin() as session:
        a, b = queries.outbox_to_send(session)
        queries.claim_outbox(session, a.id)
        queries.mark_outbox_failed(session, a.id, queries.OUTBOX_IN_DOUBT)
        queries.claim_outbox(session, b.id)
        queries.mark_outbox_failed(session, b.id, "无法连接邮件服务器")
    with sessions.begin() as session:
        assert [r.subject for r in queries.outbox_to_send(session)] == ["提醒乙"]
        assert [r.subject for r in queries.outbox_interrupted(session)] == ["提醒甲"]
        assert queries.settle_interrupted(session, resend=True) == 1
        assert [r.subject for r in queries.outbox_to_send(session)] == ["提醒甲", "提醒乙"]


# --- a login only over TLS -----------------------------------------------------------------------------

@dataclass
class Logins:
    seen: list[tuple[str, bool]] = field(default_factory=list)  # (user, over TLS)

    def __call__(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        encrypted = session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None
        self.seen.append((auth_data.login.decode(), encrypted))
        return AuthResult(success=True)


def auth_server(handler: Handler, logins: Logins, **kwargs) -> Controller:
    return start(handler, authenticator=logins, **kwargs)


def test_user_without_tls_is_refused_at_load_unless_allowed(db_url: str, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITOR_SMTP_PASSWORD", "s3cret-pw")
    handler, logins = Handler(), Logins()
    server = auth_server(handler, logins, auth_require_tls=False)  # a server that would take AUTH in clear
    try:
        add_rows(db_url)
        config = write_settings(tmp_path, db_url, server.port, 'user = "monitor"\n')
        refused = send(config)
        assert refused.exit_code == 2
        assert f"{config}:11 smtp.user: 需要 security = \"starttls\" 或 \"ssl\"（否则口令以明文发送）" in refused.output
        assert "allow_plain_auth = true" in refused.output and "s3cret-pw" not in refused.output
        assert logins.seen == [] and handler.messages == []

        config = write_settings(tmp_path, db_url, server.port, 'user = "monitor"\nallow_plain_auth = true\n')
        allowed = send(config)
        assert allowed.exit_code == 0, allowed.output
        assert logins.seen == [("monitor", False), ("monitor", False)] and len(handler.messages) == 2
    finally:
        server.stop()


def self_signed(root: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (cryptography comes with Scrapy)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = root / "cert.pem", root / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_the_channel_logs_in_only_over_tls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The second lock, for settings built without the loader: no AUTH on a plain connection; STARTTLS and SSL
    log in (over TLS)."""
    email = compose_unit_email("审计局", [AUDIT], [], evil_items(), date(2020, 10, 10), "仓山区")
    handler, logins = Handler(), Logins()
    server = auth_server(handler, logins, auth_require_tls=False)  # a server that would take AUTH in clear
    try:
        plain = SmtpSettings(host="127.0.0.1", port=server.port, user="monitor", password="s3cret-pw")
        with pytest.raises(Exception, match="allow_plain_auth") as exc:
            SmtpChannel(plain).send(email)
        assert "s3cret-pw" not in str(exc.value)
        assert logins.seen == [] and handler.messages == []
    finally:
        server.stop()

    cert, key = self_signed(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the client trusts the test certificate, and only it
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    # aiosmtpd offers AUTH over implicit TLS only with auth_require_tls off (it looks for STARTTLS); the
    # authenticator records whether the session was encrypted either way.
    for security, tls in (("starttls", {"tls_context": context, "require_starttls": True, "auth_require_tls": True}),
                          ("ssl", {"ssl_context": context, "auth_require_tls": False})):
        handler, logins = Handler(), Logins()
        server = auth_server(handler, logins, **tls)
        try:
            settings = SmtpSettings(host="127.0.0.1", port=server.port, security=security, user="monitor",
                                    password="s3cret-pw")
            assert SmtpChannel(settings).send(email) is None
            assert logins.seen == [("monitor", True)] and len(handler.messages) == 1, security
        finally:
            server.stop()


# --- a row left `sending` is judged by when it was claimed ---------------------------------------------

def test_a_sending_row_is_stale_by_its_claim_time_not_its_age(db_url: str) -> None:
    add_rows(db_url)
    sessions = get_sessionmaker(db_url)
    now = datetime.now(timezone.utc)
    cut = now - timedelta(minutes=10)
    with sessions.begin() as session:
        a, b = queries.outbox_to_send(session)
        session.execute(update(OutboxEmail).values(created_at=now - timedelta(days=2)))  # written long ago
        assert queries.claim_outbox(session, a.id)  # claimed just now: a live send
    with sessions.begin() as session:
        assert queries.interrupt_stale_sending(session, cut) == []
        [row] = queries.outbox_rows(session, ["sending"])
        assert row.claimed_at is not None and row.claimed_at > cut
    with sessions.begin() as session:  # the sender died an hour ago
        session.execute(update(OutboxEmail).where(OutboxEmail.id == a.id).values(claimed_at=now - timedelta(hours=1)))
    with sessions.begin() as session:
        assert [r.subject for r in queries.interrupt_stale_sending(session, cut)] == ["提醒甲"]
        assert [r.subject for r in queries.outbox_interrupted(session)] == ["提醒甲"]


def test_a_row_claimed_before_the_migration_falls_back_to_created_at(db_url: str) -> None:
    from alembic import command
    from alembic.config import Config

    from storage.db import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with get_engine(db_url).begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0004")
        for key, created in (("old", datetime(2020, 10, 10, 1)), ("new", datetime.now(timezone.utc).replace(tzinfo=None))):
            connection.execute(text(
                "insert into outbox (key, unit, recipients, cc, subject, body_text, body_html, status, attempts, "
                "created_at) values (:key, null, :to, '', :subject, 't', 'h', 'sending', 1, :created)"),
                {"key": key, "subject": key, "to": AUDIT, "created": created})
    migrate(db_url)
    with get_sessionmaker(db_url).begin() as session:
        stale = queries.interrupt_stale_sending(session, datetime.now(timezone.utc) - timedelta(minutes=10))
        assert [r.key for r in stale] == ["old"]
        assert [r.claimed_at for r in queries.outbox_rows(session)] == [None, None]
