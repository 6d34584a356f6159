"""The outbox: every email is written before it is sent and marked sent after (nothing lost, nothing twice).

`enqueue` writes a plan's emails and records what each unit was told in ONE transaction (the caller's), so
a crash leaves either both or neither: never a finding marked told without its email in the outbox.
`deliver` sends what is pending, one row at a time: mark `sending` (commit) → send → mark `sent` (commit).
A failed send is marked `failed` with the channel's reason and retried by the next run.

At most once: a row found still `sending` (its sender died between "sending" and "sent", judged by when it was
claimed) may or may not have reached the server, so it is NOT sent again by itself. It is marked failed with
`OUTBOX_INTERRUPTED`, reported by every run until a person settles it (`monitor alerts --send --interrupted
resend|sent`). So is a send the channel cannot tell the outcome of (`DeliveryInDoubt`: the connection was lost
after the whole message went out, before the server's reply): failed with `OUTBOX_IN_DOUBT`, never retried.

Channels are registered by the word settings use (STYLE.md §2): a channel has one `send(email)` that returns
a note (or None) or raises; the exception's text is the reason we record. A channel raises `DeliveryInDoubt`
only when the email may have been delivered; any other exception means it was not (retried by the next run).

Robot messages (钉钉, 企业微信, webhooks: `monitors.alerts.channels`) are outbox rows too, with `channel`
"apprise": `enqueue(..., notify=notify_targets(settings))` writes, beside each email, one row per notify URL of
its unit (the summary: of the centre), keyed by the email's key and the URL (`channel_key`), insert-or-ignore
like the emails; `deliver` sends each row through the channel of its kind, with the same claim, failure and
in-doubt life.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from config.registry import registrar
from monitors.alerts.channels import AppriseChannel, channel_key, robot_text
from monitors.alerts.compose import AlertPlan, Email, local_midnight
from storage import queries
from storage.models import utcnow
from storage.queries import OUTBOX_IN_DOUBT, OUTBOX_INTERRUPTED, OutboxRow
from storage.queries.outbox import APPRISE, EMAIL, OUTBOX_PUSH_IN_DOUBT, DeliveryInDoubt

# A live send takes seconds (the SMTP timeout is 30 s); a row `sending` for longer was left by a crash.
STALE_SENDING = timedelta(minutes=10)


class Channel(Protocol):
    def send(self, email: Email, message_key: str = "") -> str | None: ...


CHANNELS: dict[str, Callable[..., Channel]] = {}


channel = registrar(CHANNELS, "alert channel")  # @channel("smtp") on a channel class


@dataclass(frozen=True)
class EnqueueReport:
    written: list[str] = field(default_factory=list)  # keys written
    already: list[str] = field(default_factory=list)  # keys already in the outbox (a rerun): nothing recorded
    pushed: list[str] = field(default_factory=list)  # keys of robot messages written (channel apprise)


# Notify URLs by unit name, the centre's under None (`monitors.alerts.channels.notify_targets(settings)`)
NotifyTargets = Mapping[str | None, Sequence[str]]


def enqueue(session: Session, plan: AlertPlan, as_of: date, tz: ZoneInfo | str = "Asia/Shanghai",
            notify: NotifyTargets | None = None) -> EnqueueReport:
    """Write the plan's emails to the outbox and record what each unit was told, in the caller's transaction;
    with `notify`, each email's robot messages too (written even when the email was already: a URL added to
    settings since gets the alert, one already written is not written again).

    Insert-or-ignore by key: a rerun that would say the same thing writes nothing and records nothing.
    """
    tz = ZoneInfo(tz) if isinstance(tz, str) else tz
    told_at = local_midnight(as_of, tz)  # evaluation time, so `--as-of` runs and resend_after_days agree
    report = EnqueueReport()
    notify = notify or {}
    for unit_alert in plan.units:
        e = unit_alert.email
        written = queries.add_outbox_email(session, unit_alert.key, unit_alert.unit, e.to, e.cc, e.subject, e.text,
                                           e.html)
        _enqueue_pushes(session, unit_alert.key, unit_alert.unit, e, notify.get(unit_alert.unit, ()), report)
        if not written:
            report.already.append(unit_alert.key)
            continue
        report.written.append(unit_alert.key)
        for item in unit_alert.items:
            if item.change == "cleared":
                queries.record_alert_cleared(session, item.unit, item.rule, item.target, told_at)
            else:
                queries.record_alert_told(session, item.unit, item.rule, item.target, item.severity, item.detail,
                                          told_at, measure=item.measure, limit=item.limit, since=item.since)
    if plan.summary is not None and plan.summary_key and (report.written or plan.centre_items):
        s = plan.summary
        written = queries.add_outbox_email(session, plan.summary_key, None, s.to, s.cc, s.subject, s.text, s.html)
        _enqueue_pushes(session, plan.summary_key, None, s, notify.get(None, ()), report)
        if written:
            report.written.append(plan.summary_key)
            for item in plan.centre_items:  # the centre's own findings are told by the summary
                if item.change == "cleared":
                    queries.record_alert_cleared(session, item.unit, item.rule, item.target, told_at)
                else:
                    queries.record_alert_told(session, item.unit, item.rule, item.target, item.severity,
                                              item.detail, told_at, measure=item.measure, limit=item.limit,
                                              since=item.since)
        else:
            report.already.append(plan.summary_key)
    for unit, rule, target in plan.retired:
        queries.record_alert_cleared(session, unit, rule, target, told_at)
    return report


def _enqueue_pushes(session: Session, key: str, unit: str | None, email: Email, urls: Sequence[str],
                    report: EnqueueReport) -> None:
    """One apprise row per URL: the email's subject and its text cut for robots (`robot_text`)."""
    for url in dict.fromkeys(urls):
        push_key = channel_key(key, url)
        if queries.add_outbox_email(session, push_key, unit, (url,), (), email.subject,
                                    robot_text(url, email.subject, email.text), "", channel=APPRISE):
            report.pushed.append(push_key)


