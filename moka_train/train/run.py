"""run(cfg): the whole training flow, top to bottom.

init distributed → claim the output dir → resume point (verified, same identity) → tokenizer →
per stage: model → trainable set → init weights → data → engine → resume → loop → export.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..config import ConfigError, RunConfig, dump_config
from ..config.batch import with_world_size
from ..config.schema import StageConfig
from ..data.tokenizer import load_tokenizer
from ..model.export import export_weights, gathered
from ..utils.dist import barrier, init_distributed, is_main, shared_output, world_size, writes_outputs
from ..utils.logging import get_logger
from ..utils.seeding import seed_everything
from .checkpoint import CheckpointManager, read_state
from .checkpoint_files import CheckpointFileError
from .data import build_eval_data, build_stage_data
from .engine import build_engine
from .heldout import make_evaluator
from .identity import check_identity, run_identity
from .loop import LoopHooks, LoopSettings, LoopState, steps_for, train_stage
from .metrics import MetricsLogger
from .preflight import preflight
from .run_dir import claim_output_dir
from .stages import (
    load_init,
    set_trainable,
    stage_model_config,
    stage_train_config,
    uses_adapters,
)

log = get_logger(__name__)


def run(cfg: RunConfig) -> Path:
    preflight(cfg)  # paths, stage order, data and modalities: refused before anything is built
    init_distributed()
    cfg = with_world_size(cfg, world_size())  # train.global_batch_size -> this world's grad_accum
    out = Path(cfg.output_dir)
    shared = shared_output(out)  # node-local disks: every node writes its own checkpoints and exports
    log.info("output_dir %s: %s", out, "one filesystem for all ranks" if shared else "node-local on every node")
    checkpoints = CheckpointManager(out / "checkpoints", cfg.train.keep_last, shared)
    claim_output_dir(cfg, checkpoints)
    resume = _resume_point(cfg, checkpoints)
    if is_main():
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.yaml").write_text(dump_config(cfg))
    tokenizer = load_tokenizer(cfg.model, cfg.data.prompt_style)
    for stage in cfg.stages:
        if resume and _stage_done(cfg, stage, resume):
            log.info("stage %s already exported: skipped", stage.name)
            continue
        finished = run_stage(cfg, stage, tokenizer, checkpoints, resume if resume and resume[0] == stage.name else None)
        if not finished:
            break
    return out


def run_stage(cfg: RunConfig, stage: StageConfig, tokenizer, checkpoints, resume) -> bool:
    """Train one stage and export it; False when the run stopped early (train.stop_after)."""
    from ..model.build import build_model  # heavy imports stay out of `validate`

    seed_everything(cfg.train.seed)
    # the stage's own media plan and precision (stages[].media, stages[].precision)
    model_cfg, train_cfg = stage_model_config(cfg, stage), stage_train_config(cfg, stage)
    model = build_model(model_cfg, tokenizer, cfg.adapter if uses_adapters(stage) else None)
    specs = [branch.spec for branch in model.branches]
    trainable = set_trainable(model, stage, [s.name for s in specs])
    for source, loaded in load_init(model, cfg, stage):  # strict: a missing key fails by name
        log.info("stage %s: loaded %s from %s", stage.name, loaded, source)
    data = build_stage_data(cfg, stage, tokenizer, specs)
    heldout = build_eval_data(cfg, stage, tokenizer, specs)
    total = steps_for(data.batches_per_epoch, stage.epochs, cfg.train.grad_accum, cfg.train.max_steps)
    engine = build_engine(model, train_cfg, stage.optim, total, model_cfg.dtype, node_local=not checkpoints.shared)
    state = _loop_state(stage, engine, data, checkpoints, resume)
    log.info("stage %s: %d trainable tensors, %d steps, %d ranks", stage.name, len(trainable), total, world_size())
    metrics = MetricsLogger(
        cfg.output_dir, stage.name, total, cfg.train.wandb_mode, cfg.model_dump(mode="json"), start_step=state.step
    )
    hooks = LoopHooks(
        make_loader=data.loader,
        save=_checkpoint_writer(cfg, stage, engine, data, checkpoints),
        metrics=metrics,
        evaluate=make_evaluator(engine, heldout, cfg.train.loss_reduction, cfg.train.eval_max_batches),
    )
    finished = train_stage(engine, state, LoopSettings.from_train(cfg.train, total, [s.name for s in specs]), hooks)
    metrics.close()
    if finished:
        _export_stage(cfg, stage, model, state, data.report(), writes_outputs(checkpoints.shared))
    return finished


def _loop_state(stage: StageConfig, engine, data, checkpoints: CheckpointManager, resume) -> LoopState:
    """A fresh loop state, or the one of the checkpoint resumed (engine and data report restored)."""
    if not resume:
        return LoopState()
    saved = checkpoints.load(engine, resume[1])
    state = LoopState(**saved["loop"])
    restore_data_report(data.dataset.report, saved.get("data"))
    log.info("stage %s: resumed at step %d (epoch %d, batch %d)", stage.name, state.step, state.epoch, state.position)
    return state


def _checkpoint_writer(cfg: RunConfig, stage: StageConfig, engine, data, checkpoints: CheckpointManager):
    """The loop's ``save(state)``: engine, loop state, data report and run identity in one checkpoint."""
    identity = run_identity(cfg, stage)

    def save(loop_state: LoopState) -> None:
        checkpoints.save(
            engine,
            stage.name,
            loop_state.step,
            {"loop": loop_state.to_dict(), "data": data.report(), "identity": identity},
        )

    return save


