"""A distributed sampler that groups batches by modality signature and length, resumable mid-epoch.

Per epoch (deterministic from ``seed`` and ``epoch``):

1. indices are grouped by modality signature (``"audio+video"``, ``"image"``, ...), so every
   global batch holds one signature: every rank runs the same encoders in a step;
2. each group is shuffled, wrapped to a multiple of the global batch (``batch_size x
   world_size``) so every rank gets the same number of full batches, then cut into
   mega-batches whose members are sorted by length (less padding). By default a mega-batch is
   one global batch, as in the official MokA/LLaVA trainer: the sort only deals a random global
   batch out to the ranks, so which samples share an optimizer step never depends on their
   lengths. A length holds the answer's tokens, so sorting across batches (``mega_batches > 1``)
   groups samples by their answer wherever answers differ in length ("high" 2 tokens, "low" 1):
   every step then says "the answer is X", and nothing media-dependent is learned;
3. global batches are shuffled across groups and rank ``r`` takes rows
   ``r*batch_size : (r+1)*batch_size`` of each, so ranks see disjoint samples. With
   ``packing`` (``data.packing``) the length-sorted global batch is dealt to the ranks in snake
   order instead (rank 0, 1, ..., N-1, N-1, ..., 0, ...): each rank's packed rows then hold about
   the same number of tokens, where the plain deal gives rank 0 all the longest samples and the
   other ranks wait for it every step. Packing itself happens inside a micro-batch (the
   collator), so a micro-batch is the same samples with or without it and ``position`` stays a
   count of samples.

``state_dict`` holds epoch and position (samples this rank has consumed in the epoch); after
``load_state_dict`` the next iteration continues at exactly the next sample. A DataLoader with
workers prefetches ahead of the training step, so the trainer should pass the number of samples
it actually consumed: ``state_dict(consumed=steps_in_epoch * batch_size)``.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Sampler


class GroupedDistributedSampler(Sampler[int]):
    def __init__(
        self,
        lengths: list[int],
        signatures: list[str],
        batch_size: int,
        rank: int = 0,
        world_size: int = 1,
        seed: int = 0,
        shuffle: bool = True,
        group_by_modality: bool = True,
        mega_batches: int = 1,
        packing: bool = False,
    ):
        if len(lengths) != len(signatures):
            raise ValueError(f"{len(lengths)} lengths but {len(signatures)} signatures")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside world_size {world_size}")
        self.lengths = torch.as_tensor(lengths, dtype=torch.long)
        self.signatures = list(signatures) if group_by_modality else ["all"] * len(signatures)
        self.batch_size, self.rank, self.world_size = batch_size, rank, world_size
        self.seed, self.shuffle, self.mega_batches = seed, shuffle, mega_batches
        self.packing = packing
        # slot j of a sorted global batch goes to position deal[j] (identity without packing)
        self.deal = snake_deal(batch_size, world_size) if packing else torch.arange(batch_size * world_size)
        self.epoch, self.position = 0, 0

    def set_epoch(self, epoch: int) -> None:
        if epoch != self.epoch:
            self.epoch, self.position = epoch, 0

    def __len__(self) -> int:
        glob = self.batch_size * self.world_size
        groups: dict[str, int] = {}
        for sig in self.signatures:
            groups[sig] = groups.get(sig, 0) + 1
        return sum(-(-n // glob) for n in groups.values()) * self.batch_size

    def __iter__(self) -> Iterator[int]:
        order = self.rank_order(self.epoch)
        while self.position < len(order):
            self.position += 1
            yield order[self.position - 1]
        self.position = 0  # a finished pass; set_epoch moves on to a new order

    def rank_order(self, epoch: int) -> list[int]:
        """This rank's indices for ``epoch``, in order."""
        batches = self._global_batches(epoch)  # [num_batches, batch_size * world_size]
        if batches.numel() == 0:
            return []
        mine = batches[:, self.rank * self.batch_size : (self.rank + 1) * self.batch_size]
        return mine.reshape(-1).tolist()

    def _global_batches(self, epoch: int) -> torch.Tensor:
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        glob = self.batch_size * self.world_size
        chunks = []
        for sig in sorted(set(self.signatures)):
            idx = torch.tensor([i for i, s in enumerate(self.signatures) if s == sig], dtype=torch.long)
            if self.shuffle:
                idx = idx[torch.randperm(len(idx), generator=gen)]
            idx = idx.repeat(-(-glob // len(idx)) + 1)[: -(-len(idx) // glob) * glob]  # wrap to full batches
            chunks += self._sorted_by_length(idx, glob)
        if not chunks:
            return torch.empty(0, glob, dtype=torch.long)
        batches = torch.stack(chunks)  # [num_batches, glob]
        if self.shuffle:
            batches = batches[torch.randperm(len(batches), generator=gen)]
        return batches

    def _sorted_by_length(self, idx: torch.Tensor, glob: int) -> list[torch.Tensor]:
        out = []
        for mega in idx.split(glob * self.mega_batches):
            mega = mega[torch.argsort(self.lengths[mega], descending=True, stable=True)]
            for batch in mega.split(glob):
                dealt = batch.clone()
                dealt[self.deal[: len(batch)]] = batch
                out.append(dealt)
        return out

    def state_dict(self, consumed: int | None = None) -> dict:
        return {
            "epoch": self.epoch,
            "position": self.position if consumed is None else consumed,
            "seed": self.seed,
            "world_size": self.world_size,
            "num_samples": len(self.lengths),
            "packing": self.packing,
        }

    def load_state_dict(self, state: dict) -> None:
        if (
            state.get("num_samples", len(self.lengths)) != len(self.lengths)
            or state.get("world_size", self.world_size) != self.world_size
            or state.get("seed", self.seed) != self.seed
        ):
            raise ValueError(
                f"sampler state {state} does not match this run ({len(self.lengths)} samples, "
                f"world_size {self.world_size}, seed {self.seed}): the order would differ"
            )
        if self.world_size > 1 and bool(state.get("packing", False)) != self.packing:
            raise ValueError(
                f"sampler state was saved with data.packing={state.get('packing', False)}, this run has "
                f"{self.packing}: with {self.world_size} ranks the samples of each rank would differ"
            )
        self.epoch, self.position = int(state["epoch"]), int(state["position"])


def snake_deal(batch_size: int, world_size: int) -> torch.Tensor:
    """[batch_size * world_size]: where the j-th longest sample of a global batch goes, so that
    rank r's rows ``r*batch_size:(r+1)*batch_size`` get ranks in snake order (0..N-1, N-1..0)."""
    j = torch.arange(batch_size * world_size)
    turn, seat = j // world_size, j % world_size
    rank = torch.where(turn % 2 == 0, seat, world_size - 1 - seat)
    return rank * batch_size + turn