@dataclass
class DeliveryReport:
    sent: list[OutboxRow] = field(default_factory=list)
    failed: list[tuple[OutboxRow, str]] = field(default_factory=list)  # (row, reason) of this run
    interrupted: list[OutboxRow] = field(default_factory=list)  # interrupted or in doubt: waiting for a person

    @property
    def ok(self) -> bool:
        return not self.failed and not self.interrupted


def row_email(row: OutboxRow) -> Email:
    return Email(row.subject, row.body_text, row.body_html, row.recipients, row.cc)


def deliver(session_factory: sessionmaker[Session], chan: Channel,
            channels: Mapping[str, Channel] | None = None) -> DeliveryReport:
    """Send every pending or failed row of the outbox, emails through `chan`, other rows through the channel
    of their kind (`channels`; apprise rows: an `AppriseChannel` unless given); each step is its own commit."""
    report = DeliveryReport()
    senders: dict[str, Channel] = {EMAIL: chan, **(channels or {})}
    with session_factory.begin() as session:
        queries.interrupt_stale_sending(session, utcnow() - STALE_SENDING)
        todo = queries.outbox_to_send(session)
    for row in todo:
        sender = senders.get(row.channel)
        if sender is None and row.channel == APPRISE:
            sender = senders[APPRISE] = AppriseChannel()
        with session_factory.begin() as session:
            if not queries.claim_outbox(session, row.id):
                continue  # another sender took it
        try:
            if sender is None:
                raise ValueError(f"未知的发送渠道 {row.channel!r}")
            note = sender.send(row_email(row), row.key)
        except DeliveryInDoubt:
            with session_factory.begin() as session:
                queries.mark_outbox_failed(session, row.id,
                                           OUTBOX_PUSH_IN_DOUBT if row.channel == APPRISE else OUTBOX_IN_DOUBT)
            continue  # reported with the interrupted rows below
        except Exception as exc:  # noqa: BLE001 - any failure of a channel is that email's failure, recorded
            reason = str(exc) or type(exc).__name__
            with session_factory.begin() as session:
                queries.mark_outbox_failed(session, row.id, reason)
            report.failed.append((row, reason))
            continue
        with session_factory.begin() as session:
            queries.mark_outbox_sent(session, row.id, note)
        report.sent.append(row)
    with session_factory() as session:
        report.interrupted = queries.outbox_interrupted(session)
    return report


def settle_interrupted(session_factory: sessionmaker[Session], resend: bool) -> int:
    """After a person checked: resend the interrupted rows, or take them as sent. Returns how many."""
    with session_factory.begin() as session:
        return queries.settle_interrupted(session, resend)


__all__ = ["CHANNELS", "OUTBOX_IN_DOUBT", "OUTBOX_INTERRUPTED", "Channel", "DeliveryInDoubt", "DeliveryReport",
           "EnqueueReport", "NotifyTargets", "channel", "deliver", "enqueue", "settle_interrupted"]
