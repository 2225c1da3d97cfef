"""The config reference, generated from the schema: every key, its type and its default."""

from __future__ import annotations

import inspect
import typing

from pydantic import BaseModel

from .load import _section_type
from .schema import RunConfig


def _type_name(annotation) -> str:
    text = getattr(annotation, "__name__", None) if isinstance(annotation, type) else None
    text = text or str(annotation).replace("typing.", "")
    return text.replace("moka_train.config.sections.", "").replace("|", "or")


def _rows(model: type[BaseModel], prefix: str) -> list[tuple[str, str, str, str]]:
    rows = []
    comments = _field_comments(model)
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        nested = _section_type(field.annotation)
        default = "required" if field.is_required() else repr(field.get_default(call_default_factory=True))
        if nested is not None:
            origin = typing.get_origin(field.annotation)
            is_list, is_map = origin in (tuple, list), origin is dict
            kind = "list of sections" if is_list else "map of sections" if is_map else "section"
            rows.append((key, kind, "", comments.get(name, "")))
            rows += _rows(nested, f"{key}[i]." if is_list else f"{key}.<name>." if is_map else f"{key}.")
        else:
            rows.append((key, _type_name(field.annotation), default, comments.get(name, "")))
    return rows


def _field_comments(model: type[BaseModel]) -> dict[str, str]:
    """The trailing `# ...` comment of each field line in the section's source."""
    comments = {}
    for line in inspect.getsource(model).splitlines():
        head, _, comment = line.partition("  # ")
        name = head.strip().split(":")[0]
        if comment and name.isidentifier():
            comments[name] = comment.strip()
    return comments


def config_reference() -> str:
    lines = [
        "# Config reference",
        "",
        "Generated from `moka_train/config/schema.py` by "
        "`python scripts/config_reference.py`; a test keeps it in sync.",
        "",
        "| key | type | default | meaning |",
        "|---|---|---|---|",
    ]
    for key, kind, default, comment in _rows(RunConfig, ""):
        lines.append(f"| `{key}` | {kind} | {default.replace('|', '/')} | {comment.replace('|', '/')} |")
    return "\n".join(lines) + "\n"
