"""A tiny but real byte-level BPE tokenizer, trained locally, in the special-token style of a chat
family, saved with ``save_pretrained`` so tests load it through ``AutoTokenizer.from_pretrained``.

No hub access, no fakes: the data pipeline is exercised against the same tokenizer classes it
meets in production, only with a ~700-token vocabulary trained in well under a second.
"""

from __future__ import annotations

from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from ..data.templates import BUILTIN

STYLES = ("llama3", "llama2", "qwen2")

# style -> (special tokens in id order, bos, eos, pad)
_SPECIALS: dict[str, tuple[list[str], str | None, str, str]] = {
    "llama3": (
        [
            "<|begin_of_text|>",
            "<|end_of_text|>",
            "<|start_header_id|>",
            "<|end_header_id|>",
            "<|eot_id|>",
            "<|finetune_right_pad_id|>",
        ],
        "<|begin_of_text|>",
        "<|eot_id|>",
        "<|finetune_right_pad_id|>",
    ),
    # llama-2-chat's [INST] / <<SYS>> markers are ordinary text in the real tokenizer too
    "llama2": (["<unk>", "<s>", "</s>"], "<s>", "</s>", "</s>"),
    "qwen2": (["<|endoftext|>", "<|im_start|>", "<|im_end|>"], None, "<|im_end|>", "<|endoftext|>"),
}

_CORPUS = """
You are a helpful assistant. Please answer this question about the video and the audio.
This is a video. This is an audio. This is an image. This is a speech recording.
What colour is the moving shape? The shape is red. The shape is green. The shape is blue.
Is the tone high or low? The tone is high. The tone is low. Which instrument sounds first?
How many instruments are playing? There are two instruments. The piano plays before the violin.
Describe the events and the time range that occurred in the video. A dog barks from 2 to 5 seconds.
The quick brown fox jumps over the lazy dog. A man is speaking in a quiet room.
Transcribe the speech into text. Where is the cat sitting? The cat sits on the left of the table.
Yes, there is a person in the picture. No, the car is not yellow. The answer is yes.
Question: what is happening? Answer: a woman plays the guitar while a child sings.
[INST] <<SYS>> <</SYS>> [/INST] system user assistant
<answer>yes</answer> <answer>no</answer> <event>Church bell</event> <range>0,10</range>
one two three four five six seven eight nine ten left right middle top bottom square circle
"""


def make_tiny_tokenizer(directory: str | Path, style: str = "llama3", vocab_size: int = 700) -> PreTrainedTokenizerFast:
    """Train, wrap and save a tiny tokenizer of ``style``; returns the wrapped tokenizer."""
    if style not in STYLES:
        raise ValueError(f"unknown tokenizer style {style!r}; choose one of {STYLES}")
    specials, bos, eos, pad = _SPECIALS[style]
    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    core.train_from_iterator(_CORPUS.strip().splitlines() * 4, trainer=trainer)
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token=bos,
        eos_token=eos,
        pad_token=pad,
        unk_token="<unk>" if style == "llama2" else None,
    )
    wrapped.chat_template = BUILTIN[style]  # as the family's models ship one (data.template: chat)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    wrapped.save_pretrained(str(directory))
    return wrapped
