"""How answers are decoded: ``greedy`` (the default) or ``official``.

``official`` decodes as the official MokA inference does (GeWu-Lab/MokA AudioVisualText/scripts/
finetune/inference_cut.py calls ``generate`` with no sampling arguments): the language model's
``generation_config`` decides, i.e. the ``generation_config.json`` of the LLM folder
(``model.llm_path``) as transformers loads it with the weights; Llama-2-7b-chat-hf's asks for
sampling. Sampling is seeded: each batch draws from ``seed`` and its first sample's id, so a
rerun with the same batching reproduces every answer. ``greedy`` passes ``do_sample=False,
num_beams=1`` whatever the generation config says: deterministic answers.

``settings(model)`` is what the run records: the mode, the seed where it matters, and the
effective ``do_sample``/``temperature``/``top_p``/``top_k``/``num_beams``.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch

DECODING_MODES = ("greedy", "official")
DEFAULT_SEED = 0
LEGACY_IDENTITY = {"mode": "greedy"}  # what predictions written before the modes existed were


@dataclass(frozen=True)
class Decoding:
    mode: str = "greedy"
    seed: int = DEFAULT_SEED

    def __post_init__(self):
        if self.mode not in DECODING_MODES:
            raise ValueError(f"decoding: unknown mode {self.mode!r}; choose from {', '.join(DECODING_MODES)}")

    @property
    def official(self) -> bool:
        return self.mode == "official"

    def generate_kwargs(self) -> dict:
        """Arguments for ``generate``: none in official mode (the generation config decides)."""
        return {} if self.official else {"do_sample": False, "num_beams": 1}

    def identity(self) -> dict:
        """What makes two runs' rows interchangeable (compared when a run resumes): the seed only
        matters when sampling may happen."""
        return {"mode": self.mode, "seed": self.seed} if self.official else {"mode": self.mode}

    def settings(self, model) -> dict:
        """The mode, the seed and the effective sampling settings of this model."""
        if not self.official:
            return {**self.identity(), "do_sample": False, "num_beams": 1}
        config = model.llm.generation_config
        fields = ("do_sample", "temperature", "top_p", "top_k", "num_beams")
        return {**self.identity(), **{name: effective(config, name) for name in fields}}

    @contextmanager
    def seeded(self, first_id: str, device: torch.device) -> Iterator[None]:
        """Official mode: the batch's draws come from (seed, first id); the caller's random state
        is restored afterwards. Greedy: nothing to seed."""
        if not self.official:
            yield
            return
        with seeded_draws(zlib.crc32(f"{self.seed}:{first_id}".encode()), device):
            yield


GREEDY = Decoding()


@contextmanager
def seeded_draws(seed: int, device: torch.device) -> Iterator[None]:
    """Random draws inside come from ``seed`` (CPU, and ``device``'s generator on CUDA); the
    caller's random state is restored afterwards."""
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def effective(config, name: str):
    """A generation setting as ``generate`` applies it: the config's value, or where the config
    leaves it unset (None, transformers 5) the library default that ``generate`` fills in."""
    value = getattr(config, name, None)
    if value is not None:
        return value
    defaults = getattr(config, "_get_default_generation_params", dict)()
    return defaults.get(name)
