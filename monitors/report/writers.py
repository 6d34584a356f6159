"""Report writers keyed by the format name users write (`docx`, `xlsx`, `json`).

One explicit table filled by `@register` (STYLE.md §2): adding a format is one module plus one registration
line here; a duplicate or empty name fails at import. Each entry takes the report model and the output
directory and returns the file it wrote; the file names live here so every caller gets the same ones.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from config.registry import registrar
from monitors.report import docx_writer, json_writer, xlsx_writer
from monitors.report.model import QuarterReport

Writer = Callable[[QuarterReport, Path], Path]
WRITERS: dict[str, Writer] = {}


register = registrar(WRITERS, "report format")


@register("docx")
def write_notice(report: QuarterReport, out_dir: Path) -> Path:
    """通报正文（.docx，GB/T 9704-2012 公文格式）：通报-2020Q3.docx"""
    return docx_writer.write_docx(report, Path(out_dir) / f"通报-{report.quarter}.docx")


@register("xlsx")
def write_attachments(report: QuarterReport, out_dir: Path) -> Path:
    """通报附件（.xlsx：镇街、区直部门发布情况，栏目更新情况）：附件-2020Q3.xlsx"""
    return xlsx_writer.write_xlsx(report, Path(out_dir) / f"附件-{report.quarter}.xlsx")


@register("json")
def write_report_json(report: QuarterReport, out_dir: Path) -> Path:
    """通报数据（JSON，供其他工具读取）：report-2020Q3.json"""
    return json_writer.write_json(report, Path(out_dir) / f"report-{report.quarter}.json")


def write_report(report: QuarterReport, out_dir: Path,
                 formats: Iterable[str] = ("docx", "xlsx", "json")) -> list[Path]:
    """Write the report in each format to `out_dir` (created if missing); return the files in order.

    An unknown format is refused before anything is written, naming the known ones.
    """
    formats = list(formats)
    unknown = [f for f in formats if f not in WRITERS]
    if unknown:
        raise ValueError(f"未知的报告格式：{', '.join(map(str, unknown))}；可用：{', '.join(WRITERS)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return [WRITERS[f](report, out_dir) for f in dict.fromkeys(formats)]
