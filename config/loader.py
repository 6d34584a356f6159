"""Load and validate `settings.toml` into the frozen objects of `config.model`.

Validation happens once, here, at the boundary: unknown keys, wrong types, unknown enumerations, bad URLs and
dangling references are errors that name the file, the line (where it can be found) and the key path, in
Chinese, e.g. `settings.toml:42 columns[3].category: "dynamc" 不是 dynamic、notice、… 之一`.
Numbers are checked against `config.model.RANGES`, the database URL by SQLAlchemy's `make_url`, the time zone
by zoneinfo, e-mail addresses by a simple local@domain pattern.
Only this module reads the environment (MONITOR_DATABASE_URL, MONITOR_SMTP_PASSWORD, MONITOR_REDIS_PASSWORD, and
MONITOR_MIN_SCHEDULE_SECONDS, a test hook lowering the 60 s floor of `every N` schedules), except the
`{env:NAME}` placeholders of notify URLs: checked for form here, read only when sending
(monitors.alerts.channels), so the secret is never held by the settings object. A notify URL's scheme and form
are checked by Apprise itself (the placeholders replaced by a dummy value).
"""
from __future__ import annotations

import dataclasses
import functools
import logging
import math
import os
import re
import tomllib
import types
import typing
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from config.model import (
    LINK_SCOPES,
    NOTIFY_PLACEHOLDER,
    CATEGORIES,
    CATEGORY_LABELS,
    MIN_SCHEDULE_INTERVAL,
    PLATFORMS,
    RANGES,
    SMTP_SECURITY,
    UNIT_KINDS,
    AccountSettings,
    AlertSettings,
    ColumnSettings,
    ContentSettings,
    CrawlSettings,
    DistributedSettings,
    MonitorSettings,
    ProbeSettings,
    Range,
    ReportSettings,
    RuleSettings,
    ScheduleSettings,
    ServeSettings,
    Settings,
    SiteSettings,
    SmtpSettings,
    UnitSettings,
)

ENV_SETTINGS = "MONITOR_SETTINGS"
ENV_DATABASE_URL = "MONITOR_DATABASE_URL"
ENV_SMTP_PASSWORD = "MONITOR_SMTP_PASSWORD"
ENV_REDIS_PASSWORD = "MONITOR_REDIS_PASSWORD"
ENV_SERVE_PASSWORD = "MONITOR_SERVE_PASSWORD"
ENV_MIN_SCHEDULE = "MONITOR_MIN_SCHEDULE_SECONDS"
DATABASE_DIALECTS = ("sqlite", "postgresql")
EMAIL_FIELDS = {("units", "emails"), ("alerts", "centre"), ("smtp", "sender")}
NOTIFY_FIELDS = {("units", "notify"), ("alerts", "notify")}  # Apprise URLs (check_notify)
_NOTIFY_DUMMY = "a1b2c3d4e5f6"  # stands for a placeholder's value: fits a token, a key, a host or a path
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)*")  # local@domain, nothing more
_SPACE = re.compile(r"\s")  # any whitespace (str.isspace's set)

TABLES: dict[str, type] = {
    "monitor": MonitorSettings,
    "rules": RuleSettings,
    "crawl": CrawlSettings,
    "report": ReportSettings,
    "smtp": SmtpSettings,
    "alerts": AlertSettings,
    "schedule": ScheduleSettings,
    "probes": ProbeSettings,
    "content": ContentSettings,
    "serve": ServeSettings,
    "distributed": DistributedSettings,
}
ARRAYS: dict[str, type] = {
    "sites": SiteSettings,
    "units": UnitSettings,
    "columns": ColumnSettings,
    "accounts": AccountSettings,
}
ENUMS: dict[tuple[str, str], tuple[str, ...]] = {
    ("units", "kind"): UNIT_KINDS,
    ("columns", "category"): CATEGORIES,
    ("accounts", "platform"): PLATFORMS,
    ("smtp", "security"): SMTP_SECURITY,
    ("content", "check_links"): LINK_SCOPES,
}
# Words a value may be written as instead of its key: a category's label (动态要闻类, or 动态要闻 without 类).
ENUM_LABELS: dict[tuple[str, str], dict[str, str]] = {
    ("columns", "category"): {word: key for key, label in CATEGORY_LABELS.items()
                              for word in (label, label.removesuffix("类"))},
}
# refused in the file: secrets come from the environment (the variable that gives each)
SECRET_FIELDS = {("smtp", "password"): ENV_SMTP_PASSWORD, ("distributed", "redis_password"): ENV_REDIS_PASSWORD}


