"""Routing: which adapter each token uses and who attends to whom, derived once per forward.

The tensors are built from ``modality_ids [B, T]`` (DESIGN §4) by the owner of the batch and, for
packed rows (several samples per row, ``data.packing``), ``segment_ids [B, T]``: the sample each
token belongs to. Methods that look across tokens keep every interaction inside one sample
(``Routing.same_sample``); the tensors are placed in a :class:`RoutingSlot` that every adapted layer
holds. The slot is *not* cleared when forward returns, and gradient-checkpoint recomputation, which
runs during backward, must see the routing of *its own* forward even when other forwards came in
between (a pipeline schedule, a user's loop running two forwards before their backwards): every
checkpointed layer's checkpoint function is wrapped (``bind_checkpoints``, on each training forward
of the adapted model) so that the function it saves for recompute carries the routing current at
forward time and installs it while it runs (``RoutingSlot.bind``). The decode phase (text-only
routing) is set from an explicit signal by a pre-hook on the backbone: the KV cache already holds
tokens.

What a layer derives from the prefill routing and needs again in decode steps (MokA text-query's
media vectors, Wander's context) is kept in the slot too (``keep_for_decode``), never in the
layer, so the next ``set()`` drops it with the routing. A batch of another size fails loudly;
beam search and several returned sequences, whose rows HF generate repeats in place, call
``expand_batch`` explicitly."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from ..modality import FIRST_MEDIA, PAD, QUERY


def packed_positions(mask: Tensor, width: int | None = None) -> tuple[Tensor, Tensor]:
    """Positions of True entries per row, left-packed: ([B, N] long, [B, N] bool valid).
    ``width``: the largest row count when the caller knows it (no device sync to read it)."""
    counts = mask.sum(dim=1)  # [B]
    if width is None:
        width = int(counts.max()) if mask.numel() else 0
    # a stable sort of ~mask brings True positions first, in their original order
    order = torch.sort((~mask).to(torch.int8), dim=1, stable=True).indices[:, :width]  # [B, N]
    valid = torch.arange(width, device=mask.device)[None, :] < counts[:, None]  # [B, N]
    return order, valid


@dataclass(frozen=True)
class Routing:
    """Per-forward routing tensors, shared by all adapted layers (read-only)."""

    modality_ids: Tensor  # [B, T]
    adapter_index: Tensor  # [B, T] adapter index: 0 text/query/pad, i for the i-th non-text modality
    nontext_pos: Tensor  # [B, N] positions of non-text tokens, left-packed
    nontext_valid: Tensor  # [B, N]
    query_pos: Tensor  # [B, Q] positions of query-text tokens, left-packed
    query_valid: Tensor  # [B, Q]
    active: Tensor | None = None  # [B, T] tokens whose adapter delta is applied (None: all)
    # packed rows: the sample of every token [B, T] (-1 on padding); None: one sample per row
    segment_ids: Tensor | None = None
    # tensors derived once per forward and shared by every layer (expanded gather indices, masks)
    memo: dict = field(default_factory=dict, compare=False, repr=False)

    def cached(self, key: tuple, build: Callable[[], object]):
        """``build()`` once per routing and key; the layers of one forward then share the result."""
        if key not in self.memo:
            self.memo[key] = build()
        return self.memo[key]

    def adapter_gather_index(self, rank: int) -> Tensor:
        """[B, T, 1, r] index that picks each token's adapter out of [B, T, M, r]."""
        return self.cached(
            ("adapter_index", rank),
            lambda: self.adapter_index[:, :, None, None].expand(*self.adapter_index.shape, 1, rank),
        )

    @property
    def packed(self) -> bool:
        return self.segment_ids is not None

    def same_sample(self, query_pos: Tensor, key_pos: Tensor, key_valid: Tensor) -> Tensor:
        """[B, L, K] bool: key k is valid and in the same sample as query l (positions [B, L], [B, K]).

        Unpacked rows hold one sample each, so this is ``key_valid`` broadcast over the queries.
        """
        if self.segment_ids is None:
            return key_valid[:, None, :].expand(-1, query_pos.shape[1], -1)
        query_seg = self.segment_ids.gather(1, query_pos)  # [B, L]
        key_seg = self.segment_ids.gather(1, key_pos)  # [B, K]
        return (query_seg[:, :, None] == key_seg[:, None, :]) & key_valid[:, None, :]

    @classmethod
    def from_modality_ids(
        cls,
        modality_ids: Tensor,
        num_modalities: int,
        active_ids: tuple[int, ...] | None = None,
        segment_ids: Tensor | None = None,
        host_ids: Tensor | None = None,
    ) -> Routing:
        """``host_ids``: a host copy of ``modality_ids`` (the batch before it moved to the device):
        the range check and the packed widths are read from it, so building the routing waits for
        nothing on the device; without it, one device sync reads them all."""
        if modality_ids.dim() != 2:
            raise ValueError(f"modality_ids must be [B, T], got shape {tuple(modality_ids.shape)}")
        ids = modality_ids.long()
        if host_ids is not None and tuple(host_ids.shape) != tuple(ids.shape):
            raise ValueError(f"host_ids {tuple(host_ids.shape)} must have the shape of modality_ids {tuple(ids.shape)}")
        low, top, nontext_width, query_width = routing_sizes(ids if host_ids is None else host_ids.long())
        if top >= FIRST_MEDIA + num_modalities or low < PAD:
            raise ValueError(f"modality_ids hold {top}, but only {num_modalities} non-text modalities are adapted")
        nontext = ids >= FIRST_MEDIA
        slot = torch.where(nontext, ids - FIRST_MEDIA + 1, torch.zeros_like(ids))
        nontext_pos, nontext_valid = packed_positions(nontext, nontext_width)
        query_pos, query_valid = packed_positions(ids == QUERY, query_width)
        active = None if active_ids is None else torch.isin(ids, torch.tensor(active_ids, device=ids.device))
        return cls(
            ids, slot, nontext_pos, nontext_valid, query_pos, query_valid, active, _checked_segments(segment_ids, ids)
        )

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.modality_ids.shape)

    def repeat_rows(self, times: int) -> Routing:
        """Each row repeated ``times`` in place (HF generate's beam / return-sequence layout)."""
        return Routing(
            *(
                None if t is None else t.repeat_interleave(times, dim=0)
                for t in (
                    self.modality_ids,
                    self.adapter_index,
                    self.nontext_pos,
                    self.nontext_valid,
                    self.query_pos,
                    self.query_valid,
                    self.active,
                    self.segment_ids,
                )
            )
        )


