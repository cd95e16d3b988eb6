"""A config file that is damaged or made to hurt: one clear error, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import ConfigError, load_config


def test_a_config_that_is_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "buzzwatch.yaml"
    path.write_bytes(b'brands: [{name: "\xff", keywords: [x]}]\n')  # Latin-1, UTF-16 saves
    with pytest.raises(ConfigError, match="not UTF-8 text") as err:
        load_config(path)  # raised UnicodeDecodeError
    assert str(path) in str(err.value)


def test_a_config_nested_thousands_deep_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "buzzwatch.yaml"
    path.write_text("brands: " + "[" * 20_000 + "]" * 20_000 + "\n")
    with pytest.raises(ConfigError, match="nested too deeply"):
        load_config(path)  # raised RecursionError from the YAML parser
