"""MultimodalLM: encoders → projectors → spliced into the LLM's embeddings → LLM with adapters.

The model owns the RoutingSlot: every forward (and every generate) installs the routing derived
from the batch's ``modality_ids`` before the LLM runs, so adapted layers never see stale masks.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..adapters import RoutingSlot, adapter_state_dict
from ..config.sections.model import AUDIO_SAMPLE_RATE
from ..modality import ModalitySpec
from ..utils.media_sampling import SamplingPlan, cut_windows
from .answer_loss import answer_loss, plain_linear_head
from .splice import splice_features, zero_touch


@dataclass(frozen=True)
class Branch:
    """One non-text modality: how many raw items per sample and how they are encoded."""

    spec: ModalitySpec
    frames: int  # frames / audio windows per item (1 for images)
    item_shape: tuple[int, ...]  # one raw item: [F, H, W, 3] uint8 frames or [F, samples] audio windows


def audio_windows(
    waves: Tensor, lengths: Tensor | None, plan: SamplingPlan | None, frames: int, window_samples: int
) -> list[tuple[Tensor, Tensor]]:
    """Zero-padded waveforms [n, S] -> [(item positions [g], windows [g, F, width])], one group
    per window width (see ``utils.media_sampling``). Without a plan: F consecutive real-time
    windows of ``window_samples`` (the default plan)."""
    lengths = torch.full((waves.shape[0],), waves.shape[1]) if lengths is None else lengths
    if plan is None:
        plan = SamplingPlan(kind="audio", count=frames, window_seconds=window_samples / AUDIO_SAMPLE_RATE)
    return cut_windows(waves, lengths, plan)


def encode_media(encoder: nn.Module, raw: Tensor, frames: int, name: str) -> Tensor:
    """One encoder over raw items: [n, F, H, W, 3] frames or [n, F, samples] audio windows -> [n, F, L, D]."""
    items = raw.shape[0]
    if raw.shape[1] != frames:
        raise ValueError(
            f"{name}: the batch holds {raw.shape[1]} frames per item (data.video_frames) but "
            f"the model expects {frames} (model.modalities[].frames); make them equal"
        )
    flat = raw.reshape(items * frames, *raw.shape[2:])  # [n*F, ...]: frames are independent
    with torch.set_grad_enabled(torch.is_grad_enabled() and any(p.requires_grad for p in encoder.parameters())):
        feats = encoder(encoder.preprocess(flat).to(raw.device))  # [n*F, L, D]
    return feats.reshape(items, frames, feats.shape[-2], feats.shape[-1])  # [n, F, L, D]


def host_copy(batch: dict, key: str):
    """``batch[key]`` as it was before the batch moved to the device (``train.loop.to_device`` keeps
    the tensors that size things under ``batch["host"]``): reading it needs no device sync."""
    host = batch.get("host", {})
    return host[key] if key in host else batch.get(key, {} if key == "media_lengths" else None)


def padding_mask(batch: dict) -> Tensor | None:
    """The 2D attention mask, or None when the host copy shows no padding: the backbone then needs
    no mask, and does not read the mask's values back to decide that (a device sync per forward)."""
    host = batch.get("host", {}).get("attention_mask")
    return None if host is not None and bool(host.all()) else batch["attention_mask"]


