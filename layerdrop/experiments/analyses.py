"""`layerdrop analyze`: CKA, probes and drift on a task's examples, each appended as one record.

Each model's representations are extracted once per command (batched, `inference_mode`) and shared
by everything the command computes. A record holds the config, every model with its provenance
(`config.layerdrop`), the data, the numbers and the versions; rerunning the same config skips it
unless `force`.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from layerdrop import progress
from layerdrop.errors import UsageError, unknown_name
from layerdrop.experiments import records
from layerdrop.experiments.config import config_dict, config_hash
from layerdrop.experiments.resources import DataSource, Resources

ANALYSES = ("cka", "probe", "drift")
DEFAULT_RESULTS = "results/analyses.jsonl"


@dataclass(frozen=True)
class AnalysisConfig:
    """One analysis. Field names are `layerdrop analyze` flags.

    Attributes:
        analysis: cka, probe or drift.
        model: the reference model (alias, hub id or folder); `against`: the models compared with it
            (CKA: default the model itself).
        task / split / n_examples / seed: the examples (a seeded sample of the split).
        representation: cls (summary token), mean (over real tokens) or tokens (every real token).
        debiased: CKA with the unbiased HSIC estimator (Nguyen et al. 2021).
        probe_task: task (the task's labels), sentlen, wordcontent or bshift; probe_words: how many
            target words wordcontent uses; test_share: the probes' held-out share.
        cka_batch: rows per HSIC minibatch.
    """

    analysis: str
    model: str
    task: str
    against: tuple[str, ...] = ()
    split: str = "validation"
    n_examples: int = 2000
    seed: int = 0
    representation: str = "cls"
    debiased: bool = False
    probe_task: str = "task"
    probe_words: int = 1000
    test_share: float = 0.2
    cka_batch: int = 256
    data_dir: str | None = None
    train_file: str | None = None
    validation_file: str | None = None
    text_columns: tuple[str, ...] = ()
    label_column: str = "label"
    max_seq_length: int = 128
    batch_size: int = 64
    device: str = "auto"
    trust_remote_code: bool = False

    @property
    def analysis_id(self) -> str:
        return config_hash(self)

    regression: bool | None = None  # a custom task's label type, as `DataSource.of` reads it from a run

    def data_source(self) -> DataSource:
        return DataSource.of(self)

    def validate(self) -> None:
        from layerdrop.analysis.probing import PROBE_TASKS
        from layerdrop.analysis.representations import REPRESENTATIONS

        if self.analysis not in ANALYSES:
            raise unknown_name("analysis", self.analysis, ANALYSES, "")
        if self.representation not in REPRESENTATIONS:
            raise unknown_name("representation", self.representation, REPRESENTATIONS, "")
        if self.analysis == "probe" and self.probe_task not in PROBE_TASKS:
            raise unknown_name("probe task", self.probe_task, PROBE_TASKS, "")
        if self.analysis == "probe" and self.representation == "tokens":
            raise UsageError("a probe classifies whole sentences: --representation tokens has no label per row",
                             "use --representation cls or mean")
        if self.analysis == "drift" and not self.against:
            raise UsageError("drift compares two models", "pass the fine-tuned model with --against")
        if self.analysis == "drift" and self.representation == "tokens":
            raise UsageError("drift compares one summary vector per example", "use --representation cls or mean")
        for flag, value in {"--batch-size": self.batch_size, "--max-seq-length": self.max_seq_length,
                            "--probe-words": self.probe_words}.items():
            if value < 1:
                raise UsageError(f"{flag} {value} must be at least 1", f"pass a positive {flag}")
        if self.device not in ("auto", "cpu", "cuda", "mps") and not self.device.startswith("cuda:"):
            raise UsageError(f"unknown --device '{self.device}'", "choose auto, cpu, cuda, cuda:N or mps")
        needed = {"cka": 4 if self.debiased else 2, "drift": 1, "probe": 10}[self.analysis]
        if self.n_examples < needed:
            what = "debiased CKA" if self.analysis == "cka" and self.debiased else self.analysis
            raise UsageError(f"--n-examples {self.n_examples} is fewer than {what} needs ({needed})",
                             f"pass --n-examples {needed} or more")
        if self.cka_batch < (4 if self.debiased else 2):
            raise UsageError(f"--cka-batch {self.cka_batch} is too small for the estimator", "pass 64 or more")
        if not 0 < self.test_share < 1:
            raise UsageError(f"--test-share {self.test_share} is outside (0, 1)", "pass e.g. 0.2")


@dataclass(frozen=True)
class AnalysisModelKey:
    """A model loaded for analysis, by the name it was asked for (cache key)."""

    name: str


@dataclass(frozen=True)
class RepresentationKey:
    """One model's representations of one list of texts (cache key)."""

    location: str
    representation: str
    texts: tuple[tuple[str, ...], ...]
    max_seq_length: int


@dataclass
class Loaded:
    """A model ready for analysis, with what the record says about it."""

    name: str
    source: Any
    model: Any
    tokenizer: Any
    described: dict[str, Any]


def _device(requested: str) -> str:
    """`--device`, checked: auto picks CUDA, then MPS, then the CPU, as `layerdrop run` does."""
    import torch

    mps = torch.backends.mps.is_available()
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "mps" if mps else "cpu"
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError(f"--device {requested}: no CUDA device is visible", "use --device cpu (or auto)")
    if requested == "mps" and not mps:
        raise UsageError("--device mps: no MPS device is available", "use --device cpu (or auto)")
    return requested


def load(name: str, cfg: AnalysisConfig, cache: Resources, device: str) -> Loaded:
    """A model by name, loaded with the class it was saved as (sublayer edits included)."""
    from layerdrop.models import loading as models
    from layerdrop.models.architectures import family_of

    def make():
        source = models.resolve(name)
        config = cache.model_config(source, cfg.trust_remote_code)
        family_of(config)
        tokenizer = cache.tokenizer(source, cfg.trust_remote_code)
        progress.log(f"loading {source.name} ({source.location})")
        model = models.load_original(source, config, cfg.trust_remote_code).to(device).eval()
        described = {"name": source.name, "location": source.location, "family": config.model_type,
                     "layerdrop": getattr(config, "layerdrop", None)}
        return Loaded(source.name, source, model, tokenizer, described)

    return cache.get(AnalysisModelKey(name), make)


def split_name(task, split: str) -> str:
    """The split actually read: "validation" is the task's dev set (MNLI: validation_matched)."""
    return task.eval_splits[0] if split == "validation" else split


def examples(cfg: AnalysisConfig, cache: Resources) -> tuple[Any, list[tuple[str, ...]], list, str]:
    """(task, texts, labels, where) of a seeded sample of `cfg.split`, ordered by length (less padding)."""
    task, raw = cache.raw(cfg.data_source())
    split = split_name(task, cfg.split)
    if split not in raw:
        raise UsageError(f"--split {cfg.split} is not a split of task {task.name}", f"choose train or {task.eval_splits[0]}")
    data = raw[split]
    rows = sorted(random.Random(cfg.seed).sample(range(len(data)), min(cfg.n_examples, len(data))))
    texts = [tuple(column[i] for column in data.texts) for i in rows]
    labels = [data.labels[i] for i in rows]
    order = sorted(range(len(rows)), key=lambda i: sum(len(t) for t in texts[i]))
    return task, [texts[i] for i in order], [labels[i] for i in order], data.source


def representations(loaded: Loaded, texts: list[tuple[str, ...]], cfg: AnalysisConfig, cache: Resources, device: str):
    """The model's representations of `texts`, extracted once per command."""
    from layerdrop.analysis.representations import extract
    from layerdrop.models.architectures import family_of

    def make():
        batches = [texts[i:i + cfg.batch_size] for i in range(0, len(texts), cfg.batch_size)]
        with progress.bar(f"representations of {loaded.name}", len(batches)) as update:
            def inputs():
                for chunk in batches:
                    columns = list(zip(*chunk))
                    encoded = loaded.tokenizer(*columns, truncation=True, max_length=cfg.max_seq_length, padding=True,
                                               return_tensors="pt")
                    yield {k: v.to(device) for k, v in encoded.items()}

            return extract(loaded.model, inputs(), cfg.representation, family_of(loaded.model.config).summary_token, update)

    return cache.get(RepresentationKey(loaded.source.location, cfg.representation, tuple(texts), cfg.max_seq_length), make)


def run_analysis(cfg: AnalysisConfig, results: str | Path | None = DEFAULT_RESULTS, force: bool = False,
                 cache: Resources | None = None) -> dict[str, Any]:
    """Compute one analysis and append its record to `results` (None: don't write)."""
    from layerdrop.experiments import analysis_kinds

    cfg.validate()
    if results is not None:
        records.check_writable(results)
        if not force:
            done = next((r for r in _analysis_records(results) if r.get("analysis_id") == cfg.analysis_id), None)
            if done is not None:
                progress.log(f"analysis {cfg.analysis_id} is already in {results} (--force computes it again)")
                return done
    cache = cache or Resources()
    device = _device(cfg.device)
    t0 = time.perf_counter()
    started = records.now()
    # Every check that needs no weights first: the models and their lineage, the data, the tokenizers.
    _check_models(cfg, cache)
    if cfg.analysis == "drift":
        analysis_kinds.check_derived(cfg, cache)
    task, texts, labels, where = examples(cfg, cache)
    if cfg.representation == "tokens":
        analysis_kinds.check_tokens(cfg, texts, cache)
    # What each analysis computes on: the examples' texts, or for a probe its examples and labels.
    inputs = analysis_kinds.probe_data(cfg, texts, labels, task) if cfg.analysis == "probe" else texts
    reference = load(cfg.model, cfg, cache, device)
    others = [load(name, cfg, cache, device) for name in (cfg.against or ((cfg.model,) if cfg.analysis == "cka" else ()))]
    compute = {"cka": analysis_kinds.cka, "probe": analysis_kinds.probe, "drift": analysis_kinds.drift}[cfg.analysis]
    result = compute(cfg, reference, others, inputs, cache, device)
    record = {
        "schema_version": records.SCHEMA_VERSION, "kind": "analysis", "analysis": cfg.analysis,
        "analysis_id": cfg.analysis_id, "status": "ok", "config": config_dict(cfg), "task": task.name,
        "models": [reference.described, *(o.described for o in others)],
        "data": {"source": where, "split": split_name(task, cfg.split), "examples": len(texts)},
        "result": result, "started_at": started, "ended_at": records.now(),
        "total_seconds": round(time.perf_counter() - t0, 3), "versions": records.library_versions(),
    }
    if results is not None:
        records.append(results, record)
    return record


def _check_models(cfg: AnalysisConfig, cache: Resources) -> None:
    """Every model resolves and is of a supported family, from its config alone."""
    from layerdrop.models import loading as models
    from layerdrop.models.architectures import family_of

    for name in (cfg.model, *cfg.against):
        family_of(cache.model_config(models.resolve(name), cfg.trust_remote_code))


def _analysis_records(path: str | Path) -> list[dict[str, Any]]:
    if not Path(path).is_file():
        return []
    return list(records.read(path, warn=progress.log, kind="analysis"))
