"""``moka-train show-sample``: one rendered sample, token by token, coloured by what it is.

Green = trained (label set), bold yellow = query text (the keys of MokA's cross-attention),
magenta = a media block (shown once with its length), dim = everything else (glue, system
prompt, untrained user text). :func:`sample_view` returns the rich renderable; the CLI prints it.
"""

from __future__ import annotations

from rich.console import Group
from rich.text import Text

from ..modality import QUERY, TEXT
from .dataset import build_dataset
from .specs import modality_specs
from .tokenize import IGNORE_INDEX, add_placeholder_tokens
from .tokenizer import load_tokenizer


def sample_view(cfg, index: int, split: str = "train") -> Group:
    """Sample ``index`` of ``split`` as rendered for training (or prompting): its header, the
    coloured tokens, the token counts per kind and the legend."""
    tokenizer = load_tokenizer(cfg.model, cfg.data.prompt_style)
    specs = modality_specs(cfg.model)
    add_placeholder_tokens(tokenizer, specs, cfg.data.prompt_style)
    dataset = build_dataset(cfg.data, tokenizer, specs, split=split, generation=split != "train")
    if not 0 <= index < len(dataset):
        raise IndexError(f"index {index} outside the {len(dataset)} usable {split} samples")
    sample = dataset.samples[index]
    rendered = dataset.renderer.render(dataset._prompt(sample), dataset.generation)
    names = {s.id: s.name for s in specs}
    modality_ids = rendered.modality_ids.tolist()
    trained = sum(1 for x in rendered.labels.tolist() if x != IGNORE_INDEX)
    return Group(
        # plain strings: rendered with markup and highlighting, as console.print renders them
        f"[bold]sample {sample.id}[/] ({sample.source}), {len(rendered)} tokens, template "
        f"{cfg.data.template}, media {sample.media}",
        colour_tokens(tokenizer, rendered.input_ids.tolist(), rendered.labels.tolist(), modality_ids, names),
        f"trained tokens {trained}, query tokens {modality_ids.count(QUERY)}, "
        + ", ".join(f"{n} tokens {modality_ids.count(i)}" for i, n in names.items()),
        Text("legend: ")
        + Text("trained ", "green")
        + Text("query ", "bold yellow")
        + Text("media ", "magenta")
        + Text("other", "dim"),
    )


def colour_tokens(tokenizer, ids: list[int], labels: list[int], mids: list[int], names: dict[int, str]) -> Text:
    """A rich Text of the tokens; a run of media ids prints once as ``[video x320]``. Each text
    token shows what it adds to the decoded text in context, so its spaces stay visible (decoded
    alone, a SentencePiece "▁You" loses its space)."""

    def same_run(a: int, b: int) -> bool:  # text and query tokens decode together; a media block alone
        return a in (TEXT, QUERY) and b in (TEXT, QUERY) or a == b

    out = Text()
    k = 0
    while k < len(ids):
        end = k
        while end < len(ids) and same_run(mids[k], mids[end]):
            end += 1
        if mids[k] not in (TEXT, QUERY):
            out.append(f"[{names.get(mids[k], mids[k])} x{end - k}]", "magenta")
        else:
            for j, piece in zip(range(k, end), pieces_in_context(tokenizer, ids[k:end])):
                style = "green" if labels[j] != IGNORE_INDEX else "bold yellow" if mids[j] == QUERY else "dim"
                out.append(piece.replace("\n", "\\n\n"), style)
                out.append("|", "grey30")  # token boundary
        k = end
    return out


def pieces_in_context(tokenizer, ids: list[int]) -> list[str]:
    """The text each token adds when the run is decoded up to it."""
    pieces, before = [], ""
    for j in range(len(ids)):
        text = tokenizer.decode(ids[: j + 1])
        pieces.append(text[len(before) :] if text.startswith(before) else tokenizer.decode(ids[j : j + 1]))
        before = text
    return pieces
