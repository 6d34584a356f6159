"""Appending blocks to `settings.toml`: the one writer behind every `--write` (accounts import, columns import,
discover). The file stays the user's: text is appended (comments kept), the result must parse, and the original
is kept as `<name>.bak`.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from config import SettingsError, parse_settings


def append_settings(path: str | Path, addition: str, edit: Callable[[str], str] | None = None) -> Path:
    """Append TOML text to the settings file after checking the result parses, keeping a .bak of the original;
    `edit` first changes the text in place (accounts import --update; ValueError: a Chinese reason, nothing written).

    Raises SettingsError (Chinese, one line) when the result would not load or the file cannot be written;
    nothing is written then. Returns the backup's path.
    """
    path = Path(path)
    original = path.read_text(encoding="utf-8")
    try:
        edited = edit(original) if edit is not None else original
    except ValueError as exc:
        raise SettingsError(f"未写入：{exc}") from None
    combined = edited + (("" if edited.endswith("\n") or not edited else "\n") + "\n" + addition if addition else "")
    try:
        parse_settings(combined, str(path))
    except SettingsError as exc:
        raise SettingsError(f"追加后的设置无法使用，未写入：{exc}") from None
    backup = path.with_name(path.name + ".bak")
    try:
        backup.write_text(original, encoding="utf-8")
        path.write_text(combined, encoding="utf-8")
    except OSError as exc:
        raise SettingsError(f"无法写入 {path}：{exc.strerror or exc}") from None
    return backup
