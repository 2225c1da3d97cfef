"""moka-train: multimodal instruction tuning with MokA and the paper's baselines."""

__version__ = "0.1.0"