class SettingsError(Exception):
    """A settings file that cannot be used; the message is for the user (Chinese), one line."""


def default_settings_path() -> Path:
    return Path(os.environ.get(ENV_SETTINGS, "settings.toml"))


def load_settings(path: str | os.PathLike[str] | None = None) -> Settings:
    path = Path(path) if path is not None else default_settings_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SettingsError(f"找不到设置文件 {path}（可用 --config 指定，或设置环境变量 {ENV_SETTINGS}）") from None
    except UnicodeDecodeError as exc:
        raise SettingsError(f"{path}: 设置文件不是 UTF-8 编码（{exc.reason}）") from None
    return parse_settings(text, str(path))


def parse_settings(text: str, path: str = "settings.toml") -> Settings:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = re.search(r"line (\d+)", str(exc))
        where = f"{path}:{line.group(1)}" if line else path
        raise SettingsError(f"{where} TOML 语法错误：{exc}") from None
    return _Builder(text, path).build(raw)


@functools.cache
def _type_hints(cls: type) -> dict[str, Any]:
    """Resolved once per settings class, not once per [[columns]] entry."""
    return typing.get_type_hints(cls)


class _Builder:
    def __init__(self, text: str, path: str) -> None:
        self.lines = text.splitlines()
        self.path = path

    def error(self, key_path: tuple[str | int, ...], message: str) -> SettingsError:
        line = self.locate(key_path)
        where = f"{self.path}:{line}" if line else self.path
        return SettingsError(f"{where} {_format_path(key_path)}: {message}")

    def locate(self, key_path: tuple[str | int, ...]) -> int | None:
        """Best-effort line number of a key: tomllib only reports lines for syntax errors."""
        table, *rest = key_path
        start, end = 0, len(self.lines)
        if rest and isinstance(rest[0], int):
            headers = [i for i, line in enumerate(self.lines) if re.match(rf"\s*\[\[\s*{table}\s*\]\]", line)]
            if rest[0] < len(headers):
                start = headers[rest[0]]
                end = next((i for i in range(start + 1, len(self.lines)) if re.match(r"\s*\[", self.lines[i])), end)
                rest = rest[1:]
            else:
                return None
        else:
            header = next((i for i, line in enumerate(self.lines) if re.match(rf"\s*\[\s*{table}\s*\]", line)), None)
            if header is None:
                return None
            start = header
            end = next((i for i in range(start + 1, len(self.lines)) if re.match(r"\s*\[", self.lines[i])), end)
        if not rest:
            return start + 1
        key = str(rest[-1])
        for i in range(start, end):
            line = self.lines[i]
            if re.match(rf"\s*\"?{re.escape(key)}\"?\s*=", line) or re.search(rf"[{{,]\s*{re.escape(key)}\s*=", line):
                return i + 1
        return start + 1

    def build(self, raw: dict[str, Any]) -> Settings:
        known = set(TABLES) | set(ARRAYS)
        for key in raw:
            if key not in known:
                raise self.error((key,), f"未知的设置项；可用的有 {'、'.join(sorted(known))}")
        values: dict[str, Any] = {}
        for name, cls in TABLES.items():
            table = raw.get(name, {})
            if not isinstance(table, dict):
                raise self.error((name,), "应为一个表（[" + name + "]）")
            values[name] = self.make(cls, table, (name,))
        for name, cls in ARRAYS.items():
            items = raw.get(name, [])
            if not isinstance(items, list):
                raise self.error((name,), f"应写成 [[{name}]] 数组")
            values[name] = tuple(self.make(cls, item, (name, i)) for i, item in enumerate(items))
        values = self.apply_environment(values)
        self.check_monitor(values["monitor"], from_env=bool(os.environ.get(ENV_DATABASE_URL)))
        self.check_smtp(values["smtp"])
        self.check_distributed(values["distributed"])
        settings = Settings(path=self.path, **values)
        self.check_references(settings, raw)
        return settings

    def apply_environment(self, values: dict[str, Any]) -> dict[str, Any]:
        if db := os.environ.get(ENV_DATABASE_URL):
            values["monitor"] = dataclasses.replace(values["monitor"], database_url=db)
        if password := os.environ.get(ENV_SMTP_PASSWORD):
            values["smtp"] = dataclasses.replace(values["smtp"], password=password)
        if password := os.environ.get(ENV_REDIS_PASSWORD):
            values["distributed"] = dataclasses.replace(values["distributed"], redis_password=password)
        return values

    def make(self, cls: type, data: Any, key_path: tuple[str | int, ...]) -> Any:
        if not isinstance(data, dict):
            raise self.error(key_path, "应为一个表")
        hints = _type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls)}
        table = next(str(k) for k in key_path if isinstance(k, str))
        for key in data:
            if (table, key) in SECRET_FIELDS:
                raise self.error((*key_path, key),
                                 f"密码不能写在设置文件中，请用环境变量 {SECRET_FIELDS[(table, key)]}")
            if key not in fields or key == "path":
                known = "、".join(f for f in fields if (table, f) not in SECRET_FIELDS)
                raise self.error((*key_path, key), f"未知的设置项；可用的有 {known}")
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            kwargs[key] = self.convert(value, hints[key], (*key_path, key))
            allowed = ENUMS.get((table, key))
            if allowed and kwargs[key] not in allowed:
                words = ENUM_LABELS.get((table, key), {})
                if kwargs[key] not in words:
                    labels = {k: w for w, k in reversed(words.items())}  # each key's full label
                    named = "、".join(f"{k}（{labels[k]}）" if k in labels else k for k in allowed)
                    raise self.error((*key_path, key), f"\"{value}\" 不是 {named} 之一")
                kwargs[key] = words[kwargs[key]]
            if key == "url" or (key == "sample_url" and value):
                self.check_url(str(value), (*key_path, key))
            if (table, key) in RANGES:
                self.check_range(kwargs[key], RANGES[table, key], (*key_path, key))
            if (table, key) in NOTIFY_FIELDS:
                for url in kwargs[key]:
                    self.check_notify(url, (*key_path, key))
            if (table, key) in EMAIL_FIELDS:
                for address in (kwargs[key] if isinstance(kwargs[key], tuple) else (kwargs[key],)):
                    if not _EMAIL.fullmatch(address):
                        raise self.error((*key_path, key), f"\"{address}\" 不是有效的电子邮件地址")
        missing = [f.name for f in fields.values()
                   if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
                   and f.name not in kwargs and f.name != "unit"]
        if missing:
            raise self.error(key_path, f"缺少必填项 {'、'.join(missing)}")
        if "unit" in fields and "unit" not in kwargs:
            kwargs["unit"] = ""  # resolved from the units' url_prefixes in check_references
        return cls(**kwargs)

    def convert(self, value: Any, hint: Any, key_path: tuple[str | int, ...]) -> Any:
        origin = typing.get_origin(hint)
        if origin in (types.UnionType, typing.Union):
            args = [a for a in typing.get_args(hint) if a is not type(None)]
            return self.convert(value, args[0], key_path)
        if origin is tuple and typing.get_args(hint)[0] == tuple[str, str]:
            return self.pairs(value, key_path)
        if origin is tuple and typing.get_args(hint)[0] == tuple[str, tuple[str, ...]]:
            return self.term_table(value, key_path)
        if origin is tuple:
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise self.error(key_path, "应为字符串列表，如 [\"a\", \"b\"]")
            return tuple(value)
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            return self.make(hint, value, key_path)
        if hint is bool:
            if not isinstance(value, bool):
                raise self.error(key_path, f"应为 true 或 false，而不是 {value!r}")
            return value
        if hint is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise self.error(key_path, f"应为整数，而不是 {value!r}")
            return value
        if hint is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise self.error(key_path, f"应为数字，而不是 {value!r}")
            if not math.isfinite(value):
                raise self.error(key_path, f"应为有限的数字，而不是 {value!r}")
            return float(value)
        if hint is str:
            if not isinstance(value, str):
                raise self.error(key_path, f"应为字符串，而不是 {value!r}")
            return value
        raise self.error(key_path, f"无法识别的类型 {hint!r}")

    def pairs(self, value: Any, key_path: tuple[str | int, ...]) -> tuple[tuple[str, str], ...]:
        """`[["按装", "安装"], …]`: (wrong, right) pairs of non-empty, different strings."""
        if not isinstance(value, list):
            raise self.error(key_path, "应为 [错误写法, 正确写法] 的列表，如 [[\"按装\", \"安装\"]]")
        out = []
        for pair in value:
            if (not isinstance(pair, list) or len(pair) != 2 or not all(isinstance(v, str) and v.strip() for v in pair)
                    or pair[0] == pair[1]):
                raise self.error(key_path, f"{pair!r} 不是 [错误写法, 正确写法]（两个不同的非空字符串）")
            out.append((pair[0], pair[1]))
        return tuple(out)

    def term_table(self, value: Any, key_path: tuple[str | int, ...]) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """`{ "仓山区人民政府" = ["苍山区人民政府"] }`: a term and its wrong forms (non-empty, not the term)."""
        if not isinstance(value, dict):
            raise self.error(key_path, "应为一个表，如 { \"仓山区人民政府\" = [\"苍山区人民政府\"] }")
        out = []
        for term, wrong in value.items():
            forms = (wrong,) if isinstance(wrong, str) else wrong
            if (not term.strip() or not isinstance(forms, (list, tuple)) or not forms
                    or not all(isinstance(v, str) and v.strip() and v != term for v in forms)):
                raise self.error(key_path, f"“{term}”的错误写法应为非空字符串列表（且不同于正确写法）")
            out.append((term, tuple(forms)))
        return tuple(out)

    def check_range(self, value: float, allowed: Range, key_path: tuple[str | int, ...]) -> None:
        if allowed.gt is not None and not value > allowed.gt:
            raise self.error(key_path, f"应大于 {_number(allowed.gt)}，而不是 {_number(value)}")
        if allowed.ge is not None and allowed.le is not None and not allowed.ge <= value <= allowed.le:
            raise self.error(key_path, f"应在 {_number(allowed.ge)} 到 {_number(allowed.le)} 之间，"
                                       f"而不是 {_number(value)}")
        if allowed.ge is not None and value < allowed.ge:
            raise self.error(key_path, f"应不小于 {_number(allowed.ge)}，而不是 {_number(value)}")
        if allowed.le is not None and value > allowed.le:
            raise self.error(key_path, f"应不大于 {_number(allowed.le)}，而不是 {_number(value)}")

    def check_monitor(self, monitor: MonitorSettings, from_env: bool) -> None:
        """The database URL (SQLAlchemy's own parser, a supported dialect) and the time zone (zoneinfo)."""
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        url = monitor.database_url
        where: tuple[str | int, ...] = ("monitor", "database_url")
        fail = (lambda msg: SettingsError(f"环境变量 {ENV_DATABASE_URL}: {msg}")) if from_env else (
            lambda msg: self.error(where, msg))
        try:
            dialect = make_url(url).get_backend_name()
        except ArgumentError:
            raise fail(f"\"{url}\" 不是有效的数据库网址（如 sqlite:///data/monitor.db 或 "
                       "postgresql://user@host/db）") from None
        if dialect not in DATABASE_DIALECTS:
            raise fail(f"不支持的数据库 \"{dialect}\"；可用 {'、'.join(DATABASE_DIALECTS)}")
        try:
            ZoneInfo(monitor.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise self.error(("monitor", "timezone"),
                             f"\"{monitor.timezone}\" 不是已知的时区（如 Asia/Shanghai）") from None

    def check_smtp(self, smtp: SmtpSettings) -> None:
        """A login only over TLS: `user` with `security = "none"` would send the password in clear text."""
        if smtp.user and smtp.security == "none" and not smtp.allow_plain_auth:
            raise self.error(("smtp", "user"), "需要 security = \"starttls\" 或 \"ssl\"（否则口令以明文发送）；"
                                               "确需明文时设 allow_plain_auth = true")

    def check_distributed(self, distributed: DistributedSettings) -> None:
        url = distributed.redis_url
        if urlsplit(url).scheme not in ("redis", "rediss", "unix") or any(c.isspace() for c in url):
            raise self.error(("distributed", "redis_url"),
                             f"\"{url}\" 不是有效的 Redis 地址（如 redis://127.0.0.1:6379/0）")
        if urlsplit(url).password is not None:
            raise self.error(("distributed", "redis_url"),
                             f"密码不能写在 redis_url 中，请用环境变量 {ENV_REDIS_PASSWORD}")
        if not re.fullmatch(r"[A-Za-z0-9_.:-]+", distributed.key_prefix):
            raise self.error(("distributed", "key_prefix"), "只能由字母、数字和 _ . : - 组成")

    def check_url(self, url: str, key_path: tuple[str | int, ...]) -> None:
        if _SPACE.search(url):
            raise self.error(key_path, f"\"{url}\" 含有空白字符")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise self.error(key_path, f"\"{url}\" 不是有效的 http(s) 网址")
        try:
            _ = parts.port  # raises on a port out of range or not a number
        except ValueError:
            raise self.error(key_path, f"\"{url}\" 的端口无效") from None

    def check_notify(self, url: str, key_path: tuple[str | int, ...]) -> None:
        """An Apprise URL Apprise can use, `{env:NAME}` placeholders replaced by a dummy (never read here)."""
        if not url.strip() or any(c.isspace() for c in url):
            raise self.error(key_path, f"\"{url}\" 不是有效的通知地址（不能为空或含空白字符）")
        if "{env:" in re.sub(NOTIFY_PLACEHOLDER, "", url):
            raise self.error(key_path, f"\"{url}\" 中的环境变量占位符应写成 {{env:变量名}}（字母、数字、下划线）")
        scheme = url.partition("://")[0].lower() if "://" in url else ""
        if not scheme:
            raise self.error(key_path, f"\"{url}\" 不是通知地址（应如 dingtalk://{{env:DINGTALK_TOKEN}}/）")
        import apprise
        from apprise.manager_plugins import NotificationManager

        quiet = logging.getLogger("apprise")
        was = quiet.disabled
        quiet.disabled = True  # Apprise's own (English) complaints: ours below says it in Chinese
        try:
            plugin = apprise.Apprise.instantiate(re.sub(NOTIFY_PLACEHOLDER, _NOTIFY_DUMMY, url))
        finally:
            quiet.disabled = was
        if plugin is not None:
            return
        if scheme not in NotificationManager():
            raise self.error(key_path, f"\"{scheme}://\" 不是 Apprise 支持的通知类型（如 dingtalk://、wecombot://、"
                                       "json://）")
        raise self.error(key_path, f"\"{url}\" 不是有效的 {scheme}:// 通知地址（请对照 Apprise 文档检查写法）")

    def check_references(self, settings: Settings, raw: dict[str, Any]) -> None:
        names: set[str] = set()
        for i, unit in enumerate(settings.units):
            if not unit.name.strip():
                raise self.error(("units", i, "name"), "单位名称不能为空")
            if unit.name in names:
                raise self.error(("units", i, "name"), f"单位“{unit.name}”重复")
            names.add(unit.name)
            for prefix in unit.url_prefixes:
                self.check_url(prefix, ("units", i, "url_prefixes"))
        aliases: dict[str, str] = {}  # an alias names one unit, and no unit is named by another's alias
        for i, unit in enumerate(settings.units):
            for alias in unit.aliases:
                other = alias if alias in names else aliases.get(alias)
                if not alias.strip() or (other is not None and other != unit.name):
                    raise self.error(("units", i, "aliases"), "别名不能为空" if not alias.strip() else
                                     f"别名“{alias}”已是单位“{other}”的{'名称' if alias in names else '别名'}")
                aliases[alias] = unit.name
        urls: set[str] = set()
        resolved = []
        for i, column in enumerate(settings.columns):
            owner = column.unit or owner_by_prefix(settings.units, column.url)
            if not owner:
                raise self.error(("columns", i),
                                 f"栏目“{column.name}”没有 unit，且其网址不在任何单位的 url_prefixes 之下")
            if owner not in names:
                raise self.error(("columns", i, "unit"), f"单位“{owner}”未在 [[units]] 中定义")
            if column.url in urls:
                raise self.error(("columns", i, "url"), f"栏目网址重复：{column.url}")
            urls.add(column.url)
            resolved.append(dataclasses.replace(column, unit=owner))
        object.__setattr__(settings, "columns", tuple(resolved))
        for name in settings.report.good_units:
            if name not in names:
                raise self.error(("report", "good_units"), f"单位“{name}”未在 [[units]] 中定义")
        for i, site in enumerate(settings.sites):
            if site.unit and site.unit not in names:
                raise self.error(("sites", i, "unit"), f"单位“{site.unit}”未在 [[units]] 中定义")
        account_urls: set[str] = set()
        for i, account in enumerate(settings.accounts):
            if account.unit not in names:
                raise self.error(("accounts", i, "unit"), f"单位“{account.unit}”未在 [[units]] 中定义")
            if account.url in account_urls:
                raise self.error(("accounts", i, "url"), f"账号网址重复：{account.url}")
            account_urls.add(account.url)
        for page in settings.probes.pages:
            self.check_url(page, ("probes", "pages"))
        if settings.content.sensitive_file and not content_file(settings, settings.content.sensitive_file).is_file():
            raise self.error(("content", "sensitive_file"),
                             f"找不到敏感词文件 {content_file(settings, settings.content.sensitive_file)}")
        floor = float(os.environ.get(ENV_MIN_SCHEDULE) or MIN_SCHEDULE_INTERVAL)
        for f in dataclasses.fields(settings.schedule):
            if f.name != "out":
                text = getattr(settings.schedule, f.name)
                try:
                    kind, seconds = parse_schedule(text)
                except ValueError as exc:
                    raise self.error(("schedule", f.name), str(exc)) from None
                if kind == "every" and seconds < floor:
                    raise self.error(("schedule", f.name), f"\"{text}\" 的间隔太短，至少 {_number(floor)} 秒")


SCHEDULE_OFF = ("", "off", "never")
_EVERY = re.compile(r"every\s+(\d+(?:\.\d+)?)\s*(s|m|h|d)", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_schedule(text: str) -> tuple[str, Any]:
    """A [schedule] value as ("off", None), ("every", seconds) or ("cron", the five fields).

    Cron fields are checked by APScheduler's own parser (the one the daemon uses), so a value that loads here
    also schedules there.
    """
    value = text.strip()
    if value.lower() in SCHEDULE_OFF:
        return "off", None
    if match := _EVERY.fullmatch(value):
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()]
        if seconds <= 0:
            raise ValueError(f"\"{text}\" 的间隔必须大于 0")
        return "every", seconds
    fields = value.split()
    if len(fields) != 5:
        raise ValueError(f"\"{text}\" 应为 5 段 cron 表达式（分 时 日 月 周，如 \"0 2 * * *\"）、"
                         "\"every 60m\" 这样的间隔，或 \"off\"")
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(value, timezone="UTC")
    except ValueError as exc:
        raise ValueError(f"\"{text}\" 不是有效的 cron 表达式（{exc}）") from None
    return "cron", value


def content_file(settings: Settings, name: str) -> Path:
    """A file a setting names (`[content] sensitive_file`), relative to the settings file's directory."""
    return Path(settings.path).parent / Path(name).expanduser()


def owner_by_prefix(units: tuple[UnitSettings, ...], url: str) -> str | None:
    """The unit owning `url` by the longest matching URL prefix."""
    best = max(((len(p), u.name) for u in units for p in u.url_prefixes if url.startswith(p)), default=None)
    return best[1] if best else None


def _number(value: float) -> str:
    return f"{value:g}"


def _format_path(key_path: tuple[str | int, ...]) -> str:
    out = ""
    for part in key_path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out
