"""Post times as Weibo, WeChat and feeds write them, to aware Asia/Shanghai datetimes.

Hand-written rather than dateparser (DESIGN.md weighs it): the forms are few and fixed, and Weibo's
year-less `09-29` needs a rule dateparser does not apply (this year, unless that lies in the future
relative to `now`, then last year). Relative forms (`5分钟前`, `昨天 10:12`) are resolved against `now`, which
callers pass in (ReadContext.now) so a test or a replay gets the same answer every time.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")

_MONTHS = {m: i for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1)}
# "Tue Sep 29 10:12:00 +0800 2020" (Weibo's API; strptime's %a/%b would depend on the locale)
_API_RE = re.compile(r"^[A-Za-z]{3}\s+([A-Za-z]{3})\s+(\d{1,2})\s+(\d{1,2}):(\d{2}):(\d{2})\s+([+-]\d{4})\s+(\d{4})$")
_AGO_RE = re.compile(r"^(\d+)\s*(秒|分钟|小时|天)前$")
_DAY_RE = re.compile(r"^(今天|昨天|前天)\s*(?:(\d{1,2})[:：](\d{2}))?$")
_TIME = r"(?:[\sT]+(\d{1,2})[:：](\d{2})(?:[:：](\d{2}))?)?"
_FULL_RE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?" + _TIME + r"$")
_MD_RE = re.compile(r"^(\d{1,2})\s*[-/月]\s*(\d{1,2})\s*日?" + _TIME + r"$")
_AGO_UNITS = {"秒": "seconds", "分钟": "minutes", "小时": "hours", "天": "days"}


def local_now(now: datetime | None = None) -> datetime:
    """`now` (or the clock) as an aware Asia/Shanghai datetime; a naive `now` is taken as Shanghai time."""
    if now is None:
        return datetime.now(SHANGHAI)
    return now.replace(tzinfo=SHANGHAI) if now.tzinfo is None else now.astimezone(SHANGHAI)


def from_timestamp(value: str | int | float) -> datetime:
    """A Unix timestamp (WeChat's `ct`, Sogou's timeConvert) as an aware Shanghai datetime."""
    return datetime.fromtimestamp(int(float(value)), tz=timezone.utc).astimezone(SHANGHAI)


def _hms(h: str | int | None, mi: str | int | None, s: str | int | None) -> tuple[int, int, int]:
    return int(h or 0), int(mi or 0), int(s or 0)


def parse_weibo_time(text: str, now: datetime) -> datetime:
    """One Weibo `created_at` (or any of the forms it has used) as an aware Asia/Shanghai datetime.

    Raises ValueError for a form it does not know (the reader turns that into PageChanged).
    """
    now = local_now(now)
    t = " ".join((text or "").split())
    if not t:
        raise ValueError("empty time")
    if m := _API_RE.match(t):
        mon, day, h, mi, s, off, year = m.groups()
        if mon.lower() not in _MONTHS:
            raise ValueError(f"unknown month in {text!r}")
        sign = 1 if off[0] == "+" else -1
        tz = timezone(sign * timedelta(hours=int(off[1:3]), minutes=int(off[3:5])))
        return datetime(int(year), _MONTHS[mon.lower()], int(day), int(h), int(mi), int(s),
                        tzinfo=tz).astimezone(SHANGHAI)
    if t == "刚刚":
        return now.replace(microsecond=0)
    if m := _AGO_RE.match(t):
        return (now - timedelta(**{_AGO_UNITS[m.group(2)]: int(m.group(1))})).replace(microsecond=0)
    if m := _DAY_RE.match(t):
        back = {"今天": 0, "昨天": 1, "前天": 2}[m.group(1)]
        day = (now - timedelta(days=back)).date()
        return datetime(day.year, day.month, day.day, *_hms(m.group(2), m.group(3), 0), tzinfo=SHANGHAI)
    if m := _FULL_RE.match(t):
        y, mo, d, h, mi, s = m.groups()
        return datetime(int(y), int(mo), int(d), *_hms(h, mi, s), tzinfo=SHANGHAI)
    if m := _MD_RE.match(t):
        mo, d, h, mi, s = m.groups()
        found = datetime(now.year, int(mo), int(d), *_hms(h, mi, s), tzinfo=SHANGHAI)
        if found > now:  # "09-29" read on 2021-01-05 is 2020-09-29, never a date still to come
            found = found.replace(year=now.year - 1)
        return found
    try:  # ISO 8601, as feeds and some bridges write it
        found = datetime.fromisoformat(t)
    except ValueError:
        raise ValueError(f"unknown time form {text!r}") from None
    return found.replace(tzinfo=SHANGHAI) if found.tzinfo is None else found.astimezone(SHANGHAI)