def _export_stage(cfg: RunConfig, stage: StageConfig, model, state: LoopState, report: dict, writer: bool) -> None:
    with gathered([model.llm.get_input_embeddings().weight, model.llm.get_output_embeddings().weight]):
        extra = {"embeddings": model.added_embeddings()} if model.added_token_ids else None
    export_weights(
        model,
        Path(cfg.output_dir) / "export" / stage.name,
        dump_config(cfg),
        {"stage": stage.name, "kind": stage.kind, "step": state.step},
        extra=extra,
        writer=writer,
    )
    _write_data_report(cfg, stage, report)
    barrier()


def _write_data_report(cfg: RunConfig, stage: StageConfig, report: dict) -> None:
    if is_main():
        (Path(cfg.output_dir) / f"data_report_{stage.name}.json").write_text(json.dumps(report, indent=2))


def restore_data_report(report, saved: dict | None) -> None:
    """Put back the bad samples met before the checkpoint: they are not met again in its epoch."""
    for reason, entries in ((saved or {}).get("bad") or {}).items():
        report.update([{**entry, "reason": reason} for entry in entries])


def _resume_point(cfg: RunConfig, checkpoints: CheckpointManager) -> tuple[str, Path] | None:
    """(stage name, checkpoint dir) to continue from, or None for a fresh run.

    resume=auto takes the newest checkpoint whose files verify; an explicit path must verify.
    Either must come from a stage of this config and from the same data, seed and world size."""
    if cfg.resume is None:
        return None
    names = [s.name for s in cfg.stages]
    if cfg.resume == "auto":
        path = checkpoints.newest_verified(names)
    else:
        path = Path(cfg.resume)
        try:
            checkpoints.verify(path)
        except CheckpointFileError as err:
            raise CheckpointFileError(
                f"resume={cfg.resume}: {err}; resume=auto takes the newest checkpoint that verifies"
            ) from None
    if path is None:
        log.info("resume=auto: no checkpoint yet, starting fresh")
        return None
    state = read_state(path)
    if state["stage"] not in names:
        raise ConfigError(
            f"resume: checkpoint {path} belongs to stage {state['stage']!r}, which the config does "
            f"not list (stages: {', '.join(names)}). Name the stage {state['stage']!r} again, "
            "or start afresh with overwrite=true or in a new output_dir."
        )
    stage = cfg.stages[names.index(state["stage"])]
    changed = check_identity(state.get("identity"), run_identity(cfg, stage), cfg.resume_allow_changes, path)
    if changed:
        log.warning("resume: continuing although %s changed (resume_allow_changes)", ", ".join(changed))
    return state["stage"], path


def _stage_done(cfg: RunConfig, stage: StageConfig, resume: tuple[str, Path]) -> bool:
    names = [s.name for s in cfg.stages]
    return names.index(stage.name) < names.index(resume[0])
