"""Stand-ins for the inputs a recipe names (LLM and encoder paths, data root, train files,
init_from exports), for tests that validate a recipe's plan without weights or data: `validate`
refuses a recipe whose inputs do not exist (train would), so these tests put empty ones there."""

from pathlib import Path

from moka_train.config import load_config
from moka_train.train.preflight import input_paths


def create_recipe_inputs(config: str | Path, overrides: list[str] | None = None) -> None:
    """An empty directory, or an empty file where the name has a suffix (``.pt``, ``.jsonl``), for
    every input path of the recipe that does not exist yet (existing ones are left alone), and an
    empty manifest for every init_from export given by path."""
    cfg = load_config(config, overrides or [])
    names = {stage.name for stage in cfg.stages}
    exports = {e for stage in cfg.stages for e in stage.init_from if e not in names}
    for value in [v for _, v, _ in input_paths(cfg)] + sorted(exports):
        assert Path(value).is_absolute(), f"{value}: a stand-in would land in the working directory; set its root"
    for _key, value, _what in input_paths(cfg):
        path = Path(value)
        if path.exists():
            continue
        if path.suffix:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
        else:
            path.mkdir(parents=True)
    for entry in exports:
        manifest = Path(entry) / "manifest.json"
        if not manifest.exists():
            manifest.parent.mkdir(parents=True, exist_ok=True)
            manifest.write_text("{}")
