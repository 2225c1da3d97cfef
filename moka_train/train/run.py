"""run(cfg): the whole training flow, top to bottom.

init distributed → seed → tokenizer → per stage: model → trainable set → init weights → data →
engine → resume → loop → export.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..config import RunConfig, dump_config
from ..config.schema import StageConfig
from ..data.tokenizer import load_tokenizer
from ..model.export import export_weights, gathered, load_export
from ..utils.dist import barrier, init_distributed, is_main, world_size
from ..utils.logging import get_logger
from ..utils.seeding import seed_everything
from .checkpoint import CheckpointManager
from .data import build_stage_data
from .engine import build_engine
from .loop import LoopState, steps_for, train_stage
from .metrics import MetricsLogger
from .stages import set_trainable, uses_adapters

log = get_logger(__name__)


def run(cfg: RunConfig) -> Path:
    _check_stage_order(cfg.stages)
    init_distributed()
    out = Path(cfg.output_dir)
    if is_main():
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.yaml").write_text(dump_config(cfg))
    checkpoints = CheckpointManager(out / "checkpoints", cfg.train.keep_last)
    resume = _resume_point(cfg, checkpoints)
    tokenizer = load_tokenizer(cfg.model)
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
    model = build_model(cfg.model, tokenizer, cfg.adapter if uses_adapters(stage) else None)
    specs = [branch.spec for branch in model.branches]
    trainable = set_trainable(model, stage, [s.name for s in specs])
    for earlier in stage.init_from:
        loaded = load_export(model, Path(cfg.output_dir) / "export" / earlier)
        log.info("stage %s: loaded %s from stage %s", stage.name, loaded, earlier)
    data = build_stage_data(cfg, stage, tokenizer, specs)
    total = steps_for(data.batches_per_epoch, stage.epochs, cfg.train.grad_accum, cfg.train.max_steps)
    engine = build_engine(model, cfg.train, stage.optim, total)
    state = LoopState()
    if resume:
        state = LoopState(**checkpoints.load(engine, resume[1])["loop"])
        log.info("stage %s: resumed at step %d (epoch %d, batch %d)", stage.name, state.step, state.epoch, state.position)
    log.info("stage %s: %d trainable tensors, %d steps, %d ranks", stage.name, len(trainable), total, world_size())
    metrics = MetricsLogger(cfg.output_dir, stage.name, total, cfg.train.wandb_mode, cfg.model_dump(mode="json"),
                            start_step=state.step)

    def save(loop_state: LoopState) -> None:
        checkpoints.save(engine, stage.name, loop_state.step, {"loop": loop_state.to_dict(), "data": data.report()})

    finished = train_stage(engine, data.loader, state, total, cfg.train.grad_accum, metrics, save,
                           cfg.train.log_every, cfg.train.save_every, cfg.train.max_nonfinite_in_row,
                           [s.name for s in specs], cfg.train.stop_after)
    metrics.close()
    if not finished:
        return False
    with gathered([model.llm.get_input_embeddings().weight, model.llm.get_output_embeddings().weight]):
        extra = {"embeddings": model.added_embeddings()} if model.added_token_ids else None
    export_weights(model, Path(cfg.output_dir) / "export" / stage.name, dump_config(cfg),
                   {"stage": stage.name, "kind": stage.kind, "step": state.step}, extra=extra)
    _write_data_report(cfg, stage, data.report())
    barrier()
    return True


def _write_data_report(cfg: RunConfig, stage: StageConfig, report: dict) -> None:
    if is_main():
        (Path(cfg.output_dir) / f"data_report_{stage.name}.json").write_text(json.dumps(report, indent=2))


def _resume_point(cfg: RunConfig, checkpoints: CheckpointManager) -> tuple[str, Path] | None:
    """(stage name, checkpoint dir) to continue from, or None for a fresh run."""
    if cfg.resume is None:
        return None
    path = checkpoints.latest() if cfg.resume == "auto" else Path(cfg.resume)
    if path is None:
        log.info("resume=auto: no checkpoint yet, starting fresh")
        return None
    state = json.loads((path / "trainer_state.json").read_text())
    return state["stage"], path


def _stage_done(cfg: RunConfig, stage: StageConfig, resume: tuple[str, Path]) -> bool:
    names = [s.name for s in cfg.stages]
    return names.index(stage.name) < names.index(resume[0])


def _check_stage_order(stages) -> None:
    seen = set()
    for stage in stages:
        for earlier in stage.init_from:
            if earlier not in seen:
                raise ValueError(f"stage {stage.name!r}: init_from {earlier!r} is not an earlier stage "
                                 f"(earlier: {sorted(seen) or 'none'})")
        seen.add(stage.name)
    if not stages:
        raise ValueError("the config lists no stages: add `stages:` with at least one entry")
