"""`data:` — where samples come from and how they are rendered into token ids."""

from typing import Literal

from pydantic import Field

from .base import Section

# a whole user line (or the text beside a placeholder) matching this is a media lead-in such as
# the official "This is a video:", not query text (see moka_train/data/tokenize.py)
DEFAULT_LEAD_IN = r"This is an? [\w -]+:"
MediaKind = Literal["image", "video", "audio"]


class DataConfig(Section):
    root: str  # media paths in the JSONL resolve inside this directory only
    train_file: str | None = None  # JSONL, one sample per line (DESIGN §5)
    eval_file: str | None = None
    # "chat": the tokenizer's own chat template (exact for any HF chat model); llama2 / llama3 /
    # qwen2: ours, for tokenizers that ship none; plain: stage-1 captioning (media, caption, EOS)
    template: Literal["chat", "llama2", "llama3", "qwen2", "plain"] = "chat"
    template_kwargs: dict[str, bool | str | int] = {}  # passed to the chat template (e.g. enable_thinking: false)
    # placeholders: <video> in the text; official: the MokA marker form <video_start><video><video_end>,
    # <question_start>...<question_end> (markers added to the vocabulary; question markers not in the sequence)
    prompt_style: Literal["placeholders", "official"] = "placeholders"
    system_prompt: str | None = "You are a helpful assistant."
    max_length: int = Field(2048, gt=0)
    multi_turn: Literal["joint", "split"] = "joint"
    overlength: Literal["drop", "fail"] = "drop"
    bad_sample_policy: Literal["skip", "fail"] = "skip"
    max_bad_fraction: float = Field(0.05, ge=0.0, le=1.0)
    num_workers: int = Field(0, ge=0)  # loader processes: media are decoded in them
    # training: the samples of a micro-batch share rows of up to max_length tokens (position ids
    # restart per sample, attention and MokA's cross-attention stay inside each sample)
    packing: bool = False
    # how packed rows are laid out: "compute" counts attention over each whole row (sdpa / eager
    # apply the block-diagonal mask to a dense score matrix, so long rows cost more per token on
    # a narrow model); "tokens" counts tokens only (fewest pad tokens)
    packing_cost: Literal["compute", "tokens"] = "compute"
    # frames per video for datasets built without a model config; a run takes them from
    # model.modalities[].frames (setting both to different values is an error)
    video_frames: int = Field(10, gt=0)
    image_size: int = Field(224, gt=0)
    audio_max_seconds: float | None = Field(None, gt=0)  # crop decoded audio first (None: keep all)
    media_max_bytes: int | None = Field(512 * 1024**2, gt=0)  # a larger media file is a bad sample (HTTP 413 in serve)
    media_max_seconds: float | None = Field(3600.0, gt=0)  # longer audio (by its header) is refused undecoded
    max_line_bytes: int = Field(1024**2, gt=0)  # a longer JSONL line is dropped as overlength before it is parsed
    # query span: text between these markers, else the user lines minus lead-ins and placeholders
    query_markers: tuple[str, str] = ("<query>", "</query>")
    media_lead_in: str = DEFAULT_LEAD_IN
    # question: the user lines minus lead-ins and placeholders (official audio-visual <question_start> span);
    # after_media: every untrained, non-media token after the last media token (official visual-text question_mask)
    query_span: Literal["question", "after_media"] = "question"  # which tokens are MokA's cross-attention keys
    # how each modality name's file is decoded; names not listed here cannot be loaded
    media_kinds: dict[str, MediaKind] = {"image": "image", "video": "video", "audio": "audio", "speech": "audio"}
    seed: int = 0  # sampler shuffling (combined with the epoch)
    group_by_modality: bool = True  # batches hold one modality signature each
    # directory of frozen-encoder features (data_prep/cache_features.py); None = always decode
    feature_cache: str | None = None
