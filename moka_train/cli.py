"""`moka-train` command line: train | evaluate | infer | serve | validate | show-sample | import-official.

The ``scripts/*.py`` files call :func:`main` with their subcommand, so
``deepspeed scripts/train.py --config X.yaml key=value`` and ``moka-train train --config X.yaml``
run the same code. Heavy modules are imported inside the subcommands to keep ``--help`` fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

import yaml

from .config import ConfigError, dump_config, load_config


def _add_config_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="YAML recipe")
    parser.add_argument("overrides", nargs="*", help="dotted overrides, e.g. train.max_steps=10")
    # injected by the deepspeed launcher; the rank itself is read from the environment
    parser.add_argument("--local_rank", "--local-rank", type=int, default=None, help=argparse.SUPPRESS)


TEMPERATURE_MEANING = {
    "official": "sqrt(r) on the scaled rank vectors, as the official code ran",
    "paper": "sqrt(r) on the unscaled rank vectors, the paper's formula",
    "num_query": "sqrt(query tokens), the first release",
}


def cmd_validate(args: argparse.Namespace) -> int:
    """The resolved config as YAML, then (as YAML comments, so it still loads) the token budget
    per sample and the trainable parameters per role."""
    cfg = load_config(args.config, args.overrides)
    from .adapters import available_methods

    if cfg.adapter.method not in available_methods():  # refused here, not after hours of setup
        raise ConfigError(
            f"adapter.method: unknown {cfg.adapter.method!r}; choose one of {', '.join(available_methods())}"
        )
    sys.stdout.write(dump_config(cfg))
    from .model.summary import describe

    summary = yaml.safe_dump(describe(cfg), sort_keys=False)
    sys.stdout.write("\n# --- budget ---\n" + "".join(f"# {line}\n" for line in summary.splitlines()))
    sys.stdout.write(
        "# --- media sampling and adapter temperature ---\n"
        + "".join(f"# {m.name}: {m.sampling_plan().describe()}\n" for m in cfg.model.modalities)
        + f"# adapter.temperature: {cfg.adapter.temperature} "
        f"({TEMPERATURE_MEANING[cfg.adapter.temperature]})\n"
    )
    from .train.data import packing_summary

    packing = yaml.safe_dump({"packing": packing_summary(cfg)}, sort_keys=False)
    sys.stdout.write(
        "# --- packing efficiency (non-pad share of the fine-tuning micro-batches) ---\n"
        + "".join(f"# {line}\n" for line in packing.splitlines())
    )
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    if args.dry_run:
        return cmd_validate(args)
    from .train.run import run

    run(load_config(args.config, args.overrides))
    return 0


def cmd_show_sample(args: argparse.Namespace) -> int:
    from .data.show import show_sample

    show_sample(load_config(args.config, args.overrides), args.index, split=args.split)
    return 0


def cmd_infer(args: argparse.Namespace) -> int:
    from .eval.generate import infer_main

    return infer_main(args)


def evaluate_help() -> str:
    """``evaluate --help``: the three subcommands, each with its own arguments."""
    from .eval.cli import build_parser as score_report_parser
    from .eval.run_cli import build_parser as run_parser

    subcommands = {"run": run_parser()}
    subcommands.update(
        next(a for a in score_report_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    )
    parts = ["usage: moka-train evaluate {run,score,report} ...\n"]
    for name, sub in subcommands.items():
        sub.prog = f"moka-train evaluate {name}"
        parts.append(f"\n=== evaluate {name} ===\n{sub.format_help()}")
    return "".join(parts)


def cmd_evaluate(args: argparse.Namespace) -> int:
    if args.rest[:1] in ([], ["-h"], ["--help"]):
        sys.stdout.write(evaluate_help())
        return 0 if args.rest else 2
    if args.rest[:1] == ["run"]:
        from .eval.run_cli import run_main

        return run_main(args.rest[1:])
    from .eval.cli import evaluate_main

    return evaluate_main(args.rest)


def cmd_import_official(args: argparse.Namespace) -> int:
    """Convert a released official MokA checkpoint into an export of this recipe, loaded back strictly."""
    from pathlib import Path

    from .data.tokenizer import load_tokenizer
    from .model.build import build_model
    from .model.official_import import OfficialImportError, check_recipe, convert_release, describe_import, write_import

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


def cmd_serve(args: argparse.Namespace) -> int:
    from .serve.app import serve_main

    return serve_main(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="moka-train", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", help="print the fully resolved config as YAML")
    _add_config_args(p)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("train", help="run the stages of a recipe")
    _add_config_args(p)
    p.add_argument("--dry-run", action="store_true", help="validate and print the config, then exit")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("show-sample", help="print one rendered sample coloured by label and modality")
    _add_config_args(p)
    p.add_argument("--index", type=int, default=0)
    p.add_argument("--split", choices=["train", "eval"], default="train")
    p.set_defaults(func=cmd_show_sample)

    p = sub.add_parser("infer", help="generate answers with a trained export")
    _add_config_args(p)
    p.add_argument("--export", "--checkpoint", dest="export", help="export directory written by training")
    p.add_argument("--input", help="JSONL of samples to answer")
    p.add_argument("--output", help="predictions JSONL")
    p.add_argument("--question", help="answer one question about the media given below, and print it")
    for kind in ("image", "video", "audio", "speech"):
        p.add_argument(f"--{kind}", help=f"{kind} file for --question")
    p.set_defaults(func=cmd_infer)

    p = sub.add_parser("evaluate", help="evaluate run | score | report (evaluate --help lists their arguments)")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("serve", help="OpenAI-compatible /v1/chat/completions server of a trained export")
    _add_config_args(p)
    from .serve.cli_args import add_serve_args  # argparse only: torch and fastapi are imported when serving

    add_serve_args(p)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("import-official", help="convert a released official MokA checkpoint into an export")
    _add_config_args(p)
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
    return parser


def main(argv: list[str] | None = None, command: str | None = None) -> int:
    """Entry point; ``command`` lets ``scripts/train.py`` fix the subcommand."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if command is not None:
        argv = [command] + argv
    if argv[:1] == ["evaluate"]:  # its subcommands parse their own arguments (and --help, see evaluate_help)
        args = argparse.Namespace(command="evaluate", rest=argv[1:], func=cmd_evaluate)
    else:
        args = build_parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except ConfigError as err:
        sys.stderr.write(f"config error: {err}\n")
        return 2
    except Exception as err:
        if not _is_checkpoint_file_error(err):
            raise
        sys.stderr.write(f"checkpoint error: {err}\n")  # a broken or foreign checkpoint, named by file
        return 2


def _is_checkpoint_file_error(err: Exception) -> bool:
    """isinstance(err, CheckpointFileError) without importing torch for every command: the class
    can only have been raised where its module is loaded."""
    module = sys.modules.get("moka_train.train.checkpoint_files")
    return module is not None and isinstance(err, module.CheckpointFileError)


if __name__ == "__main__":
    raise SystemExit(main())
