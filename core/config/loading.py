"""Finding, reading and validating the config file, with errors worded for its author."""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Annotated, Any, get_args, get_origin

import yaml
from pydantic import ValidationError

from core.config.base import BUNDLED_CONFIG, REPO_ROOT, ConfigError
from core.config.routing import DestinationConfig
from core.config.schema import Config
from core.config.sources import SOURCE_SECTIONS, SourceSection, source_section_union


def find_config_path(cli_path: str | os.PathLike[str] | None = None) -> Path:
    """--config, then $BUZZWATCH_CONFIG, then ./buzzwatch.yaml, then the bundled example."""
    if cli_path:
        return Path(cli_path)
    env = os.environ.get("BUZZWATCH_CONFIG")
    if env:
        return Path(env)
    local = Path("buzzwatch.yaml")
    if local.exists():
        return local
    return BUNDLED_CONFIG


def _union_tags(annotated: Any) -> set[str]:
    union = get_args(annotated)[0]
    members = get_args(union) or (union,)
    return {get_args(m.model_fields["type"].annotation)[0] for m in members}


def _tags() -> set[str]:
    """The source and destination types: pydantic puts the discriminator's value into an
    error's location, and people never typed it."""
    return set(SOURCE_SECTIONS) | _union_tags(DestinationConfig)


def _key_path(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    tags = _tags()
    for i, item in enumerate(loc):
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif item in tags and i >= 2 and loc[i - 2] in ("sources", "destinations"):
            continue
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "(top level)"


def _did_you_mean(loc: tuple[Any, ...]) -> str:
    """', did you mean 'x'?' for a misspelt key, from the keys its model knows."""
    model: Any = Config
    for item in loc[:-1]:
        model = _inside(model, item)
        if model is None:
            return ""
    fields = getattr(model, "model_fields", {})
    known = list(fields) + [f.alias for f in fields.values() if f.alias]
    close = difflib.get_close_matches(str(loc[-1]), known, n=1)
    return f", did you mean {close[0]!r}?" if close else ""


def _inside(kind: Any, item: Any) -> Any:
    """What sits at `item` (a key, a list index, a mapping key, a source or destination type
    as pydantic puts it in the location) inside a value of type `kind`; None if unknown."""
    origin, args = get_origin(kind), get_args(kind)
    if origin is Annotated:
        return _inside(args[0], item)
    if kind is SourceSection and SOURCE_SECTIONS:  # the sections the kinds registered
        return _inside(source_section_union(), item)
    fields = getattr(kind, "model_fields", None)
    if fields is not None:
        return fields[item].annotation if isinstance(item, str) and item in fields else None
    if origin in (list, tuple, set, frozenset):
        return args[0] if isinstance(item, int) and args else None
    if origin is dict:
        return args[1] if len(args) == 2 else None
    for member in args:  # a union: the tagged member, else the first that has the item
        tag = getattr(member, "model_fields", {}).get("type")
        if tag is not None and item in get_args(tag.annotation):
            return member
    found = (_inside(member, item) for member in args)
    return next((m for m in found if m is not None), None)


def _time_of_day(e: Any) -> str | None:
    """What to do about a time of day (digest.time, quiet_hours.start/end) that is no "HH:MM"
    string. Unquoted, YAML reads 22:00 as the number 1320 (base 60), which was answered
    "Input should be a valid string"; "10pm" got the pattern's regular expression."""
    loc = e.get("loc") or ()
    if not loc or loc[-1] not in ("time", "start", "end"):
        return None
    value = e.get("input")
    if e["type"] == "string_type" and isinstance(value, int) and not isinstance(value, bool):
        hours, minutes = divmod(value, 60)
        if value >= 60:
            return (
                f"YAML read {hours}:{minutes:02d} as the number {value}: put the time in "
                f'quotes, "{hours:02d}:{minutes:02d}"'
            )
        return f'use a 24-hour local time in quotes, like "09:00", not {value}'
    if e["type"] == "string_pattern_mismatch":
        return f'use a 24-hour local time like "22:00", not {str(value)[:20]!r}'
    return None


def _unknown_type(e: Any) -> str | None:
    """`type: RSS` was "Input tag 'RSS' found using 'type' does not match any of the expected
    tags: ..."; say it as the rest of the config's errors are said, with the likely one."""
    ctx = e.get("ctx") or {}
    if e["type"] != "union_tag_invalid" or "tag" not in ctx:
        return None
    tag = str(ctx["tag"])
    known = [t.strip().strip("'") for t in str(ctx.get("expected_tags", "")).split(",")]
    near = [t for t in known if t.casefold() == tag.casefold()] or difflib.get_close_matches(
        tag.lower(), known, n=1
    )
    hint = f"; did you mean {near[0]!r}?" if near else ""
    return f"type {tag[:40]!r} is not one of {', '.join(known)}{hint}"


def format_validation_error(path: Path, err: ValidationError) -> str:
    lines = [f"{path}: invalid configuration"]
    for e in err.errors():
        msg = _time_of_day(e) or _unknown_type(e) or e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = f"unknown key{_did_you_mean(e['loc'])}"
        lines.append(f"  {_key_path(tuple(e['loc']))}: {msg}")
    return "\n".join(lines)


def parse_config(data: Any, path: Path) -> Config:
    if data is None:
        raise ConfigError(f"{path}: the file is empty; start from a copy of examples/config.yaml")
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: the top level must be a mapping of keys, got {type(data).__name__}"
        )
    try:
        return Config.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_validation_error(path, err)) from None


def load_config(cli_path: str | os.PathLike[str] | None = None) -> tuple[Config, Path]:
    path = find_config_path(cli_path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except OSError as err:
        raise ConfigError(f"{path}: cannot read config: {err.strerror}") from None
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {err.start + 1} is not): save it as UTF-8"
        ) from None
    try:
        data = yaml.safe_load(text)
    except RecursionError:  # thousands of nested [ or {: no config is written so
        raise ConfigError(f"{path}: not valid YAML: nested too deeply") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ConfigError(
            f"{path}: not valid YAML{where}: {getattr(err, 'problem', err)}"
        ) from None
    config = parse_config(data, path)
    if path.resolve().parent == BUNDLED_CONFIG.resolve().parent:
        config = _bundled_paths(config)
    return config, path


def _bundled_paths(config: Config) -> Config:
    """The bundled examples' sample feeds ship with the code: find them from any folder."""
    sources = [
        s.model_copy(update={"path": REPO_ROOT / path})
        if isinstance(path := getattr(s, "path", None), Path) and not path.is_absolute()
        else s
        for s in config.sources
    ]
    return config.model_copy(update={"sources": sources})
