"""The three analyses of `layerdrop analyze`, on models and examples `analyses.py` has loaded.

Each returns the JSON-ready `result` of its record.
"""

from __future__ import annotations

from typing import Any

from layerdrop.errors import LayerdropError, UsageError
from layerdrop.experiments.analyses import AnalysisConfig, Loaded, representations


def check_tokens(cfg: AnalysisConfig, texts, cache) -> None:
    """`--representation tokens` pairs token rows: every model must cut the text into the same
    tokens. Checked with the tokenizers alone, before any weights load."""
    from layerdrop.models.loading import resolve

    sample = list(texts[:64])
    reference = resolve(cfg.model)
    expected = cache.tokenizer(reference, cfg.trust_remote_code)(*zip(*sample), truncation=True,
                                                                  max_length=cfg.max_seq_length)["input_ids"]
    for name in cfg.against:
        source = resolve(name)
        got = cache.tokenizer(source, cfg.trust_remote_code)(*zip(*sample), truncation=True,
                                                             max_length=cfg.max_seq_length)["input_ids"]
        if got != expected:
            raise UsageError(f"--representation tokens pairs token rows, but {reference.name} and {source.name} "
                             "tokenize the text differently", "use --representation cls or mean")


def cka(cfg: AnalysisConfig, reference: Loaded, others: list[Loaded], texts, cache, device) -> dict[str, Any]:
    """Layer x layer linear CKA of the reference model against each other model."""
    from layerdrop.analysis.cka import CKAMatrix

    mine = representations(reference, texts, cfg, cache, device)
    out = []
    for other in others:
        theirs = representations(other, texts, cfg, cache, device)
        matrix = CKAMatrix(len(mine.layers), len(theirs.layers), cfg.debiased)
        for start in range(0, mine.rows, cfg.cka_batch):
            stop = start + cfg.cka_batch
            matrix.update([x[start:stop] for x in mine.layers], [y[start:stop] for y in theirs.layers])
        out.append({"against": other.name, "rows": mine.labels, "columns": theirs.labels, "matrix": matrix.matrix(),
                    "n_rows": mine.rows})
    return {"representation": cfg.representation, "debiased": cfg.debiased, "comparisons": out}


def derived_from(other_source, other_config, reference_source) -> bool:
    """Whether the model (`other_source`, its config) is the reference, or was made from it by
    layerdrop (dropped, edited or fine-tuned), by the provenance its config carries."""
    from layerdrop.models.loading import resolve

    if other_source.location == reference_source.location:
        return True
    provenance = getattr(other_config, "layerdrop", None) or {}
    names = [provenance.get("source_model"), provenance.get("source_location"),
             (provenance.get("fine_tune_config") or {}).get("model")]
    for name in filter(None, names):
        if name in (reference_source.name, reference_source.location):
            return True
        try:
            if resolve(name).location == reference_source.location:
                return True
        except LayerdropError:  # a name that no longer resolves here cannot be the reference
            continue
    return False


def check_derived(cfg: AnalysisConfig, cache) -> None:
    """Drift matches layers by index: every --against model must come from --model. From the
    configs alone, before any weights load."""
    from layerdrop.models.loading import resolve

    reference = resolve(cfg.model)
    for name in cfg.against:
        source = resolve(name)
        if not derived_from(source, cache.model_config(source, cfg.trust_remote_code), reference):
            raise UsageError(f"{source.name} is not derived from {reference.name} (its config records no layerdrop "
                             "provenance leading there), so its layers cannot be matched to the reference's",
                             "pass a model that layerdrop dropped, edited or fine-tuned from --model")


def drift(cfg: AnalysisConfig, reference: Loaded, others: list[Loaded], texts, cache, device) -> dict[str, Any]:
    """Per layer, the mean cosine similarity of the summary token between the reference model and
    each other model (Sajjad et al.'s Fig. 5), matching layers by their original index."""
    import torch

    mine = representations(reference, texts, cfg, cache, device)
    out = []
    for other in others:
        theirs = representations(other, texts, cfg, cache, device)
        position = {label: i for i, label in enumerate(mine.labels)}
        layers, cosines = [], []
        for j, label in enumerate(theirs.labels):
            if label in position:
                a, b = mine.layers[position[label]], theirs.layers[j]
                layers.append(label)
                cosines.append(float(torch.nn.functional.cosine_similarity(a.double(), b.double(), dim=-1).mean()))
        out.append({"against": other.name, "layers": layers, "cosine": cosines})
    return {"representation": cfg.representation, "comparisons": out}


def probe_data(cfg: AnalysisConfig, texts, labels, task):
    """The probe's examples and labels, built (and checked) before any weights load."""
    from layerdrop.analysis import probing

    if cfg.probe_task == "task":
        if task.is_regression:
            raise UsageError(f"task {task.name} is a regression: a classification probe needs class labels",
                             "choose --probe-task sentlen, wordcontent or bshift")
        data = probing.ProbeData(texts, [int(label) for label in labels], list(task.labels or []))
    else:
        sentences = [t[0] for t in texts]
        data = {"sentlen": lambda: probing.sentence_length(sentences),
                "wordcontent": lambda: probing.word_content(sentences, cfg.probe_words, cfg.seed),
                "bshift": lambda: probing.bigram_shift(sentences, cfg.seed)}[cfg.probe_task]()
    if len(data.labels) < 10 or len(set(data.labels)) < 2:
        raise UsageError(f"probe task {cfg.probe_task} keeps {len(data.labels)} examples of {len(set(data.labels))} "
                         f"class(es) from {len(texts)} sentences: too few to probe", "pass a larger --n-examples")
    train, test = probing.split_indices(len(data.labels), cfg.test_share, cfg.seed)
    if len(test) < 1 or len(set(data.labels[i] for i in train)) < 2:
        raise UsageError(f"--test-share {cfg.test_share} of {len(data.labels)} examples leaves {len(test)} held out and "
                         f"{len(train)} to train on", "pass a --test-share between 0.1 and 0.5, or more examples")
    return data


def probe(cfg: AnalysisConfig, reference: Loaded, others: list[Loaded], data, cache, device) -> dict[str, Any]:
    """Held-out accuracy of a linear probe on every layer of each model, with controls."""
    from layerdrop import progress
    from layerdrop.analysis import probing

    train, test = probing.split_indices(len(data.labels), cfg.test_share, cfg.seed)
    out = []
    for loaded in [reference, *others]:
        reps = representations(loaded, data.texts, cfg, cache, device)
        scores = []
        with progress.bar(f"probing {loaded.name}", len(reps.layers)) as update:
            for features in reps.layers:
                scores.append(probing.probe_layer(features.numpy(), data.labels, train, test, cfg.seed))
                update()
        out.append({"model": loaded.name, "layers": reps.labels, **{key: [s[key] for s in scores]
                                                                     for key in ("accuracy", "control", "majority")}})
    return {"probe_task": cfg.probe_task, "representation": cfg.representation, "examples": len(data.labels),
            "train": len(train), "test": len(test), "classes": len(set(data.labels)), "models": out}
