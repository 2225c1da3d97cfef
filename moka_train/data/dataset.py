"""A torch Dataset over samples: rendered token tensors plus raw media per modality.

The dataset takes samples (in memory: a server request, ``infer --question``), or the entries of
a JSONL file read by :func:`read_entries` (:meth:`MultimodalDataset.from_file`).

Construction reads and renders every sample once (cheap, text only) so that bad conversations
and over-length samples are known and counted before training starts, and so the sampler gets
every length. Media are decoded in ``__getitem__`` (inside the worker process); a sample whose
media cannot be read follows ``data.bad_sample_policy``:

* ``skip``: counted in the :class:`DataReport` (by reason, naming the file) and replaced by the
  next readable sample, so batches keep their size on every rank; the entries ride along in
  the item (``bad_samples``) so the main process learns about failures inside workers.
* ``fail``: raises, naming the file and the sample id.

Generation (``generation=True``, evaluation) never substitutes: an answer must belong to its own
sample. A sample whose media cannot be read comes back as an error item (``id``, ``meta``,
``error``: reason, file, detail) for the caller to write as an error row, and the samples that
cannot be prompted at all (``rejected``: no question, over-length, ...) are kept with their
reason, so that every input id is accounted for.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from torch.utils.data import Dataset

from ..config.sections.data import DataConfig
from ..modality import ModalitySpec
from ..utils.jsonl import LineProblem
from ..utils.logging import get_logger
from ..utils.media_sampling import SamplingPlan, covered_samples
from .accepts import accepted_keys, read_accepted
from .feature_cache import FeatureCache
from .media import MediaBytes, MediaError, MediaLimits, load_media
from .records import DEFAULT_MEDIA_KEYS, Sample, conversation_problem, for_generation, read_records, split_turns
from .report import DataReport
from .tokenize import QueryRules, Renderer, RenderError

log = get_logger(__name__)
MAX_SUBSTITUTIONS = 16  # consecutive unreadable samples before giving up (the data is broken)


class BadSampleError(RuntimeError):
    """A bad sample under ``bad_sample_policy: fail`` (the message names file and sample id)."""


Entry = tuple[Sample, LineProblem | None]  # a sample, or a stand-in for a line left undecoded and why


def read_entries(file: str | Path, cfg: DataConfig, modalities: Sequence[ModalitySpec]) -> list[Entry]:
    """Every line of a JSONL file: its sample (the modalities' media keys read), or a stand-in
    with the problem that kept it undecoded (over ``data.max_line_bytes``, not UTF-8)."""
    accepted = accepted_keys(list(modalities))
    keys = tuple(dict.fromkeys(DEFAULT_MEDIA_KEYS + tuple(m.name for m in modalities) + tuple(accepted)))
    return [(s, problem) for s, problem in read_records(file, keys, cfg.max_line_bytes)]


class MultimodalDataset(Dataset):
    """``entries``: samples, or (sample, line problem) pairs as :func:`read_entries` gives them."""

    def __init__(
        self,
        entries: Sequence[Sample | Entry],
        cfg: DataConfig,
        tokenizer,
        modalities: list[ModalitySpec],
        split: str = "train",
        generation: bool = False,
        cache: FeatureCache | None = None,
    ):
        self.cfg, self.modalities, self.generation, self.cache = cfg, list(modalities), generation, cache
        unknown = [m.name for m in modalities if m.name not in cfg.media_kinds]
        if unknown:
            raise ValueError(f"modalities {unknown} have no entry in data.media_kinds {dict(cfg.media_kinds)}")
        _check_video_frames(cfg, modalities)
        self.renderer = Renderer(
            tokenizer,
            cfg.template,
            self.modalities,
            cfg.max_length,
            cfg.system_prompt,
            QueryRules(tuple(cfg.query_markers), cfg.media_lead_in, cfg.query_span),
            cfg.prompt_style,
            cfg.template_kwargs,
        )
        accepted = accepted_keys(self.modalities)
        pairs = [(e, None) if isinstance(e, Sample) else e for e in entries]
        entries = [(read_accepted(s, accepted) if problem is None else s, problem) for s, problem in pairs]
        if cfg.multi_turn == "split" and not generation:
            entries = [(part, p) for s, p in entries for part in (split_turns(s) if p is None else [s])]
        samples = [s for s, _ in entries]
        self.report = DataReport(split, total=len(samples))
        self.read_order = [s.id for s in samples]  # every sample read, in file order
        self.rejected: list[tuple[Sample, str, str]] = []  # generation: (sample, reason, detail) not prompted
        self.samples: list[Sample] = []
        self.lengths: list[int] = []
        for sample, problem in entries:
            if problem is None:
                self._prescan(sample)
            elif problem.reason == "line_too_long" and cfg.overlength == "fail":
                raise BadSampleError(problem.detail)
            else:  # an over-long line follows the over-length rule (dropped), bad UTF-8 the policy
                policy = "skip" if problem.reason == "line_too_long" else None
                self._drop(problem.reason, sample, problem.detail, policy)
        if cfg.bad_sample_policy == "skip":
            self.report.check(cfg.max_bad_fraction)
        if self.report.num_bad:
            log.warning(
                "%s: skipped %d of %d samples: %s", split, self.report.num_bad, len(samples), self.report.counts
            )

    @classmethod
    def from_file(cls, file: str | Path, cfg: DataConfig, tokenizer, modalities: list[ModalitySpec], **options):
        """The dataset of a JSONL file; ``options``: ``split``, ``generation``, ``cache``."""
        return cls(read_entries(file, cfg, modalities), cfg, tokenizer, modalities, **options)

    @property
    def signatures(self) -> list[str]:
        return [s.signature for s in self.samples]

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict:
        if self.generation:
            return self._generation_item(self.samples[index])
        bad: list[dict] = []
        for step in range(min(MAX_SUBSTITUTIONS, len(self.samples))):
            sample = self.samples[(index + step) % len(self.samples)]
            try:
                item = self._load(sample)
            except MediaError as err:
                self._bad("unreadable_media", sample, str(err), file=err.path)
                bad.append(
                    {
                        "reason": "unreadable_media",
                        "id": sample.id,
                        "source": sample.source,
                        "file": err.path,
                        "detail": str(err),
                    }
                )
                continue
            item["bad_samples"] = bad + item.pop("notes")  # notes: used, but altered (e.g. audio cut)
            return item
        raise BadSampleError(
            f"{len(bad)} consecutive samples from index {index} have unreadable media: {[b['file'] for b in bad]}"
        )

    # --- internals -----------------------------------------------------------------------------

    def _prompt(self, sample: Sample) -> Sample:
        return for_generation(sample) if self.generation else sample

    def _sources(self, sample: Sample) -> dict[str, Path | MediaBytes]:
        """Where each medium is read from: a sample built in memory carries its own sources;
        a file's sample names paths under ``data.root`` (absolute or escaping paths refused)."""
        given = getattr(sample, "sources", None)
        return given if given is not None else sample.media_paths(self.cfg.root)

    def _prescan(self, sample: Sample) -> None:
        self._sources(sample)  # an escaping path is an error under every policy
        problem = conversation_problem(sample, self.generation)
        if problem:
            self._drop(problem, sample, f"sample {sample.id} ({sample.source}): {problem.replace('_', ' ')}")
            return
        try:
            rendered = self.renderer.render(self._prompt(sample), self.generation)
        except RenderError as err:
            if err.reason == "overlength" and self.cfg.overlength == "fail":
                raise BadSampleError(str(err)) from None
            self._drop(err.reason, sample, str(err), policy="skip" if err.reason == "overlength" else None)
            return
        self.samples.append(sample)
        self.lengths.append(len(rendered))

    def _drop(self, reason: str, sample: Sample, detail: str, policy: str | None = None) -> None:
        self._bad(reason, sample, detail, policy=policy)
        if self.generation:
            self.rejected.append((sample, reason, detail))

    def _generation_item(self, sample: Sample) -> dict:
        meta = {**sample.media, **sample.meta}  # predictions name their media (MME pairs questions by image)
        try:
            item = self._load(sample)
        except MediaError as err:
            self._bad("unreadable_media", sample, str(err), file=err.path)
            entry = {
                "reason": "unreadable_media",
                "id": sample.id,
                "source": sample.source,
                "file": err.path,
                "detail": str(err),
            }
            return {"id": sample.id, "meta": meta, "error": entry, "bad_samples": [entry]}
        item["bad_samples"] = item.pop("notes", [])
        return {**item, "meta": meta}

    def _bad(
        self, reason: str, sample: Sample, detail: str, file: str | None = None, policy: str | None = None
    ) -> None:
        if (policy or self.cfg.bad_sample_policy) == "fail":
            raise BadSampleError(f"{reason}: {detail}")
        self.report.add(reason, sample.id, sample.source, file, detail)

    def _load(self, sample: Sample) -> dict:
        rendered = self.renderer.render(self._prompt(sample), self.generation)
        paths = self._sources(sample)
        media, features, notes = {}, {}, []
        plans = {m.name: m.sampling for m in self.modalities}
        for name in rendered.media:
            on_disk = isinstance(paths[name], Path) and paths[name].is_file()
            cached = self.cache.load(name, paths[name]) if self.cache is not None and on_disk else None
            if cached is not None:  # encoder features: no decoding, no encoder pass
                features[name] = cached
            else:
                media[name] = load_media(
                    self.cfg.media_kinds[sample.media_keys.get(name, name)],  # an accepted image stays an image
                    paths[name],
                    sample.id,
                    frames=self.cfg.video_frames,
                    size=self.cfg.image_size,
                    max_seconds=self.cfg.audio_max_seconds,
                    plan=plans[name],
                    limits=MediaLimits.from_data(self.cfg),
                )
                notes += self._truncation_notes(sample, name, paths[name], media[name], plans[name])
        return {
            "id": sample.id,
            "input_ids": rendered.input_ids,
            "labels": rendered.labels,
            "modality_ids": rendered.modality_ids,
            "media": media,
            "features": features,
            "meta": sample.meta,
            "notes": notes,
        }

    def _truncation_notes(
        self, sample: Sample, name: str, path: Path | MediaBytes, media, plan: SamplingPlan | None
    ) -> list:
        """Audio longer than consecutive real-time windows reach is cut: counted, never silent
        (e.g. speech beyond whisper's 30 s window)."""
        if plan is None or plan.kind != "audio" or plan.placement != "consecutive" or plan.time_unit != "real":
            return []
        covered = covered_samples(media.shape[0], plan)
        if media.shape[0] <= covered:
            return []
        detail = (
            f"{path}: {name} is {media.shape[0] / plan.sample_rate:.2f} s; only the first "
            f"{covered / plan.sample_rate:.2f} s ({plan.count} x {plan.window_seconds:g} s windows) is encoded"
        )
        self.report.note("audio_truncated", sample.id, detail)
        return [{"reason": "audio_truncated", "id": sample.id, "detail": detail, "note": True}]


def _check_video_frames(cfg: DataConfig, modalities: list[ModalitySpec]) -> None:
    """data.video_frames set beside a modality that carries its own frame count: they must agree."""
    if "video_frames" not in cfg.model_fields_set:
        return
    for m in modalities:
        is_video = cfg.media_kinds.get(m.name) == "video"
        if m.sampling is not None and is_video and m.sampling.count != cfg.video_frames:
            raise ValueError(
                f"data.video_frames={cfg.video_frames} but model.modalities[{m.name}].frames="
                f"{m.sampling.count}: the model's frame count is the one used; drop data.video_frames"
            )


def build_dataset(cfg: DataConfig, tokenizer, modalities: list[ModalitySpec], split: str = "train", **options):
    """The dataset of ``data.train_file`` (split ``train``) or ``data.eval_file`` (``eval``);
    ``options`` are the dataset's own keywords (``generation``, ``cache``)."""
    file = cfg.train_file if split == "train" else cfg.eval_file
    if file is None:
        raise ValueError(f"data.{'train' if split == 'train' else 'eval'}_file is not set")
    return MultimodalDataset.from_file(file, cfg, tokenizer, modalities, split=split, **options)
