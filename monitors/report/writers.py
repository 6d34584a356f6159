"""Report writers keyed by the format name users write (`docx`, `xlsx`, `form`, `json`).

One explicit table filled by `@register` (STYLE.md §2): adding a format is one module plus one registration
line here; a duplicate or empty name fails at import. Each entry takes the report model and the output
directory and returns the file it wrote; the file names live here so every caller gets the same ones.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from config.registry import registrar
from monitors.report import docx_writer, json_writer, xlsx_writer
from monitors.report.model import QuarterReport

Writer = Callable[[QuarterReport, Path], Path | None]  # None: nothing to write for this report
WRITERS: dict[str, Writer] = {}
# What we wrote into a directory: file name -> SHA-256, to tell a file the office has since edited.
HASHES = ".monitor-hashes.json"


register = registrar(WRITERS, "report format")


@register("docx")
def write_notice(report: QuarterReport, out_dir: Path) -> Path:
    """通报正文（.docx，GB/T 9704-2012 公文格式）：通报-2020Q3.docx"""
    return docx_writer.write_docx(report, Path(out_dir) / f"通报-{report.quarter}.docx")


@register("xlsx")
def write_attachments(report: QuarterReport, out_dir: Path) -> Path:
    """通报附件（.xlsx：镇街、区直部门发布情况，栏目更新情况）：附件-2020Q3.xlsx"""
    return xlsx_writer.write_xlsx(report, Path(out_dir) / f"附件-{report.quarter}.xlsx")


@register("form")
def write_form(report: QuarterReport, out_dir: Path) -> Path | None:
    """通报附件中各单位填写报送的登记表（空白的福州市政务新媒体详细汇总表，与 monitor accounts export 同一格式）：
    附件4-2020Q3.xlsx；未监测政务新媒体时不写。"""
    form = next((a for a in xlsx_writer.attachments(report) if a.kind == "form"), None)
    if form is None:
        return None
    from monitors.register import write_register

    return write_register(Path(out_dir) / f"附件{form.number}-{report.quarter}.xlsx", [])


@register("json")
def write_report_json(report: QuarterReport, out_dir: Path) -> Path:
    """通报数据（JSON，供其他工具读取）：report-2020Q3.json"""
    return json_writer.write_json(report, Path(out_dir) / f"report-{report.quarter}.json")


class Written(list[Path]):
    """The files written, in order. `kept` pairs each file changed since we wrote it (left as it is) with
    the name written beside it instead; `warnings` are the report's (QuarterReport.warnings)."""

    def __init__(self, paths: Iterable[Path] = (), kept: Iterable[tuple[Path, Path]] = (),
                 warnings: Iterable[str] = ()) -> None:
        super().__init__(paths)
        self.kept = list(kept)
        self.warnings = list(warnings)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _free_name(path: Path, hashes: dict[str, str]) -> Path:
    """`path`, or 通报-2020Q3（2）.docx, （3）… : the first name that is free or holds what we last wrote there."""
    candidate, n = path, 1
    while candidate.exists() and hashes.get(candidate.name) != _digest(candidate):
        n += 1
        candidate = path.with_name(f"{path.stem}（{n}）{path.suffix}")
    return candidate


def write_report(report: QuarterReport, out_dir: Path,
                 formats: Iterable[str] = ("docx", "xlsx", "form", "json"), *, force: bool = False) -> Written:
    """Write the report in each format to `out_dir` (created if missing); return the files in order.

    A file already there that is not what we last wrote (the office edited it, or it came from elsewhere)
    is never overwritten: the new one goes beside it as 通报-2020Q3（2）.docx, unless `force`. Each file
    is written whole first and then moved into place. An unknown format is refused before anything is
    written, naming the known ones.
    """
    formats = list(formats)
    unknown = [f for f in formats if f not in WRITERS]
    if unknown:
        raise ValueError(f"未知的报告格式：{', '.join(map(str, unknown))}；可用：{', '.join(WRITERS)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ledger = out_dir / HASHES
    try:
        hashes: dict[str, str] = json.loads(ledger.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        hashes = {}
    written = Written(warnings=report.warnings())
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".monitor-") as scratch:
        for name in dict.fromkeys(formats):
            made = WRITERS[name](report, Path(scratch))
            if made is None:
                continue
            wanted = out_dir / made.name
            target = wanted if force else _free_name(wanted, hashes)
            if target != wanted:
                written.kept.append((wanted, target))
            os.replace(made, target)
            hashes[target.name] = _digest(target)
            written.append(target)
    tmp = ledger.with_name(ledger.name + ".tmp")
    tmp.write_text(json.dumps(hashes, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, ledger)
    return written
