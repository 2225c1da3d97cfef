"""The benchmark protocol table: one place per benchmark for how the official scripts evaluate it.

For each benchmark: the decoding budget (``max_new_tokens`` as the official inference scripts set
it), the image size, what text the official parser reads, and the prompt exactly as the official
script builds it (``Protocol.prompt``; the evaluation converters in ``data_prep/`` call it), and
the system prompt where the official script sets its own (``Protocol.system_prompt``: MMBench's
classification prompt; the converter writes it as the rows' ``system`` turn and ``evaluate run``
uses it for rows without one).

Placeholders: where the official code writes the marker triple ``<image_start><image><image_end>``
(likewise video/audio) the prompt carries our single placeholder ``<image>`` (``<video>``,
``<audio>``, ``<speech>``); ``data.prompt_style: official`` puts the start/end markers back at
render time. Everything else (spaces, newlines, labels, instruction) is the official text.
The AV scripts also wrap the question in ``<question_start>...<question_end>``; those markers are
not media placeholders and are left to the renderer as well.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ..data.official_prompt import AV_LEAD_IN, media_lead_in, question_prompt

# GeWu-Lab/MokA VisualText/eval_benchmarks/{mme/mme.py, pope/pope.py}
IMAGE_LEAD_IN = media_lead_in("image", "<image>")
YES_NO_INSTRUCTION = "Please answer this question with yes or no, and no other content. Question: "
MME_QUESTION_SUFFIX = "Please answer yes or no."  # mme.py cuts the question at this phrase
# GeWu-Lab/MokA VisualText/eval_benchmarks/{mmbench/mmbench.py, seed/seed.py}
CHOICE_INSTRUCTION = (
    "Please select the correct answer from the options above. Output only the selected option "
    "in the format (A), (B), (C), or (D). No explanation or extra text."
)
# mmbench.py line 221: the one benchmark whose official script replaces the helpful-assistant system prompt
MMBENCH_SYSTEM_PROMPT = "You are a classification assistant. You need to classify the image into the correct option."
# GeWu-Lab/MokA AudioVisualText/dataset/unified_dataset.py (test datasets, lines 283-333): AV_LEAD_IN
AVE_QUESTION = "Please describe the events and time range that occurred in the video."
# OFA-Sys/AIR-Bench Inference_Foundation.py ("Construct prompt")
AIRBENCH_INSTRUCTION = (
    "Choose the most suitable answer from options A, B, C, and D to respond the question in "
    "next line, you may only choose A or B or C or D."
)
SPEECH_LEAD_IN = media_lead_in("speech", "<speech>")  # ours: the speech recipes have no official MokA script
ASR_INSTRUCTION = "Recognize the speech and give me the transcription."  # SALMONN's ASR instruction


def mme_question(line_question: str) -> str:
    """mme.py: ``qa.split('Please answer yes or no.')[0].strip()`` (the phrase is MME's own)."""
    if MME_QUESTION_SUFFIX not in line_question:
        raise ValueError(f"MME question {line_question!r} lacks {MME_QUESTION_SUFFIX!r} (mme.py splits on it)")
    return line_question.split(MME_QUESTION_SUFFIX)[0].strip()


def mme_prompt(question: str) -> str:
    """mme.py line 114; ``question`` is already cut by :func:`mme_question`."""
    return IMAGE_LEAD_IN + YES_NO_INSTRUCTION + question


def pope_prompt(question: str) -> str:
    """pope.py line 163."""
    return IMAGE_LEAD_IN + YES_NO_INSTRUCTION + question


def mmbench_prompt(question: str, options: Mapping[str, str], hint: str | None) -> str:
    """mmbench.py lines 127-139: note the leading "\\n " and the empty line before the instruction."""
    text = ("Hint: " + hint + "\n" if hint is not None else "") + "Question: " + question + "\nOptions:"
    text += "".join(f"\n({key}) {value}" for key, value in options.items())
    return "\n This is an image:\n<image>\n" + text + "\n" + "\n" + CHOICE_INSTRUCTION


def seed_prompt(question: str, choices: Sequence[str]) -> str:
    """seed.py lines 121-131: ". Question:" right after the image, four options always."""
    text = "This is an image:\n<image>. Question: " + question + "\nOptions:"
    text += "".join(f"\n({letter}) {choice}" for letter, choice in zip("ABCD", choices, strict=True))
    return text + "\n" + CHOICE_INSTRUCTION


def music_avqa_prompt(question: str) -> str:
    """unified_dataset.py line 295 (the training instruction, line 73, is the same)."""
    return question_prompt(AV_LEAD_IN, question)


def ave_prompt() -> str:
    """unified_dataset.py line 327 (training: line 106, the same)."""
    return AV_LEAD_IN + AVE_QUESTION


def airbench_prompt(question: str, choice_a: str, choice_b: str, choice_c: str | None, choice_d: str | None) -> str:
    """AIR-Bench's published form (no MokA script): instruction, question, ``A. ...`` lines; a
    two-option item prints ``C. None`` / ``D. None`` there too, as Inference_Foundation.py does."""
    choices = f"A. {choice_a}\nB. {choice_b}\nC. {choice_c}\nD. {choice_d}"
    return SPEECH_LEAD_IN + AIRBENCH_INSTRUCTION + "\n" + question + "\n" + choices


def mmau_prompt(question: str, choices: Sequence[str]) -> str:
    """MMAU (Sakshi113/MMAU) publishes no prompt, only a string-match scorer over the option texts;
    this is our form: the question, the options as ``(A) ...`` lines, the format instruction."""
    options = "\n".join(f"({'ABCDEFGH'[k]}) {text}" for k, text in enumerate(choices))
    return (
        question_prompt(SPEECH_LEAD_IN, question) + "\n" + options + "\n"
        "Output only the selected option in the format (A), (B), (C), or (D)."
    )


def asr_prompt() -> str:
    return SPEECH_LEAD_IN + ASR_INSTRUCTION


@dataclass(frozen=True)
class Protocol:
    name: str
    max_new_tokens: int  # as the official inference script sets it
    image_size: int | None = None  # None: not an image benchmark
    parser_reads: str = "clean"  # "raw": the decoded text with special tokens, as the official parser sees it
    prompt: Callable[..., str] | None = None  # the official prompt builder (see the functions above)
    system_prompt: str | None = None  # the official script's own system prompt; None: data.system_prompt


# budgets from GeWu-Lab/MokA: AudioVisualText/scripts/finetune/inference_cut.py (500),
# VisualText/eval_benchmarks/{mme,pope}/*.py (50), mmbench/mmbench.py (5), seed/seed.py (500)
PROTOCOLS: dict[str, Protocol] = {
    p.name: p
    for p in (
        Protocol("music_avqa", 500, prompt=music_avqa_prompt),
        Protocol("ave", 500, prompt=ave_prompt),
        Protocol("mme", 50, image_size=224, prompt=mme_prompt),
        Protocol(
            "mmbench", 5, image_size=224, parser_reads="raw", prompt=mmbench_prompt, system_prompt=MMBENCH_SYSTEM_PROMPT
        ),
        Protocol("pope", 50, image_size=224, prompt=pope_prompt),
        Protocol("seed", 500, image_size=224, parser_reads="raw", prompt=seed_prompt),
        Protocol("mmau_speech", 64, prompt=mmau_prompt),
        Protocol("airbench_speech", 64, prompt=airbench_prompt),
        Protocol("asr_wer", 128, prompt=asr_prompt),
        # the demo's data (moka_train.testing.synthetic): rows carry their prompts, answers are 1-2 words
        Protocol("synthetic_avqa", 32),
    )
}


def get_protocol(name: str) -> Protocol:
    if name not in PROTOCOLS:
        raise ValueError(f"unknown benchmark {name!r}; choose from {', '.join(PROTOCOLS)}")
    return PROTOCOLS[name]
