"""The JSON API (/api/) over a copy of the demo's database: shapes, the same JSON as the CLI, tokens' scope, and a
Schemathesis run against the app's own OpenAPI description (no server error, responses as described)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from config import load_settings
from config.loader import ENV_SERVE_PASSWORD
from monitors.web.app import create_app
from monitors.web.security import ENV_SERVE_SECRET, SESSION_COOKIE, Security
from tests.helpers import DemoRun

ROOT = Path(__file__).resolve().parents[2]
AS_OF = "2020-10-10"


@dataclass(frozen=True)
class Copy:
    """The demo's directory copied (database and settings pointing at the copy): the demo itself stays unread."""

    root: Path
    settings_path: Path


@pytest.fixture(scope="module")
def demo_copy(demo_run: DemoRun, tmp_path_factory: pytest.TempPathFactory) -> Copy:
    root = tmp_path_factory.mktemp("api")
    for name in ("monitor.db", "monitor.db-wal", "monitor.db-shm", "report-2020Q3.json"):
        if (demo_run.out / name).exists():
            shutil.copy(demo_run.out / name, root / name)
    lines = [f'database_url = "sqlite:///{root / "monitor.db"}"' if line.startswith("database_url") else line
             for line in (demo_run.out / "settings.toml").read_text(encoding="utf-8").splitlines()]
    path = root / "settings.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return Copy(root, path)


def make_app(copy: Copy, password: str = "") -> FastAPI:
    """The app as `monitor serve` builds it; with `password` the centre must log in (no open access)."""
    saved = {k: os.environ.pop(k, None) for k in (ENV_SERVE_PASSWORD, ENV_SERVE_SECRET)}
    if password:
        os.environ[ENV_SERVE_PASSWORD] = password
    try:
        return create_app(load_settings(copy.settings_path))
    finally:
        for key, value in saved.items():
            os.environ.pop(key, None)
            if value is not None:
                os.environ[key] = value


@pytest.fixture(scope="module")
def client(demo_copy: Copy) -> Iterator[TestClient]:
    with TestClient(make_app(demo_copy)) as c:
        yield c


@pytest.fixture(scope="module")
def guarded(demo_copy: Copy) -> Iterator[TestClient]:
    """A dashboard whose centre has a password: what a unit or a stranger meets."""
    with TestClient(make_app(demo_copy, password="centre-secret")) as c:
        yield c


