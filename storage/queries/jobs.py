"""The daemon's job runs and the next run times in its APScheduler job store."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from storage.models import JobRun, utcnow
from storage.queries._sql import affected


@dataclass(frozen=True)
class JobRunRow:
    id: int
    job: str
    started_at: datetime
    finished_at: datetime | None
    status: str  # running | ok | failed | skipped | interrupted
    message: str | None


def start_job_run(session: Session, job: str) -> int:
    run = JobRun(job=job, started_at=utcnow(), status="running")
    session.add(run)
    session.flush()
    return run.id


def finish_job_run(session: Session, run_id: int, status: str, message: str | None = None) -> None:
    session.execute(update(JobRun).where(JobRun.id == run_id)
                    .values(status=status, message=message, finished_at=utcnow()))


def interrupt_job_runs(session: Session, job: str, message: str) -> int:
    """Runs of `job` left `running` by a process that died: called only while holding the job's lock."""
    result = session.execute(update(JobRun).where(JobRun.job == job, JobRun.status == "running")
                             .values(status="interrupted", message=message, finished_at=utcnow()))
    return affected(result)


def last_job_runs(session: Session) -> dict[str, JobRunRow]:
    """The newest run of each job."""
    newest = select(func.max(JobRun.id)).group_by(JobRun.job)
    return {r.job: JobRunRow(r.id, r.job, r.started_at, r.finished_at, r.status, r.message)
            for r in session.scalars(select(JobRun).where(JobRun.id.in_(newest)))}


def job_runs(session: Session, job: str | None = None, limit: int = 100) -> list[JobRunRow]:
    query = select(JobRun).order_by(JobRun.id.desc()).limit(limit)
    if job is not None:
        query = query.where(JobRun.job == job)
    return [JobRunRow(r.id, r.job, r.started_at, r.finished_at, r.status, r.message) for r in session.scalars(query)]


JOB_STORE_TABLE = "apscheduler_jobs"  # APScheduler's SQLAlchemyJobStore creates and owns it (not Alembic)


def job_next_runs(session: Session) -> dict[str, datetime | None]:
    """Next run time of each job in the daemon's job store (empty before the daemon's first start)."""
    from sqlalchemy import Column as SqlColumn
    from sqlalchemy import Float, MetaData, Table, Unicode, inspect

    if not inspect(session.get_bind()).has_table(JOB_STORE_TABLE):
        return {}
    table = Table(JOB_STORE_TABLE, MetaData(), SqlColumn("id", Unicode(191)), SqlColumn("next_run_time", Float(25)))
    return {job: datetime.fromtimestamp(ts, timezone.utc) if ts is not None else None
            for job, ts in session.execute(select(table.c.id, table.c.next_run_time))}
