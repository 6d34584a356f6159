"""The documents a district's staff read (README.md, docs/, settings.example.toml) hold inside the project and
agree with the code; and a machine without Chromium is told how to get one (a fresh machine)."""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation but - and _ dropped, spaces to -."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_of_the_readme_and_docs_resolves_inside_the_project(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    assert "DESIGN.md" not in text and "../shared" not in text and "/work/" not in text
    for target in LINK.findall(text):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        assert file.is_relative_to(ROOT) and file.exists(), f"{page.name}: {target}"
        if anchor and file.suffix == ".md":
            headings = re.findall(r"^#+ (.+)$", file.read_text(encoding="utf-8"), re.M)
            assert anchor in {slug(h) for h in headings}, f"{page.name}: {target}"


def test_every_settings_key_is_in_the_settings_reference() -> None:
    from config.loader import ARRAYS, SECRET_FIELDS, TABLES

    reference = (DOCS / "settings.md").read_text(encoding="utf-8")
    missing = []
    for table, cls in {**TABLES, **ARRAYS}.items():
        heading = f"## [[{table}]]" if table in ARRAYS else f"## [{table}]"
        section = reference.partition(heading + "\n")[2].partition("\n## ")[0]
        for f in dataclasses.fields(cls):
            if (table, f.name) not in SECRET_FIELDS and f"| `{f.name}` |" not in section:
                missing.append(f"{table}.{f.name}")
    assert not missing, f"docs/settings.md lacks {missing}"


def test_the_example_settings_load_and_so_do_its_commented_keys(tmp_path: Path) -> None:
    """settings.example.toml loads as it stands, and with every commented-out key uncommented (so a person who
    uncomments one gets a valid setting, not a settings error); its account URLs are ones the readers take."""
    from config import load_settings
    from crawler.readers import resolve_reader

    example = ROOT / "settings.example.toml"
    settings = load_settings(example)
    assert settings.units and settings.columns and settings.accounts and settings.smtp.security == "starttls"
    for account in settings.accounts:
        resolve_reader(account.platform, account.url)
    text = example.read_text(encoding="utf-8")
    uncommented = re.sub(r"^# ((\[[\w.]+\])|(\w+ = ))", r"\1", text, flags=re.M)
    assert uncommented.count("\n# ") < text.count("\n# ") - 40
    full = tmp_path / "settings.toml"
    full.write_text(uncommented, encoding="utf-8")
    everything = load_settings(full)
    assert everything.columns[-1].selectors is not None and everything.crawl.browser_pages == 3


def test_every_monitor_command_is_in_the_cli_page() -> None:
    from monitors.cli import main

    page = (DOCS / "cli.md").read_text(encoding="utf-8")
    names = []
    for name, command in main.commands.items():
        if isinstance(command, click.Group):
            names += [f"{name} {sub}" for sub in command.commands]
        else:
            names.append(name)
    missing = [n for n in names if f"### `monitor {n}" not in page]
    assert len(names) >= 12 and not missing, missing


def test_every_rule_is_in_the_rules_page() -> None:
    from monitors import content_rules, rules

    # the registered rules, and the rule ids the modules name apart (a site's crawl failure, judged elsewhere)
    ids = {*rules.RULES, *content_rules.CONTENT_RULES,
           *(v for module in (rules, content_rules) for k, v in vars(module).items()
             if k.isupper() and isinstance(v, str) and re.fullmatch(r"[a-z]+\.[a-z_]+", v))}
    page = (DOCS / "rules.md").read_text(encoding="utf-8")
    missing = sorted(r for r in ids if f"| `{r}` |" not in page)
    assert not missing, missing


# --- a fresh machine: finding Chromium, and saying how to get one -------------------------------------------

def fake_chrome(path: Path) -> Path:
    path.parent.mkdir(parents=True)
    path.write_text("#!/bin/sh\n", encoding="utf-8")
    path.chmod(0o755)
    return path


def test_playwrights_own_chromium_is_found_when_the_system_has_none(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from crawler.readers import browser

    fake_chrome(tmp_path / "chromium-1100" / "chrome-linux" / "chrome")
    newest = fake_chrome(tmp_path / "chromium-1255" / "chrome-linux64" / "chrome")
    fake_chrome(tmp_path / "chromium_headless_shell-1255" / "chrome-linux64" / "headless_shell")
    monkeypatch.delenv("MONITOR_CHROMIUM", raising=False)
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(browser, "SYSTEM_CHROMIUMS", (str(tmp_path / "usr-bin-chromium"),))
    assert browser.find_chromium() == str(newest)
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path / "none"))
    assert browser.find_chromium() is None


def test_status_says_how_to_get_a_browser_when_there_is_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from monitors.cli import main

    settings = tmp_path / "settings.toml"
    settings.write_text(f'[monitor]\ndatabase_url = "sqlite:///{tmp_path / "m.db"}"\n', encoding="utf-8")
    monkeypatch.setenv("MONITOR_CHROMIUM", str(tmp_path / "no-chromium"))
    result = CliRunner().invoke(main, ["--config", str(settings), "status"])
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if x.startswith("浏览器："))
    assert "未找到 Chromium" in line and "apt-get install chromium" in line and "playwright install chromium" in line
    chrome = fake_chrome(tmp_path / "bin" / "chromium")
    monkeypatch.setenv("MONITOR_CHROMIUM", str(chrome))
    result = CliRunner().invoke(main, ["--config", str(settings), "status"])
    assert f"浏览器：{chrome}" in result.output.splitlines()