def cli_check(copy: Copy, unit: str) -> dict:
    result = subprocess.run([sys.executable, "-m", "monitors.cli", "--config", str(copy.settings_path), "check",
                             "--unit", unit, "--as-of", AS_OF, "--no-crawl", "--format", "json"],
                            capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode in (0, 1), result.stderr[-2000:]
    data: dict = json.loads(result.stdout)
    return data


def test_units_lists_every_settings_unit_for_the_centre(client: TestClient, demo_copy: Copy) -> None:
    response = client.get("/api/units")
    assert response.status_code == 200
    units = load_settings(demo_copy.settings_path).units
    assert response.json() == [{"name": u.name, "kind": u.kind} for u in units]
    assert {"name": "审计局", "kind": "department"} in response.json()
    assert {"name": "仓山镇", "kind": "township"} in response.json()


@pytest.mark.parametrize("unit", ["审计局", "教育局", "区政府办"])  # quota and stale; an account; content evidence
def test_check_is_the_clis_json(client: TestClient, demo_copy: Copy, unit: str) -> None:
    response = client.get(f"/api/units/{unit}/check", params={"as_of": AS_OF})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == cli_check(demo_copy, unit)


def test_check_shape(client: TestClient) -> None:
    data = client.get("/api/units/审计局/check", params={"as_of": AS_OF}).json()
    assert list(data) == ["unit", "as_of", "months", "partial_months", "columns", "accounts", "findings", "data"]
    assert data["unit"] == "审计局" and data["as_of"] == AS_OF
    assert data["months"] == {"2020-07": 3, "2020-08": 1, "2020-09": 0, "2020-10": 0}
    assert {f["rule"] for f in data["findings"]} == {"quota.monthly", "column.stale"}
    assert all("evidence" not in f for f in data["findings"])  # absent, not null, as in the CLI's JSON
    assert set(data["data"]) == {"oldest", "newest", "never_read", "stale"}
    evidence = [f for f in client.get("/api/units/区政府办/check", params={"as_of": AS_OF}).json()["findings"]
                if "evidence" in f]
    assert evidence and set(evidence[0]["evidence"][0]) == {"item", "text", "outcome"}


def test_check_takes_an_alias_and_answers_with_the_settings_name(client: TestClient) -> None:
    data = client.get("/api/units/仓山区审计局/check", params={"as_of": AS_OF}).json()
    assert data["unit"] == "审计局"


@pytest.mark.parametrize("query, status", [
    ({"as_of": "2020-13-01"}, 422), ({"as_of": "yesterday"}, 422), ({"as_of": "1900-01-01"}, 422),
    ({"as_of": "2999-01-01"}, 422), ({"as_of": ""}, 422), ({}, 200)])
def test_check_dates(client: TestClient, query: dict, status: int) -> None:
    response = client.get("/api/units/审计局/check", params=query)
    assert response.status_code == status, response.text
    if query.get("as_of", "")[:2] in ("19", "29"):
        assert "年份应在 1990–2100 之间" in response.json()["detail"][0]["msg"]


def test_check_unknown_unit_is_404_in_chinese(client: TestClient) -> None:
    response = client.get("/api/units/没有这个局/check", params={"as_of": AS_OF})
    assert response.status_code == 404
    assert "不在设置的单位中" in response.json()["detail"]


def test_report_is_the_report_json(client: TestClient, demo_copy: Copy) -> None:
    response = client.get("/api/reports/2020Q3")
    assert response.status_code == 200
    written = json.loads((demo_copy.root / "report-2020Q3.json").read_text(encoding="utf-8"))
    assert response.json() == written  # the demo's `monitor report` file, key for key
    assert client.get("/api/reports/2020q3").json() == written
    data = response.json()
    assert data["quarter"] == "2020Q3" and data["months"] == ["2020-07", "2020-08", "2020-09"]
    assert {"unit", "kind", "months", "status"} <= set(data["units"][0])


@pytest.mark.parametrize("path, query, status", [
    ("2020Q5", {}, 422), ("2020-Q3", {}, 422), ("0000Q1", {}, 422), ("2099Q1", {}, 404),
    ("2020Q3", {"as_of": "2020-09-01"}, 422), ("2020Q3", {"as_of": "2020-02-30"}, 422)])
def test_report_bad_quarter_or_date(client: TestClient, path: str, query: dict, status: int) -> None:
    response = client.get(f"/api/reports/{path}", params=query)
    assert response.status_code == status, response.text


def test_tokens_open_only_their_units_check(guarded: TestClient) -> None:
    security: Security = guarded.app.state.security  # type: ignore[attr-defined]
    token = security.unit_token("审计局")
    check = "/api/units/审计局/check"
    assert guarded.get(check, params={"as_of": AS_OF, "token": token}).json()["unit"] == "审计局"
    assert guarded.get(check, params={"as_of": AS_OF}, headers={"X-Unit-Token": token}).status_code == 200
    # another unit's check, the list of every unit and the report: not with this token
    assert guarded.get("/api/units/教育局/check", params={"as_of": AS_OF, "token": token}).status_code == 403
    assert guarded.get("/api/units/教育局/check", headers={"X-Unit-Token": token}).status_code == 403
    assert guarded.get("/api/reports/2020Q3", params={"token": token}).status_code == 403
    assert guarded.get("/api/units", params={"token": token}).json() == [{"name": "审计局", "kind": "department"}]
    # nobody: 401 in Chinese; a made-up token: 403
    for path in (check, "/api/units", "/api/reports/2020Q3"):
        response = guarded.get(path)
        assert response.status_code == 401 and "需要登录" in response.json()["detail"]
        assert guarded.get(path, params={"token": "x" * 32}).status_code == 403
        assert guarded.get(path, headers={"X-Unit-Token": token[:-1] + "A"}).status_code == 403


def test_the_centres_session_sees_everything(guarded: TestClient, demo_copy: Copy) -> None:
    security: Security = guarded.app.state.security  # type: ignore[attr-defined]
    cookies = {SESSION_COOKIE: security.session_cookie()}
    with TestClient(guarded.app, cookies=cookies) as centre:
        assert len(centre.get("/api/units").json()) == len(load_settings(demo_copy.settings_path).units)
        assert centre.get("/api/units/教育局/check", params={"as_of": AS_OF}).status_code == 200
        assert centre.get("/api/reports/2020Q3").status_code == 200
    with TestClient(guarded.app, cookies={SESSION_COOKIE: "centre.9999999999.forged"}) as forged:
        assert forged.get("/api/units").status_code == 401


def test_openapi_describes_every_endpoint_in_chinese(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for path in ("/api/units", "/api/units/{unit}/check", "/api/reports/{quarter}"):
        operation = spec["paths"][path]["get"]
        assert any("\u4e00" <= ch <= "\u9fff" for ch in operation["summary"] + operation["description"])
        assert "application/json" in operation["responses"]["200"]["content"]
    check = spec["components"]["schemas"]["CheckOut"]
    assert {"unit", "as_of", "months", "columns", "accounts", "findings", "data"} <= set(check["properties"])


@pytest.fixture(scope="module")
def api_schema(demo_copy: Copy) -> schemathesis.schemas.BaseSchema:
    app = make_app(demo_copy)
    return schemathesis.openapi.from_asgi("/openapi.json", app)


# the JSON API (the HTML pages and the 整改 forms are other tests' business); GET only: the demo copy stays as is
schema = schemathesis.pytest.from_fixture("api_schema").include(path_regex="^/api/", method="GET")


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_schemathesis_finds_no_server_error(case: schemathesis.Case) -> None:
    response = case.call()
    assert response.status_code < 500, f"{case.method} {case.formatted_path} {case.query}: {response.text[:500]}"
    # a date the schema allows may still be refused (422: after today, outside 1990–2100, before the quarter's
    # end), as the CLI refuses it; OpenAPI cannot say so. Every other check runs.
    case.validate_response(response, excluded_checks=[positive_data_acceptance])


# every page the app describes (HTML included), GET only: nothing may answer with a server error
whole_app = schemathesis.pytest.from_fixture("api_schema").include(method="GET").exclude(path_regex="^/api/")


@whole_app.parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
def test_schemathesis_pages_answer_no_server_error(case: schemathesis.Case) -> None:
    response = case.call()
    assert response.status_code < 500, f"{case.method} {case.formatted_path} {case.query}: {response.text[:300]}"
