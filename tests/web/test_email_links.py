"""A unit's email carries its own dashboard link when `[serve] public_url` is set: the link's token opens that
unit's page and no other; without a public address (or before the dashboard made its secret) there is none."""
from __future__ import annotations

import re
import shutil
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from config import load_settings
from config.loader import ENV_SERVE_PASSWORD
from monitors.alerts.compose import ONLINE_LINE
from monitors.app import Monitor
from monitors.web.app import create_app
from tests.helpers import DemoRun

pytestmark = pytest.mark.slow
AS_OF = date(2020, 10, 10)


def demo_copy(demo_run: DemoRun, tmp_path: Path, public_url: str) -> Path:
    out = tmp_path / "demo"
    shutil.copytree(demo_run.out, out)
    settings = out / "settings.toml"
    text = settings.read_text(encoding="utf-8").replace(str(demo_run.out), str(out))
    settings.write_text(text + f'\n[serve]\npublic_url = "{public_url}"\n', encoding="utf-8")
    return settings


def test_the_unit_email_links_its_own_page(demo_run: DemoRun, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(demo_copy(demo_run, tmp_path, "http://10.1.2.3:8080/"))
    monitor = Monitor(settings)
    before = monitor.plan_alerts(AS_OF)
    assert not [u for u in before.units if ONLINE_LINE in u.email.text]  # no secret yet: no link
    monkeypatch.setenv(ENV_SERVE_PASSWORD, "口令")
    client = TestClient(create_app(settings))  # the dashboard makes its secret
    plan = monitor.plan_alerts(AS_OF)
    audit = next(u for u in plan.units if u.unit == "审计局")
    link = re.search(re.escape(ONLINE_LINE) + r"(\S+)", audit.email.text)
    assert link and link[1].startswith("http://10.1.2.3:8080/u/")
    assert f'href="{link[1].replace("&", "&amp;")}"' in audit.email.html or f'href="{link[1]}"' in audit.email.html
    path = link[1].removeprefix("http://10.1.2.3:8080")
    page = client.get(path, follow_redirects=False)
    assert page.status_code == 200 and "审计局" in page.text
    other = client.get(path.replace(path.split("?")[0], "/u/%E6%95%99%E8%82%B2%E5%B1%80"), follow_redirects=False)
    assert other.status_code == 403  # the same token opens no other unit (教育局)
