"""The `monitor` command's own words: click's usage, help and errors in Chinese, --config after the command,
`status` telling the centre when each job runs next and how the last crawl went, a progress bar on a terminal."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from monitors.cli import ProgressBar, main, schedule_words, until
from tests.monitors.test_cli_check import seeded

ENGLISH = ("Usage", "Options", "Commands", "Missing", "Error", "Show this message", "required", "Try ",
           "No such", "Invalid value", "is not one of")


def monitor(*args: str) -> Result:
    result = CliRunner().invoke(main, list(args), prog_name="monitor")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


@pytest.mark.parametrize("args", [["--help"], ["check", "--help"], ["accounts", "--help"], ["report", "-h"]])
def test_help_is_in_chinese(args: list[str]) -> None:
    result = monitor(*args)
    assert result.exit_code == 0
    assert result.stdout.startswith("用法: monitor") and "选项:" in result.stdout and "显示本帮助并退出。" in result.stdout
    assert not [word for word in ENGLISH if word in result.stdout], result.stdout
    if args[0] == "check":
        assert "[必填]" in result.stdout and "--config" in result.stdout


@pytest.mark.parametrize("args, error", [
    (["check"], "错误：缺少选项 '--unit'"),
    (["check", "--unit", "审计局", "--format", "xml"], "错误：'--format' 的取值无效：'xml' 不是 'text', 'json' 之一。"),
    (["nosuch"], "错误：没有命令 'nosuch'。"),
    (["check", "--unit"], "错误：选项 '--unit' 需要一个值。"),
    (["status", "--bogus"], "错误：没有选项 '--bogus'。"),
    (["discover", "http://x/", "--max-pages", "0"], "错误：'--max-pages' 的取值无效：0 不在范围 x>=1 内。"),
])
def test_usage_errors_are_in_chinese(args: list[str], error: str) -> None:
    result = monitor(*args)
    assert result.exit_code == 2
    assert error in result.stderr
    if args != ["check", "--unit"]:  # click gives no usage for an option missing its value
        assert result.stderr.startswith("用法: monitor") and "查看帮助" in result.stderr
    assert not [word for word in ENGLISH if word in result.stderr], result.stderr


def test_config_is_taken_after_the_command_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = seeded(tmp_path, read_days_ago=0.01)
    monkeypatch.chdir(tmp_path / "..")  # no settings.toml here: only --config can name it
    for args in (["--config", str(config), "check", "--unit", "审计局", "--as-of", "2020-10-10", "--no-crawl"],
                 ["check", "--unit", "审计局", "--as-of", "2020-10-10", "--no-crawl", "--config", str(config)],
                 ["check", "--config", str(config), "--unit", "审计局", "--as-of", "2020-10-10", "--no-crawl"]):
        result = monitor(*args)
        assert result.exit_code in (0, 1) and result.stdout.startswith("审计局 检查结果"), result.output
    init = monitor("init", "--config", str(config))
    assert init.exit_code == 0 and "1 个单位" in init.stdout
    nested = monitor("accounts", "export", str(tmp_path / "out.xlsx"), "--config", str(config))
    assert nested.exit_code == 0 and "1 个政务新媒体账号" in nested.stdout


@pytest.mark.parametrize("text, words", [
    ("0 2 * * *", "每天 02:00"),
    ("0 */4 * * *", "每 4 小时（整点）"),
    ("every 60m", "每 1 小时"),
    ("every 90s", "每 90 秒"),
    ("every 15m", "每 15 分钟"),
    ("30 8 * * *", "每天 08:30"),
    ("0 9 1 * *", "每月 1 日 09:00"),
    ("0 9 10 1,4,7,10 *", "每年 1、4、7、10 月 10 日 09:00"),
    ("30 8 * * 1", "每周一 08:30"),
    ("0 8,14 * * *", "每天 08:00、14:00"),
    ("off", "停用"),
    ("*/5 1-3 * * *", "cron “*/5 1-3 * * *”"),
])
def test_schedules_are_said_in_words(text: str, words: str) -> None:
    assert schedule_words(text) == words


def test_until_says_how_long_in_words() -> None:
    now = datetime(2026, 11, 30, 12, tzinfo=timezone.utc)
    assert [until(now + d, now) for d in (timedelta(seconds=20), timedelta(minutes=25), timedelta(hours=11),
                                          timedelta(days=40), -timedelta(minutes=5))] == [
        "即将运行", "约 25 分钟后", "约 11 小时后", "约 40 天后", "已到时间"]


def test_status_says_when_jobs_run_next_the_last_crawl_and_what_could_not_be_read(tmp_path: Path) -> None:
    config = seeded(tmp_path, read_days_ago=0.01)
    result = monitor("--config", str(config), "status")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    crawl = next(line for line in lines if "（crawl）" in line)
    assert "抓取门户栏目" in crawl and "每天 02:00" in crawl and "0 2 * * *" not in crawl
    assert "小时后）" in crawl or "分钟后）" in crawl  # the next run, computed without a daemon
    assert "每年 1、4、7、10 月 10 日 09:00" in next(line for line in lines if "（quarterly）" in line)
    assert any(line.startswith("最近一次抓取：") and "增量，已完成" in line for line in lines)
    assert any(line.startswith("数据更新于 ") for line in lines)
    assert "读取有问题的栏目（1 个）：" in lines
    column = next(line for line in lines if "工作动态" in line)
    assert "审计局" in column and "未读全" in column and "已读取 1/3 条" in column
    assert "无法读取的政务新媒体账号（1 个）：" in lines
    assert "需要登录" in next(line for line in lines if "仓山审计" in line)


def test_status_before_anything_was_read(tmp_path: Path) -> None:
    config = tmp_path / "settings.toml"
    config.write_text(f'[monitor]\ndatabase_url = "sqlite:///{tmp_path / "m.db"}"\n', encoding="utf-8")
    result = monitor("--config", str(config), "status")
    assert result.exit_code == 0
    assert "最近一次抓取：从未抓取\n读取有问题的栏目：无\n无法读取的政务新媒体账号：无\n" in result.stdout


def test_progress_is_a_bar_on_a_terminal_and_lines_elsewhere() -> None:
    lines = ["[  1/3] 审计局 · 工作动态：正常", "[  2/3] 审计局 · 通知公告：正常", "未读全：审计局 · 政策文件",
             "[  3/3] 审计局 · 政策文件：未读全"]
    runner = CliRunner()
    with runner.isolation() as (_, err, _):
        bar = ProgressBar(terminal=True)
        for line in lines:
            bar(line)
        bar.close()
        drawn = err.getvalue().decode()
    # (click drops the escape that clears the rest of the line when the stream is no terminal, as here)
    assert drawn.count("\r[") == 3 and "\r[########................] 1/3 审计局 · 工作动态：正常\r[####" in drawn
    assert "\n未读全：审计局 · 政策文件\n" in drawn  # another line ends the bar's line and stands on its own
    assert drawn.endswith("\n\r[" + "#" * 24 + "] 3/3 审计局 · 政策文件：未读全\n")
    with runner.isolation() as (_, err, _):
        bar = ProgressBar(terminal=False)
        for line in lines:
            bar(line)
        assert err.getvalue().decode() == "".join(line + "\n" for line in lines)


def test_report_says_each_step_as_it_goes(tmp_path: Path) -> None:
    config = seeded(tmp_path, read_days_ago=0.01)
    result = monitor("--config", str(config), "report", "--quarter", "2020Q3", "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    steps = [line for line in result.stderr.splitlines() if line.startswith("[")]
    assert steps == ["[1/2] 评估 2020Q3 各单位", f"[2/2] 写入通报、附件和数据文件：{tmp_path / 'out'}"]
    assert (tmp_path / "out" / "report-2020Q3.json").exists()
