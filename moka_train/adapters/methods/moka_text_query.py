"""MokA "Cross-attention*" (paper Table 4): text tokens query the non-text tokens."""

from __future__ import annotations

from torch import Tensor

from ...modality import FIRST_MEDIA, PAD
from ..functional import gather_rows, inverse_temperature, masked_softmax_mix, scatter_add_rows
from ..registry import register
from ..routing import Routing, packed_positions
from .moka import MokaLinear


@register("moka_text_query")
class MokaTextQueryLinear(MokaLinear):
    """The reversed direction: for every text token t (ids 0 and 1: prompt, question, answer and
    generated tokens), a'_t = a_t + λ Σ_{j∈V_b, pos(j)<pos(t)} softmax_j(a_t·a_j / τ) a_j over
    the sample's non-text tokens V_b; non-text tokens keep a'_t = a_t (no MokA attention).

    Causality, chosen here: a text token attends only media at *earlier* positions, like the
    LLM itself. Text before the media (system prompt) is unchanged, answer tokens look back at
    the media, and media never see text, so no answer token is ever a key (no label leak).
    τ is MokA's (``num_query``: √|V_b|, the number of keys).

    Decoding (routing None): the generated tokens are text after every media token, so they
    attend all of the prompt's media. The media's rank-space vectors (keys = values) of the last
    prefill / training forward are kept in the routing slot (``keep_for_decode``: dropped by the
    next ``slot.set()``, the layer holds none); the KV cache of the LLM stays valid.
    Merge (text path s·B·A_text) is exact only for inputs without media.
    """

    foldable = False

    def delta(self, x: Tensor, routing: Routing | None) -> Tensor:
        a = self.down(x, routing)  # [B, T, r]
        if routing is None:
            return self.attend_cached(a) @ self.lora_B.t()
        media = gather_rows(a, routing.nontext_pos)  # [B, N, r]
        self.slot.keep_for_decode(self, media, routing.nontext_valid)  # [B, N, r] keys, [B, N] valid
        is_text = (routing.modality_ids > PAD) & (routing.modality_ids < FIRST_MEDIA)  # text and query text
        text_pos, text_valid = packed_positions(is_text)  # [B, L] left-packed
        if media.shape[1] == 0 or text_pos.shape[1] == 0:
            return a @ self.lora_B.t()
        queries = gather_rows(a, text_pos)  # [B, L, r]
        earlier = routing.nontext_pos[:, None, :] < text_pos[:, :, None]  # [B, L, N]
        # the sample's own media only (packed rows hold several samples)
        own = routing.same_sample(text_pos, routing.nontext_pos, routing.nontext_valid)  # [B, L, N]
        allowed = earlier & own
        key_valid = own if routing.packed else routing.nontext_valid  # num_query: √|V_b| of the own sample
        mixed = self.attend(queries, media, allowed, key_valid)  # [B, L, r]
        a = scatter_add_rows(a, text_pos, text_valid, self.spec.xattn_weight * mixed)
        return a @ self.lora_B.t()

    def attend(self, queries: Tensor, media: Tensor, allowed: Tensor, media_valid: Tensor) -> Tensor:
        inv_tau = inverse_temperature(self.spec.temperature, self.spec.rank, self.scale, media_valid)
        logits = (queries.float() @ media.float().transpose(1, 2)) * inv_tau  # [B, L, N]
        return masked_softmax_mix(logits, media, allowed)

    def attend_cached(self, a: Tensor) -> Tensor:
        """Decode step: every new (text) token attends all of its row's media kept at prefill."""
        media, valid = self.slot.decode_state(self, a.shape[0])  # [B, N, r], [B, N]
        if media.shape[1] == 0:
            return a
        allowed = valid[:, None, :].expand(-1, a.shape[1], -1)  # [B, T, N]
        return a + self.spec.xattn_weight * self.attend(a, media.to(a.dtype), allowed, valid)
