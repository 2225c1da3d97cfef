"""The default adapter targets, in the one module both the config schema and the torch-only
adapters core may import (DESIGN §2: config and adapters both sit above utils only)."""

# every linear layer of a LLaMA / Qwen decoder block: attention q/k/v/o and the gated MLP
DEFAULT_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