def routing_sizes(ids: Tensor) -> tuple[int, int, int, int]:
    """(smallest id, largest id, most non-text tokens in a row, most query tokens in a row), read
    in one transfer."""
    if not ids.numel():
        return 0, 0, 0, 0
    rows = torch.stack([(ids >= FIRST_MEDIA).sum(1).max(), (ids == QUERY).sum(1).max()])
    return tuple(int(v) for v in torch.cat([ids.min()[None], ids.max()[None], rows]).tolist())


def _checked_segments(segment_ids: Tensor | None, ids: Tensor) -> Tensor | None:
    if segment_ids is None:
        return None
    if tuple(segment_ids.shape) != tuple(ids.shape):
        raise ValueError(
            f"segment_ids {tuple(segment_ids.shape)} must have the shape of modality_ids {tuple(ids.shape)}"
        )
    return segment_ids.long()


class RoutingError(RuntimeError):
    pass


class RoutingSlot:
    """The one holder of the current routing, referenced by every adapted layer, and of what the
    layers derived from it for decoding."""

    def __init__(self, num_modalities: int) -> None:
        self.num_modalities = num_modalities
        self.routing: Routing | None = None
        self.decoding = False
        # the partial-modality probe (paper Fig. 1): adapters act only on these ids in prefill
        self.active_ids: tuple[int, ...] | None = None
        self._decode_state: dict[object, tuple[Tensor, ...]] = {}  # per layer, rows of self.routing

    def set(self, modality_ids: Tensor, segment_ids: Tensor | None = None, host_ids: Tensor | None = None) -> Routing:
        """Install the routing of the next prefill / training forward (``segment_ids``: packed rows;
        ``host_ids``: a host copy of ``modality_ids``, see ``Routing.from_modality_ids``)."""
        self.routing = Routing.from_modality_ids(
            modality_ids, self.num_modalities, self.active_ids, segment_ids, host_ids
        )
        self.decoding = False
        self._decode_state = {}
        return self.routing

    def expand_batch(self, times: int) -> Routing:
        """Repeat every row ``times`` in place, the layout HF generate gives beams and returned
        sequences (``max(num_beams, num_return_sequences)`` rows per sample); called between
        ``set()`` and ``generate``. Decode state kept so far is repeated likewise."""
        if self.routing is None:
            raise RoutingError("expand_batch before any routing: call slot.set(modality_ids) first")
        if times < 1:
            raise ValueError(f"expand_batch needs a positive repeat count, got {times}")
        if times > 1:
            self.routing = self.routing.repeat_rows(times)
            self._decode_state = {
                owner: tuple(t.repeat_interleave(times, dim=0) for t in state)
                for owner, state in self._decode_state.items()
            }
        return self.routing

    def read(self, x: Tensor) -> Routing | None:
        """Routing for an input ``x [B, T, d]``; None means text-only (decode phase)."""
        if self.decoding:
            return None
        if self.routing is None:
            raise RoutingError("no routing set: call slot.set(modality_ids) before the forward")
        if tuple(x.shape[:2]) != self.routing.shape:
            raise RoutingError(
                f"stale routing: it is for [B, T] = {list(self.routing.shape)}, the layer input is "
                f"{list(x.shape[:2])}{_expand_hint(self.routing.shape[0], x.shape[0])}"
            )
        return self.routing

    def keep_for_decode(self, owner: object, *tensors: Tensor) -> None:
        """What ``owner`` (a layer) derived from this routing for its decode steps: tensors
        [B, ...], one row per routing row, kept detached until the next ``set()``."""
        self._decode_state[owner] = tuple(t.detach() for t in tensors)

    def decode_state(self, owner: object, batch: int) -> tuple[Tensor, ...]:
        """The tensors ``owner`` kept at the last prefill, for a decode input of ``batch`` rows."""
        state = self._decode_state.get(owner)
        if state is None:
            raise RoutingError(
                f"{type(owner).__name__}: decode step without a matching prefill (decoding before any prefill "
                "since the last slot.set()); run the prompt through the model with routing set first"
            )
        rows = state[0].shape[0]
        if rows != batch:
            raise RoutingError(
                f"stale routing: the decode state of {type(owner).__name__} is for {rows} rows, the decode "
                f"input has {batch}{_expand_hint(rows, batch)}"
            )
        return state

    @contextmanager
    def installed(self, routing: Routing | None) -> Iterator[None]:
        """``routing`` is the current one inside the block; the previous one is put back after."""
        previous, self.routing = self.routing, routing
        try:
            yield
        finally:
            self.routing = previous

    def bind(self, function: Callable) -> Callable:
        """``function`` that runs under the routing current *now*, whenever it is called (a
        checkpointed layer's forward, called again by the recompute in backward)."""
        routing = self.routing

        def routed(*args, **kwargs):
            with self.installed(routing):
                return function(*args, **kwargs)

        return routed

    def bind_checkpoints(self, model: nn.Module) -> None:
        """Wrap the checkpoint function of every checkpointed layer of ``model`` (HF's
        ``_gradient_checkpointing_func``, reentrant or not) so that it saves the function bound
        to this forward's routing. Idempotent; checkpointing enabled later is wrapped at the next
        forward."""
        for module in model.modules():
            checkpoint = getattr(module, "_gradient_checkpointing_func", None)
            if checkpoint is None or getattr(checkpoint, "routing_slot", None) is self:
                continue
            module._gradient_checkpointing_func = _routed_checkpoint(checkpoint, self)

    def phase_hook(self, module, args, kwargs) -> None:
        """Forward pre-hook on the backbone: decide prefill vs. decode from the cache state; on a
        training forward, bind the checkpointed layers' recompute to this forward's routing."""
        self.decoding = _extends_cache(kwargs)
        if module.training and torch.is_grad_enabled():
            self.bind_checkpoints(module)


def _routed_checkpoint(checkpoint: Callable, slot: RoutingSlot) -> Callable:
    def routed_checkpoint(function, *args, **kwargs):
        return checkpoint(slot.bind(function), *args, **kwargs)

    routed_checkpoint.routing_slot = slot
    return routed_checkpoint


def _expand_hint(rows: int, batch: int) -> str:
    if batch > rows and batch % rows == 0:
        return f" (beams / returned sequences: call slot.expand_batch({batch // rows}) after slot.set())"
    return ""


def _extends_cache(kwargs: dict) -> bool:
    cache_position = kwargs.get("cache_position")
    if cache_position is not None:  # transformers 4.x passes it explicitly
        return bool(cache_position.reshape(-1)[0] > 0)
    # transformers 5 passes the cache as ``cache`` (``past_key_values`` is its deprecated name)
    cache = kwargs.get("cache", kwargs.get("past_key_values"))
    return cache is not None and hasattr(cache, "get_seq_length") and cache.get_seq_length() > 0
