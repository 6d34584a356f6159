"""Alert emails: compose (what each unit and the centre are told), outbox (written before sending, marked
after), channels (SMTP). The CLI's `monitor alerts --send` and the scheduler (`run_alerts`) call the same
function:

    plan, written, report = send_alerts(sessions, settings, as_of)

which plans and enqueues in one transaction (`plan_alerts` + `enqueue`) and then `deliver`s every pending row.
`monitor alerts --dry-run` calls `plan_alerts` alone.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from monitors.alerts.channels import notify_targets
from monitors.alerts.compose import AlertItem, AlertPlan, Email, compose_summary, compose_unit_email, plan_alerts
from monitors.alerts.outbox import (
    CHANNELS,
    Channel,
    OUTBOX_IN_DOUBT,
    OUTBOX_INTERRUPTED,
    DeliveryInDoubt,
    DeliveryReport,
    EnqueueReport,
    deliver,
    enqueue,
    settle_interrupted,
)
from monitors.alerts.smtp import SmtpChannel, header_safe  # registers "smtp"


def make_channel(settings: Settings, name: str = "smtp") -> Channel:
    """The channel settings name (only `smtp` today), built from its settings table; replies go to the centre,
    dates are in the monitor's time zone."""
    if name not in CHANNELS:
        raise ValueError(f"未知的提醒渠道 {name!r}；可用的有 {'、'.join(sorted(CHANNELS))}")
    return CHANNELS[name](getattr(settings, name), reply_to=settings.alerts.centre,
                          timezone=settings.monitor.timezone)


def send_alerts(sessions: sessionmaker[Session], settings: Settings, as_of: date,
                channel: Channel | None = None) -> tuple[AlertPlan, EnqueueReport, DeliveryReport]:
    """Plan and enqueue as of the date in one transaction, then deliver everything pending (older rows too)."""
    with sessions.begin() as session:
        plan = plan_alerts(session, settings, as_of)
        written = enqueue(session, plan, as_of, settings.monitor.timezone, notify=notify_targets(settings))
    return plan, written, deliver(sessions, channel or make_channel(settings))


@dataclass(frozen=True)
class AlertRun:
    """One run of the alerts (what the scheduler records)."""

    as_of: date
    plan: AlertPlan
    written: EnqueueReport | None = None  # None: a dry run
    delivery: DeliveryReport | None = None

    @property
    def ok(self) -> bool:
        return self.delivery is None or self.delivery.ok

    def summary(self) -> str:
        if self.delivery is None:
            return f"截至 {self.as_of}：将发送 {len(self.plan.emails())} 封（演练）"
        d = self.delivery
        reasons = "；".join(dict.fromkeys(reason for _, reason in d.failed))
        text = (f"截至 {self.as_of}：新写入发件箱 {len(self.written.written) if self.written else 0} 封，"
                f"已发送 {len(d.sent)} 封，失败 {len(d.failed)} 封" + (f"（{reasons}）" if reasons else ""))
        if d.interrupted:
            text += f"，{len(d.interrupted)} 封发送中断或结果不明，待人工确认"
        return text


class AlertsFailed(RuntimeError):
    """Some emails were not sent (they stay in the outbox and go out on a later run)."""


def run_alerts(settings: Settings, as_of: date, send: bool = True, raise_on_failure: bool = True) -> AlertRun:
    """The scheduler's entry: plan (and with `send`, enqueue and deliver) the alerts as of the date.

    With `raise_on_failure`, a run that left emails unsent raises AlertsFailed (so the job is marked failed);
    nothing is lost either way: the rows stay in the outbox for the next run.
    """
    from storage.db import get_sessionmaker

    sessions = get_sessionmaker(settings.monitor.database_url)
    if not send:
        with sessions() as session:
            return AlertRun(as_of, plan_alerts(session, settings, as_of))
    plan, written, delivery = send_alerts(sessions, settings, as_of)
    run = AlertRun(as_of, plan, written, delivery)
    if raise_on_failure and not run.ok:
        raise AlertsFailed(run.summary())
    return run


__all__ = ["CHANNELS", "OUTBOX_IN_DOUBT", "OUTBOX_INTERRUPTED", "AlertItem", "AlertPlan", "AlertRun", "AlertsFailed",
           "DeliveryInDoubt", "DeliveryReport", "Email", "EnqueueReport",
           "SmtpChannel", "compose_summary", "compose_unit_email", "deliver", "enqueue", "header_safe",
           "make_channel", "plan_alerts", "run_alerts", "send_alerts", "settle_interrupted"]
