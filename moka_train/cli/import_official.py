"""`moka-train import-official`: a released official MokA checkpoint as an export of this recipe."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..config import dump_config, load_config
from .common import add_config_args


def cmd_import_official(args: argparse.Namespace) -> int:
    """Convert a released official MokA checkpoint into an export of this recipe, loaded back strictly."""
    from ..data.tokenizer import load_tokenizer
    from ..model.build import build_model
    from ..model.official_import import (
        OfficialImportError,
        check_recipe,
        convert_release,
        describe_import,
        write_import,
    )

    cfg = load_config(args.config, args.overrides)
    try:
        converted = convert_release(args.source, cfg.model, args.kind)
        check_recipe(cfg.adapter, converted.settings, args.config)
        model = build_model(cfg.model, load_tokenizer(cfg.model), cfg.adapter if converted.settings else None)
        out = Path(args.output or Path(cfg.output_dir) / "export" / args.stage)
        write_import(model, converted, out, dump_config(cfg), args.stage, [str(s) for s in args.source])
    except OfficialImportError as err:
        sys.stderr.write(f"import-official: {err}\n")
        return 2
    sys.stdout.write("\n".join(describe_import(converted, out)) + "\n")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import-official", help="convert a released official MokA checkpoint into an export")
    add_config_args(p)
    p.add_argument(
        "--source",
        nargs="+",
        required=True,
        help="stage-1 .bin file(s), or an AVQA/AVE checkpoint directory, or the visual-text directory",
    )
    p.add_argument("--kind", default="auto", help="auto | projector | avt | vt")
    p.add_argument("--stage", default="official", help="export name under <output_dir>/export/ (default official)")
    p.add_argument("--output", help="export directory (default <output_dir>/export/<stage>)")
    p.set_defaults(func=cmd_import_official)
