"""Settings: `settings.toml` parsed once into frozen typed objects (DESIGN.md's keys)."""
from config.loader import SettingsError, default_settings_path, load_settings, parse_settings
from config.model import Settings

__all__ = ["Settings", "SettingsError", "default_settings_path", "load_settings", "parse_settings"]
