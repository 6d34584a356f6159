"""`already_prepared` says True exactly when `storage.db.prepare` would change nothing (so a command may skip it),
and `schema_heads` finds the heads Alembic finds."""
from __future__ import annotations

import dataclasses
from pathlib import Path

from sqlalchemy import select, text

from config import parse_settings
from monitors.app import Monitor
from storage.db import MIGRATIONS, at_head, get_sessionmaker, prepare, schema_heads, schema_ready
from storage.models import Account, Column, Site, Unit
from storage.queries.prepared import already_prepared

TEXT = """
[monitor]
database_url = "{url}"
[[sites]]
name = "门户"
url = "http://127.0.0.1:9/"
[[units]]
name = "审计局"
emails = ["a@example.invalid", "b@example.invalid"]
[[units]]
name = "统计局"
kind = "township"
[[columns]]
unit = "审计局"
name = "工作动态"
url = "http://127.0.0.1:9/sjj/gzdt/"
[[columns]]
unit = "统计局"
name = "通知公告"
url = "http://127.0.0.1:9/tjj/tzgg/"
category = "notice"
quota = false
[[accounts]]
unit = "统计局"
platform = "weibo"
name = "统计局微博"
url = "https://weibo.com/u/123"
"""


def rows(url: str) -> dict[str, list[tuple]]:
    """Every row prepare writes, to see that it wrote nothing."""
    with get_sessionmaker(url)() as s:
        return {m.__tablename__: sorted(tuple(r) for r in s.execute(select(*m.__table__.columns)))
                for m in (Site, Unit, Column, Account)}


def prepared(url: str, settings: object) -> bool:
    with get_sessionmaker(url)() as s:
        return already_prepared(s, settings)


def test_schema_heads_are_alembics() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert schema_heads() == frozenset(ScriptDirectory.from_config(config).get_heads())


def test_prepared_exactly_when_prepare_changes_nothing(db_url: str) -> None:
    settings = parse_settings(TEXT.format(url=db_url))
    assert not prepared(db_url, settings)  # migrated, settings not loaded yet
    prepare(settings)
    assert prepared(db_url, settings)
    before = rows(db_url)
    prepare(settings)
    assert rows(db_url) == before  # prepare again: nothing to change, as already_prepared said

    column, account, unit = settings.columns[0], settings.accounts[0], settings.units[0]
    changes = [
        dataclasses.replace(settings, sites=(dataclasses.replace(settings.sites[0], name="新门户"),)),
        dataclasses.replace(settings, units=(dataclasses.replace(unit, emails=("a@example.invalid",)),
                                             *settings.units[1:])),
        dataclasses.replace(settings, units=(dataclasses.replace(unit, kind="other"), *settings.units[1:])),
        dataclasses.replace(settings, columns=(dataclasses.replace(column, name="新闻"), *settings.columns[1:])),
        dataclasses.replace(settings, columns=(dataclasses.replace(column, quota=False), *settings.columns[1:])),
        dataclasses.replace(settings, columns=(dataclasses.replace(column, category="notice"),
                                               *settings.columns[1:])),
        dataclasses.replace(settings, columns=(dataclasses.replace(column, unit="统计局"), *settings.columns[1:])),
        dataclasses.replace(settings, columns=settings.columns[1:]),  # removed: to be made inactive
        dataclasses.replace(settings, columns=(*settings.columns,
                                               dataclasses.replace(column, url="http://127.0.0.1:9/sjj/new/"))),
        dataclasses.replace(settings, accounts=(dataclasses.replace(account, name="新名"),)),
        dataclasses.replace(settings, accounts=(dataclasses.replace(account, platform="wechat"),)),
        dataclasses.replace(settings, accounts=()),
    ]
    for changed in changes:
        assert not prepared(db_url, changed)
        prepare(changed)
        assert prepared(db_url, changed) and not prepared(db_url, settings)
        prepare(settings)
        assert prepared(db_url, settings)
        again = rows(db_url)
        prepare(settings)
        assert rows(db_url) == again


def test_an_older_schema_is_not_prepared(db_url: str) -> None:
    settings = parse_settings(TEXT.format(url=db_url))
    prepare(settings)
    with get_sessionmaker(db_url).begin() as s:
        s.execute(text("UPDATE alembic_version SET version_num = '0010'"))
    with get_sessionmaker(db_url)() as s:
        assert not at_head(s.connection()) and not already_prepared(s, settings)
    assert not schema_ready(db_url)


def test_a_new_database_is_prepared_by_the_app(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    settings = parse_settings(TEXT.format(url=url))
    with get_sessionmaker(url)() as s:
        assert not at_head(s.connection())
    app = Monitor(settings)
    with app.sessions() as s:  # the fast path said no: prepared in full
        assert s.scalar(select(Column.name).where(Column.url == settings.columns[0].url)) == "工作动态"
    assert prepared(url, settings) and schema_ready(url)
