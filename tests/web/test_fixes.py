"""The 整改 forms and /api/findings through the real ASGI app (TestClient on create_app) over a real database:
a unit acts through its token link with the CSRF its form carries, the centre sees it and verifies or reopens;
forged or missing CSRF, other units' tokens and anonymous callers are refused."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from html import unescape
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from config.loader import ENV_SERVE_PASSWORD, parse_settings
from monitors import remediation
from monitors.app import Monitor
from monitors.web.app import create_app
from monitors.web.deps import templates
from monitors.web.security import SESSION_COOKIE, Security, Viewer
from tests.monitors.test_remediation import AUDIT, AUDIT_COLUMN, OCT10, TOWN, TOWN_COLUMN, evaluation, settings_text


class Dashboard:
    """The app on a fresh SQLite database holding one finding for each of two units."""

    def __init__(self, root: Path) -> None:
        path = root / "settings.toml"
        path.write_text(settings_text(f"sqlite:///{root / 'monitor.db'}"), encoding="utf-8")
        self.settings = parse_settings(path.read_text(encoding="utf-8"), str(path))
        self.monitor = Monitor(self.settings)
        remediation.sync(self.monitor, OCT10, evaluation(OCT10, {AUDIT: [("column.stale", AUDIT_COLUMN)],
                                                                 TOWN: [("column.blank", TOWN_COLUMN)]}),
                         now=datetime(2020, 10, 10, 1, tzinfo=timezone.utc))
        self.app = create_app(self.settings)
        self.security: Security = self.app.state.security
        self.client = TestClient(self.app)
        self.ids = {s.unit: s.id for s in remediation.states_for(self.monitor, None, OCT10)}

    def centre(self) -> TestClient:
        client = TestClient(self.app)
        client.cookies.set(SESSION_COOKIE, self.security.session_cookie())
        return client

    def status(self, unit: str) -> remediation.FindingStatus:
        return next(s for s in remediation.states_for(self.monitor, unit, OCT10))

    def form(self, viewer: Viewer, unit: str) -> str:
        """The partial as the unit page includes it for this viewer."""
        finding = remediation.with_states(
            [{"rule": "x", "target": "y"}, {"rule": self.status(unit).rule, "target": self.status(unit).target}],
            remediation.states_for(self.monitor, unit, OCT10))[1]
        token = self.security.unit_token(unit) if viewer.kind == "unit" else ""
        return templates.get_template("_finding_actions.html").render(
            finding=finding, unit=unit, viewer=viewer, csrf=self.security.csrf_token(viewer), token=token)


@pytest.fixture
def dash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Dashboard:
    monkeypatch.setenv(ENV_SERVE_PASSWORD, "centre-secret")  # not open access: the centre must log in
    return Dashboard(tmp_path)


def hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no hidden {name} in the form"
    return unescape(match.group(1))


def actions(html: str) -> list[str]:
    return re.findall(r'formaction="([^"]+)"', html)


def test_a_unit_acknowledges_through_its_link_and_the_centre_sees_it(dash: Dashboard) -> None:
    finding_id = dash.ids[AUDIT]
    form = dash.form(Viewer("unit", AUDIT), AUDIT)
    assert "待处理" in form and "整改时限：2020-10-20" in form
    base = f"/u/{quote(AUDIT)}/findings/{finding_id}"
    assert actions(form) == [f"{base}/acknowledge", f"{base}/fixed"]
    assert "确认收到" in form and "已整改" in form and "核实通过" not in form
    token = hidden(form, "token")
    response = dash.client.post(actions(form)[0], data={"note": "已收到，三日内补发<script>", "csrf": hidden(form, "csrf"),
                                                        "token": token}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/u/{quote(AUDIT, safe='')}?token={token}#finding-{finding_id}"

    api = dash.centre().get("/api/findings", params={"unit": AUDIT}).json()
    assert [(f["state"], f["state_label"], f["updated_by"], f["note"]) for f in api] == [
        ("acknowledged", "已确认", AUDIT, "已收到，三日内补发<script>")]
    # the centre's view of the finding: its state, who and the note (escaped), and the centre's buttons
    centre_form = dash.form(Viewer("centre"), AUDIT)
    assert "已确认" in centre_form and "&lt;script&gt;" in centre_form and "<script>" not in centre_form
    assert actions(centre_form) == [f"/findings/{finding_id}/verify"]
    assert 'name="token"' not in centre_form

    form = dash.form(Viewer("unit", AUDIT), AUDIT)
    assert actions(form) == [f"{base}/fixed"]  # acknowledged: only 已整改 is left
    response = dash.client.post(actions(form)[0], data={"note": "已发布", "csrf": hidden(form, "csrf"),
                                                        "token": token}, follow_redirects=False)
    assert response.status_code == 303 and dash.status(AUDIT).state == "fixed"


def test_forms_without_or_with_a_wrong_csrf_are_refused(dash: Dashboard) -> None:
    finding_id = dash.ids[AUDIT]
    url = f"/u/{quote(AUDIT)}/findings/{finding_id}/acknowledge"
    token = dash.security.unit_token(AUDIT)
    for csrf in ("", "x" * 32, dash.security.csrf_token(Viewer("unit", TOWN)), dash.security.csrf_token(Viewer("centre"))):
        response = dash.client.post(url, data={"note": "n", "csrf": csrf, "token": token}, follow_redirects=False)
        assert response.status_code == 403, csrf
    response = dash.centre().post(f"/findings/{finding_id}/verify", data={"note": ""}, follow_redirects=False)
    assert response.status_code == 403
    assert dash.status(AUDIT).state == "open"


def test_a_units_token_cannot_act_on_another_units_finding(dash: Dashboard) -> None:
    audit_id = dash.ids[AUDIT]
    town = Viewer("unit", TOWN)
    town_data = {"note": "n", "csrf": dash.security.csrf_token(town), "token": dash.security.unit_token(TOWN)}
    # the town's token on the audit office's page: refused before anything else
    response = dash.client.post(f"/u/{quote(AUDIT)}/findings/{audit_id}/fixed", data=town_data,
                                follow_redirects=False)
    assert response.status_code == 403
    # the town's own address with the audit office's finding id: no such finding there
    response = dash.client.post(f"/u/{quote(TOWN)}/findings/{audit_id}/acknowledge", data=town_data,
                                follow_redirects=False)
    assert response.status_code == 404 and "不属于本单位" in response.text
    # a unit cannot use the centre's actions: they need the centre's login
    response = dash.client.post(f"/findings/{audit_id}/verify", data=town_data, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    assert dash.status(AUDIT).state == "open"


def test_the_centre_reopens_and_verifies(dash: Dashboard) -> None:
    finding_id = dash.ids[AUDIT]
    remediation.claim_fixed(dash.monitor, AUDIT, finding_id, "已发布", AUDIT)
    centre = dash.centre()
    form = dash.form(Viewer("centre"), AUDIT)
    assert actions(form) == [f"/findings/{finding_id}/verify", f"/findings/{finding_id}/reopen"]
    csrf = hidden(form, "csrf")
    refused = centre.post(f"/findings/{finding_id}/reopen", data={"note": "", "csrf": csrf}, follow_redirects=False)
    assert refused.status_code == 400 and "请填写说明" in refused.text
    response = centre.post(f"/findings/{finding_id}/reopen", data={"note": "栏目仍未更新", "csrf": csrf},
                           follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/u/{quote(AUDIT, safe='')}#finding-{finding_id}"
    status = dash.status(AUDIT)
    assert (status.state, status.updated_by, status.note) == ("reopened", "区大数据服务中心", "栏目仍未更新")
    response = centre.post(f"/findings/{finding_id}/verify", data={"note": "", "csrf": csrf}, follow_redirects=False)
    assert response.status_code == 303 and dash.status(AUDIT).state == "verified"
    conflict = centre.post(f"/findings/{finding_id}/verify", data={"note": "", "csrf": csrf}, follow_redirects=False)
    assert conflict.status_code == 409


def test_api_findings_is_scoped(dash: Dashboard) -> None:
    assert dash.client.get("/api/findings").status_code == 401
    everything = dash.centre().get("/api/findings", params={"as_of": "2020-10-25"}).json()
    assert sorted(f["unit"] for f in everything) == sorted([AUDIT, TOWN])
    assert all(f["overdue"] and f["days_overdue"] == 5 and f["deadline"] == "2020-10-20" for f in everything)
    token = dash.security.unit_token(AUDIT)
    own = dash.client.get("/api/findings", params={"unit": AUDIT}, headers={"X-Unit-Token": token}).json()
    assert [f["unit"] for f in own] == [AUDIT]
    assert [f["unit"] for f in dash.client.get("/api/findings", params={"unit": AUDIT, "token": token}).json()] == [AUDIT]
    # the token with another unit's name, or a token alone, opens nothing
    assert dash.client.get("/api/findings", params={"unit": TOWN}, headers={"X-Unit-Token": token}).status_code == 403
    assert dash.client.get("/api/findings", headers={"X-Unit-Token": token}).status_code == 403
    assert dash.centre().get("/api/findings", params={"state": "fixed"}).json() == []
    assert dash.centre().get("/api/findings", params={"state": "nonsense"}).status_code == 422
    schema = dash.client.get("/openapi.json").json()
    assert "/api/findings" in schema["paths"] and "FindingStateOut" in schema["components"]["schemas"]
    assert not any("/acknowledge" in p for p in schema["paths"])  # the forms are not the API


def test_a_finding_not_yet_in_the_loop_shows_no_forms() -> None:
    html = templates.get_template("_finding_actions.html").render(
        finding={"rule": "column.stale", "target": AUDIT_COLUMN}, unit=AUDIT, viewer=Viewer("unit", AUDIT),
        csrf="c", token="t")
    assert "未登记" in html and "<form" not in html


def test_deadline_shown_red_when_overdue(dash: Dashboard) -> None:
    statuses = remediation.states_for(dash.monitor, AUDIT, OCT10 + timedelta(days=12))
    finding = remediation.with_states([{"rule": statuses[0].rule, "target": statuses[0].target}], statuses)[0]
    html = templates.get_template("_finding_actions.html").render(
        finding=finding, unit=AUDIT, viewer=Viewer("centre"), csrf="c", token="")
    assert 'class="deadline overdue"' in html and "已逾期 2 天" in html and "#b00020" in html
    assert date(2020, 10, 20).isoformat() in html


def test_malformed_input_is_refused_not_a_server_error(dash: Dashboard) -> None:
    centre = dash.centre()
    assert centre.get("/api/findings", params={"unit": "审计\x00局"}).status_code == 422
    assert centre.get("/api/findings", params={"token": "a\x00"}).status_code == 422
    csrf = dash.security.csrf_token(Viewer("centre"))
    assert centre.post("/findings/99999999999/verify", data={"csrf": csrf}, follow_redirects=False).status_code == 422
    assert centre.post("/findings/123456/verify", data={"csrf": csrf}, follow_redirects=False).status_code == 404
    finding_id = dash.ids[AUDIT]
    response = centre.post(f"/u/{quote(AUDIT)}/findings/{finding_id}/acknowledge",
                           data={"note": "收到\x00了\n下周整改", "csrf": csrf}, follow_redirects=False)
    assert response.status_code == 303
    status = dash.status(AUDIT)
    assert (status.state, status.note, status.updated_by) == ("acknowledged", "收到了\n下周整改", "区大数据服务中心")


def test_a_date_that_does_not_exist_is_a_validation_error(dash: Dashboard) -> None:
    response = dash.centre().get("/api/findings", params={"as_of": "2020-02-30"})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["query", "as_of"]
    assert dash.centre().get("/api/findings", params={"as_of": "0"}).status_code == 422


def test_the_history_is_listed_in_local_time_and_escaped(dash: Dashboard) -> None:
    finding_id = dash.ids[AUDIT]
    remediation.acknowledge(dash.monitor, AUDIT, finding_id, '"><img src=x onerror=alert(1)>', AUDIT,
                            now=datetime(2020, 10, 10, 2, 30, tzinfo=timezone.utc))
    html = dash.form(Viewer("centre"), AUDIT)
    assert "办理记录（2 条）" in html and "2020-10-10 10:30 · 审计局 · 已确认" in html
    assert "<img" not in html and "&lt;img" in html
