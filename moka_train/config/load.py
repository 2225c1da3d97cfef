"""YAML → RunConfig: base-file composition, ${VAR} interpolation, dotted overrides, clear errors.

Order of precedence, lowest first: base files (in the order listed), the file itself, then the
command-line overrides. Every leaf remembers where it came from so an error can name the file.

Loading is bounded: YAML aliases are counted as expanded (a "billion laughs" file is refused
before anything copies it), and so is the text ``${VAR}`` interpolation produces
(``MAX_CONFIG_VALUES``, ``MAX_CONFIG_CHARS``; :class:`ConfigError` naming the file).
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from .schema import RunConfig

COMMAND_LINE = "<command line>"
MAX_CONFIG_VALUES = 100_000  # mappings, lists and scalars of a config once its aliases are expanded
MAX_CONFIG_CHARS = 10_000_000  # characters of all its strings, as expanded and interpolated
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ConfigError(ValueError):
    """A configuration problem, worded for the user who wrote the YAML."""


def load_config(path: str | os.PathLike, overrides: list[str] | tuple[str, ...] = ()) -> RunConfig:
    """Load, compose, override, interpolate and validate one run configuration."""
    data, origin = _load_composed(Path(path), seen=())
    for item in overrides:
        key, value = _parse_override(item)
        _set_dotted(data, key, value)
        origin[key] = COMMAND_LINE
    check_expansion(data, str(path))
    data = _interpolate(data, key="", budget=[MAX_CONFIG_CHARS])
    return validate(data, origin, default_origin=str(path))


def validate(data: dict, origin: dict[str, str] | None = None, default_origin: str = "<dict>") -> RunConfig:
    """Validate a plain dict into a RunConfig, translating pydantic's errors into ours."""
    try:
        return RunConfig.model_validate(data)
    except ValidationError as err:
        messages = [_explain(e, data, origin or {}, default_origin) for e in err.errors()]
        raise ConfigError("invalid config:\n  " + "\n  ".join(messages)) from None


def dump_config(cfg: RunConfig) -> str:
    """The fully resolved config as YAML; loading it back gives an equal RunConfig."""
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)


# --- composition -------------------------------------------------------------------------------


def _load_composed(path: Path, seen: tuple[Path, ...]) -> tuple[dict, dict[str, str]]:
    path = path.resolve()
    if path in seen:
        raise ConfigError(f"config base cycle: {' -> '.join(map(str, seen + (path,)))}")
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    own = _read_yaml(path)
    check_expansion(own, str(path))
    if not isinstance(own, dict):
        raise ConfigError(f"{path}: top level must be a mapping, got {type(own).__name__}")
    bases = own.pop("base", None) or []
    merged: dict = {}
    origin: dict[str, str] = {}
    for base in [bases] if isinstance(bases, str) else bases:
        base_data, base_origin = _load_composed(path.parent / base, seen + (path,))
        deep_merge(merged, base_data)
        origin.update(base_origin)
    deep_merge(merged, own)
    origin.update({k: str(path) for k in _leaf_keys(own)})
    return merged, origin


def _read_yaml(path: Path) -> Any:
    """yaml.safe_load of a file; a syntax error names the file, line and column."""
    try:
        with path.open() as fh:
            return yaml.safe_load(fh) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}{_yaml_position(err)}: YAML syntax error: {_yaml_problem(err)}") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to be a config") from None


def check_expansion(data: Any, source: str) -> None:
    """Refuse a config that is too large once its aliases are expanded, counting each shared node
    once per reference without expanding it (a YAML alias bomb is caught in microseconds)."""
    sizes: dict[int, tuple[int, int]] = {}  # id -> (values, characters) of a container, as expanded
    if _expanded(data, sizes, set(), source)[0] > MAX_CONFIG_VALUES:
        raise ConfigError(
            f"{source}: expands to more than {MAX_CONFIG_VALUES} values (YAML aliases repeated?); refusing to load it"
        )


def _expanded(node: Any, sizes: dict, open_nodes: set, source: str) -> tuple[int, int]:
    if isinstance(node, str):
        return 1, len(node)
    if not isinstance(node, (dict, list)):
        return 1, 0
    if id(node) in sizes:
        return sizes[id(node)]
    if id(node) in open_nodes:
        raise ConfigError(f"{source}: a YAML alias refers to a node that contains it; a config cannot be recursive")
    open_nodes.add(id(node))
    values, chars = 1, 0
    for child in node.values() if isinstance(node, dict) else node:
        child_values, child_chars = _expanded(child, sizes, open_nodes, source)
        values, chars = values + child_values, chars + child_chars
        if values > MAX_CONFIG_VALUES or chars > MAX_CONFIG_CHARS:
            raise ConfigError(
                f"{source}: expands to more than {MAX_CONFIG_VALUES} values or {MAX_CONFIG_CHARS} characters "
                "(YAML aliases repeated?); refusing to load it"
            )
    open_nodes.discard(id(node))
    sizes[id(node)] = (values, chars)
    return values, chars


def _yaml_position(err: yaml.YAMLError) -> str:
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    return f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""


def _yaml_problem(err: yaml.YAMLError) -> str:
    parts = [getattr(err, "context", None), getattr(err, "problem", None)]
    return ", ".join(p for p in parts if p) or str(err).splitlines()[0]


