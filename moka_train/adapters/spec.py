"""AdapterSpec: everything an adapter method needs to know, free of config files and data."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from ..utils.adapter_targets import DEFAULT_TARGETS

TEMPERATURES = ("paper", "official", "num_query")


@dataclass(frozen=True)
class AdapterSpec:
    """One adapter configuration, shared by every adapted layer.

    ``modalities`` names the non-text modalities in config order; adapter index 0 is always
    text (query text included), index ``i`` (1-based) is ``modalities[i-1]``.
    """

    method: str = "moka"
    rank: int = 4
    alpha: float = 16.0
    dropout: float = 0.05
    targets: tuple[str, ...] = DEFAULT_TARGETS
    modalities: tuple[str, ...] = ("video", "audio")
    xattn_weight: float = 1.0  # λ
    temperature: str = "paper"  # see moka.py
    num_experts: int = 0  # 0 = one expert per modality (text included)
    options: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.rank <= 0:
            raise ValueError(f"adapter rank must be positive, got {self.rank}")
        if self.temperature not in TEMPERATURES:
            raise ValueError(f"adapter temperature {self.temperature!r} not in {TEMPERATURES}")
        object.__setattr__(self, "targets", tuple(self.targets))
        object.__setattr__(self, "modalities", tuple(self.modalities))

    @property
    def scale(self) -> float:
        """s = alpha / r, applied to every A output."""
        return self.alpha / self.rank

    @property
    def num_adapters(self) -> int:
        """Adapters: text plus one per non-text modality."""
        return 1 + len(self.modalities)

    @property
    def experts(self) -> int:
        return self.num_experts or self.num_adapters

    def matches(self, module_name: str) -> bool:
        """A target matches the last name component exactly, or the full name as a regex."""
        leaf = module_name.rsplit(".", 1)[-1]
        return any(t == leaf or re.fullmatch(t, module_name) for t in self.targets)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["targets"], data["modalities"] = list(self.targets), list(self.modalities)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> AdapterSpec:
        return cls(**data)