class MultimodalLM(nn.Module):
    def __init__(
        self,
        llm: nn.Module,
        encoders: dict[str, nn.Module],
        projectors: dict[str, nn.Module],
        branches: list[Branch],
        slot: RoutingSlot,
        added_token_ids: list[int],
    ) -> None:
        super().__init__()
        self.llm = llm
        self.encoders = nn.ModuleDict(encoders)
        self.projectors = nn.ModuleDict(projectors)
        self.branches = branches
        self.slot = slot
        self.added_token_ids = added_token_ids  # placeholder rows added to the vocabulary
        self._adapter_names: frozenset[str] | None = None

    # --- the pieces -------------------------------------------------------------------------
    def encode(self, name: str, raw: Tensor, frames: int, lengths: Tensor | None = None) -> Tensor:
        """Raw media of ``n`` items -> projected tokens [n, K, d].

        A waveform batch [n, S] (valid lengths ``lengths``) is cut into the modality's windows
        first; windows of different widths (nominal seconds of clips of different lengths) are
        encoded and projected group by group, then put back in item order.
        """
        if raw.dim() != 2:  # frames [n, F, H, W, 3], or audio already cut [n, F, samples]
            return self.project(name, self.encoder_features(name, raw, frames))
        branch = self.branch(name)
        groups = audio_windows(raw, lengths, branch.spec.sampling, frames, branch.item_shape[-1])
        tokens = [self.project(name, self.encoder_features(name, windows, frames)) for _, windows in groups]
        if len(tokens) == 1:
            return tokens[0]
        order = torch.argsort(torch.cat([rows for rows, _ in groups]))
        return torch.cat(tokens)[order.to(tokens[0].device)]

    def encoder_features(self, name: str, raw: Tensor, frames: int) -> Tensor:
        """Frames [n, F, H, W, 3] or audio windows [n, F, samples] -> encoder features
        [n, F, L, D] (what the feature cache stores)."""
        return encode_media(self.encoders[name], raw, frames, name)

    def project(self, name: str, feats: Tensor) -> Tensor:
        """Encoder features [n, F, L, D] -> LLM tokens [n, K, d]."""
        return self.projectors[name](feats.to(self.projector_dtype(name)))

    def projector_dtype(self, name: str) -> torch.dtype:
        return next(self.projectors[name].parameters()).dtype

    def dummy_raw(self, name: str) -> Tensor:
        """One all-zero raw item of a modality (for ranks whose batch lacks it)."""
        shape = self.branch(name).item_shape
        dtype = torch.uint8 if len(shape) == 4 else torch.float32
        return torch.zeros(1, *shape, dtype=dtype, device=self.llm.device)

    def branch(self, name: str) -> Branch:
        return next(b for b in self.branches if b.spec.name == name)

    def embed(self, batch: dict) -> tuple[Tensor, Tensor]:
        """Token embeddings with media spliced in, and a zero term that touches unused branches."""
        embeds = self.llm.get_input_embeddings()(batch["input_ids"])  # [B, T, d]
        untouched = []
        for branch in self.branches:
            name = branch.spec.name
            raw, cached = batch.get("media", {}).get(name), batch.get("features", {}).get(name)
            if raw is None and cached is None:
                # every rank calls every module on every step, or ZeRO-3 waits for ever
                untouched.append(self.encode(name, self.dummy_raw(name), branch.frames))
                continue
            lengths = host_copy(batch, "media_lengths").get(name)
            tokens = self.media_tokens(batch, name, raw, cached, branch.frames, lengths)
            host_ids = host_copy(batch, "modality_ids")
            embeds = splice_features(
                embeds, batch["modality_ids"], branch.spec.id, tokens, name, batch.get("ids"), host_ids
            )
        zero = zero_touch(*untouched).to(embeds.device)
        # the zero term also rides on the embeddings: when the spliced media are frozen (a stage
        # that trains another modality's projector), the LLM's inputs would need no grad, this rank
        # would skip the backward of the first blocks and ZeRO-3's gathers would fall out of step
        # with a rank whose trainable media are spliced in
        return embeds + zero.to(embeds.dtype), zero

    def media_tokens(
        self,
        batch: dict,
        name: str,
        raw: Tensor | None,
        cached: Tensor | None,
        frames: int,
        lengths: Tensor | None = None,
    ) -> Tensor:
        """Projected tokens of every item of a modality, in batch-row order, whether it arrived
        as raw media or as cached encoder features."""
        if cached is None:
            return self.encode(name, raw, frames, lengths)
        if raw is None:
            return self.project(name, cached)
        # [n_raw + n_cached, K, d]
        tokens = torch.cat([self.encode(name, raw, frames, lengths), self.project(name, cached)])
        rows = torch.cat([batch["media_index"][name], batch["features_index"][name]])
        return tokens[torch.argsort(rows.to(tokens.device))]

    # --- training and generation --------------------------------------------------------------
    def forward(self, batch: dict) -> dict:
        embeds, zero = self.embed(batch)
        self.slot.set(batch["modality_ids"], batch.get("segment_ids"), host_copy(batch, "modality_ids"))
        loss, logits = self.run_llm(embeds, host_copy(batch, "labels"), **self.llm_inputs(batch))
        return {"loss": loss + zero if loss is not None else None, "logits": logits}

    def llm_inputs(self, batch: dict) -> dict:
        """Mask and positions the LLM's forward gets beside the embeddings (a backbone with its own
        rotary index overrides this)."""
        if batch.get("segment_ids") is not None:  # packed rows (data/packing.py)
            # restarting position ids with no 2D mask: the backbone's own block-diagonal causal mask
            return {"attention_mask": None, "position_ids": batch["position_ids"]}
        return {"attention_mask": padding_mask(batch)}

    def generation_inputs(self, batch: dict) -> dict:
        """What the LLM's generate gets beside the embeddings and the mask: nothing for a text LLM
        (a backbone that needs the prompt's ids, e.g. for its rotary index, overrides this)."""
        return {}

    def run_llm(self, embeds: Tensor, labels: Tensor | None, **inputs) -> tuple[Tensor | None, Tensor | None]:
        """(loss, logits) of the LLM on ``embeds``. With labels: the loss on the labelled positions
        only (``answer_loss``: no [B, T, V] logits), and no logits; without: the logits."""
        if labels is None or not plain_linear_head(self.llm):
            out = self.llm(inputs_embeds=embeds, labels=labels, use_cache=False, **inputs)
            return out.loss, out.logits
        hidden = self.llm.base_model(inputs_embeds=embeds, use_cache=False, **inputs).last_hidden_state
        return answer_loss(self.llm.get_output_embeddings(), hidden, labels), None

    @torch.no_grad()
    def generate(self, batch: dict, **generate_kwargs) -> Tensor:
        """New tokens only, [B, new]. Left-padded batches keep modality ids aligned with ids."""
        embeds, _ = self.embed(batch)
        self.slot.set(batch["modality_ids"])  # prefill routing; decode steps switch to text-only
        # HF generate repeats every row in place for beams / returned sequences: so must the routing
        config = generate_kwargs.get("generation_config") or self.llm.generation_config
        beams = generate_kwargs.get("num_beams", config.num_beams) or 1
        returned = generate_kwargs.get("num_return_sequences", config.num_return_sequences) or 1
        self.slot.expand_batch(max(beams, returned))
        extra = self.generation_inputs(batch)
        out = self.llm.generate(
            inputs_embeds=embeds, attention_mask=batch["attention_mask"], **extra, **generate_kwargs
        )
        # given the prompt's ids too, HF returns them in front of the new tokens
        return out[:, batch["input_ids"].shape[1] :] if "input_ids" in extra else out

    # --- what trains, and what is exported ----------------------------------------------------
    def _embedding_tables(self) -> tuple[Tensor, dict[str, Tensor]]:
        """The added placeholder ids, and the input / output embedding matrices they index."""
        ids = torch.tensor(self.added_token_ids, dtype=torch.long)
        return ids, {"input": self.llm.get_input_embeddings().weight, "output": self.llm.get_output_embeddings().weight}

    def added_embeddings(self) -> dict[str, Tensor]:
        """Input and output embedding rows of the placeholder tokens added to the vocabulary."""
        ids, rows = self._embedding_tables()
        return {k: w.detach()[ids.to(w.device)].to("cpu").clone() for k, w in rows.items()}

    def load_added_embeddings(self, tensors: dict[str, Tensor]) -> None:
        ids, rows = self._embedding_tables()
        if set(tensors) != set(rows) or tensors["input"].shape[0] != len(ids):
            raise ValueError(
                f"embeddings export holds {sorted(tensors)} with {tensors['input'].shape[0]} rows; "
                f"the model added {len(ids)} placeholder tokens"
            )
        with torch.no_grad():
            for key, weight in rows.items():
                weight[ids.to(weight.device)] = tensors[key].to(weight.dtype).to(weight.device)

    def role_of(self, param_name: str) -> str:
        """projector.<modality> | encoder.<modality> | adapter | llm."""
        head, _, rest = param_name.partition(".")
        if head in ("projectors", "encoders"):
            return f"{head[:-1]}.{rest.partition('.')[0]}"
        if self._adapter_names is None:  # adapters are applied before this model is built
            self._adapter_names = frozenset(f"llm.{k}" for k in adapter_state_dict(self.llm))
        return "adapter" if param_name in self._adapter_names else "llm"