def deep_merge(into: dict, other: dict) -> None:
    """Merge ``other`` into ``into`` in place: nested mappings merge, anything else replaces."""
    for key, value in other.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            deep_merge(into[key], value)
        else:
            into[key] = value


def _leaf_keys(data: Any, prefix: str = "") -> list[str]:
    if not isinstance(data, dict):
        return [prefix]
    keys = []
    for key, value in data.items():
        keys += _leaf_keys(value, f"{prefix}.{key}" if prefix else str(key))
    return keys


# --- overrides ----------------------------------------------------------------------------------


def _parse_override(item: str) -> tuple[str, Any]:
    if "=" not in item:
        raise ConfigError(f"override {item!r} must look like key.sub=value")
    key, raw = item.split("=", 1)
    key = re.sub(r"\[(\d+)\]", r".\1", key.strip())  # stages[0].name -> stages.0.name
    try:
        return key, yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as err:
        raise ConfigError(
            f"override {item!r}: the value is not valid YAML{_yaml_position(err)} ({_yaml_problem(err)})"
        ) from None


def _set_dotted(data: dict, key: str, value: Any) -> None:
    parts = key.split(".")
    node: Any = data
    for depth, part in enumerate(parts[:-1]):
        node = _child(node, part, ".".join(parts[: depth + 1]), create=True)
    last = parts[-1]
    if isinstance(node, list):
        node[_index(node, last, key)] = value
    else:
        node[last] = value


def _child(node: Any, part: str, where: str, create: bool) -> Any:
    if isinstance(node, list):
        return node[_index(node, part, where)]
    if not isinstance(node, dict):
        raise ConfigError(f"override: {where!r} is a {type(node).__name__}, not a mapping")
    if part not in node and create:
        node[part] = {}
    return node[part]


def _index(node: list, part: str, where: str) -> int:
    if not part.isdigit() or int(part) >= len(node):
        raise ConfigError(f"override: {where!r} needs an index below {len(node)}, got {part!r}")
    return int(part)


# --- ${VAR} interpolation -----------------------------------------------------------------------


def _interpolate(value: Any, key: str, budget: list[int]) -> Any:
    """``value`` with every ``${VAR}`` replaced; ``budget`` (one count, shared) is the characters
    the produced strings may still hold."""
    if isinstance(value, dict):
        return {k: _interpolate(v, f"{key}.{k}" if key else str(k), budget) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, f"{key}.{i}", budget) for i, v in enumerate(value)]
    if isinstance(value, str):
        text = _VAR.sub(lambda m: _lookup_var(m, key), value)
        budget[0] -= len(text)
        if budget[0] < 0:
            raise ConfigError(f"{key}: the config's strings exceed {MAX_CONFIG_CHARS} characters once interpolated")
        return text
    return value


def _lookup_var(match: re.Match, key: str) -> str:
    name, default = match.group(1), match.group(2)
    value = os.environ.get(name)
    if value:
        return value
    if default is not None:  # as in the shell, ${VAR:-default} also covers a set but empty VAR
        return default
    if value is not None:  # `${DEMO_ROOT}/run` with DEMO_ROOT="" would silently become /run
        raise ConfigError(f"{key}: environment variable ${{{name}}} is set but empty (export {name}=...)")
    raise ConfigError(f"{key}: environment variable ${{{name}}} is not set (export {name}=...)")


# --- error messages -----------------------------------------------------------------------------


def _explain(error: dict, data: dict, origin: dict[str, str], default_origin: str) -> str:
    loc = [str(p) for p in error["loc"]]
    dotted = ".".join(loc)
    source = _origin_of(loc, origin) or default_origin
    if error["type"] == "extra_forbidden":
        allowed = _fields_at(RunConfig, error["loc"][:-1], data)
        close = difflib.get_close_matches(loc[-1], allowed, n=1)
        hint = f"did you mean {'.'.join(loc[:-1] + close)!r}?" if close else f"allowed: {', '.join(allowed)}"
        return f"unknown key {dotted!r} (in {source}); {hint}"
    if error["type"] == "missing":
        return f"missing required key {dotted!r}"
    expected = error["msg"]
    ctx = error.get("ctx", {})
    if "expected" in ctx:
        expected = f"expected one of {ctx['expected']}"
    return f"{dotted} (in {source}): {expected}; given {error.get('input')!r}"


def _origin_of(loc: list[str], origin: dict[str, str]) -> str | None:
    """Where the value at ``loc`` was set: the longest key path with a recorded origin (pydantic's
    location may run deeper than the key that was set, e.g. into a union member or a dict value)."""
    for end in range(len(loc), 0, -1):
        if ".".join(loc[:end]) in origin:
            return origin[".".join(loc[:end])]
    return None


def _fields_at(model: type[BaseModel], loc: tuple, data: Any) -> list[str]:
    """Field names of the section at ``loc`` (the parent of a bad key)."""
    node: Any = model
    for part in loc:
        if isinstance(part, int):
            continue  # list item: same section type
        field = node.model_fields.get(part) if isinstance(node, type) and issubclass(node, BaseModel) else None
        if field is None:
            return []
        node = _section_type(field.annotation)
    if isinstance(node, type) and issubclass(node, BaseModel):
        return list(node.model_fields)
    return []


def _section_type(annotation: Any) -> Any:
    """The BaseModel inside Optional[...], tuple[X, ...] or list[X]."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _section_type(arg)
        if found is not None:
            return found
    return None
