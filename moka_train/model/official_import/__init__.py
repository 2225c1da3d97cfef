"""Import the released official MokA checkpoints into our export format (``moka-train import-official``)."""

from __future__ import annotations

from pathlib import Path

from ...config.schema import ModelConfig
from .convert import AdapterSettings, Converted, convert_avt, convert_projector_files, convert_vt
from .keymap import OfficialImportError
from .sources import KINDS, detect_kind, read_release
from .writer import check_against_model, check_recipe, describe_import, write_import

__all__ = [
    "AdapterSettings",
    "Converted",
    "KINDS",
    "OfficialImportError",
    "check_against_model",
    "check_recipe",
    "convert_release",
    "describe_import",
    "write_import",
]


def convert_release(sources: list[str | Path], model_cfg: ModelConfig, kind: str = "auto") -> Converted:
    """Read an official release (kind detected from its layout unless given) and map its keys."""
    paths = [Path(s) for s in sources]
    kind = detect_kind(paths) if kind == "auto" else kind
    if kind not in KINDS:
        raise OfficialImportError(f"unknown official release kind {kind!r}; choose auto or one of {', '.join(KINDS)}")
    files = read_release(kind, paths)
    if kind == "projector":
        return convert_projector_files(files, model_cfg)
    if kind == "avt":
        return convert_avt(files, model_cfg, paths[0])
    return convert_vt(files, model_cfg)
