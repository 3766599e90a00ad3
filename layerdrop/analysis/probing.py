"""Linear probes per layer, and the probing tasks built offline from a task's own sentences.

A probe is scikit-learn's logistic regression on one layer's representation (standardized), trained
on a seeded split and scored on the held-out rest. Beside its accuracy stand the majority baseline
(always the most frequent training label) and a control: the same probe trained on shuffled
labels, scored against the real ones, what a probe reaches when the labels carry no signal. The
accuracy above it is what the layer makes linearly readable. (A shuffled-label baseline, not Hewitt
& Liang's 2019 control tasks, which give each word type a random label a probe can memorize.)

Probing tasks, by SentEval's recipes (Conneau, Kruszewski, Lample, Barrault & Baroni 2018, "What you
can cram into a single vector", arXiv 1805.01070), built from the sentences given:
- `sentlen`: the sentence's length in words, in 6 bins of about equal size (SentEval: 6 bins);
- `wordcontent`: which of N mid-frequency words (SentEval: 1,000) a sentence contains, keeping
  sentences that contain exactly one of them;
- `bshift`: whether two adjacent words (not the first) were swapped, in half of the sentences.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

PROBE_TASKS = ("task", "sentlen", "wordcontent", "bshift")


@dataclass(frozen=True)
class ProbeData:
    """Sentences (or pairs) and integer labels for a probe, and the names of the labels."""

    texts: list[tuple[str, ...]]
    labels: list[int]
    label_names: list[str]


def _words(text: str) -> list[str]:
    return text.split()


def sentence_length(sentences: list[str], n_bins: int = 6) -> ProbeData:
    """Bins of word count with about equal numbers of sentences (quantile edges)."""
    lengths = [len(_words(s)) for s in sentences]
    ordered = sorted(lengths)
    edges = sorted({ordered[min(len(ordered) - 1, round(len(ordered) * q / n_bins))] for q in range(1, n_bins)})
    labels = [sum(length >= edge for edge in edges) for length in lengths]
    bounds = [min(ordered), *edges, max(ordered) + 1]
    names = [f"{bounds[i]}-{bounds[i + 1] - 1} words" for i in range(len(bounds) - 1)]
    return ProbeData([(s,) for s in sentences], labels, names)


def word_content(sentences: list[str], n_words: int = 1000, seed: int = 0) -> ProbeData:
    """The mid-frequency words (ranks from 10% to 50% of the vocabulary, as SentEval takes words
    neither too common nor too rare) that occur in exactly one kept sentence each time."""
    counts = Counter(w.lower() for s in sentences for w in set(_words(s)))
    ranked = [w for w, _ in counts.most_common() if w.isalpha() and len(w) > 2]
    middle = ranked[len(ranked) // 10: len(ranked) // 2] or ranked
    rng = random.Random(seed)
    targets = sorted(rng.sample(middle, min(n_words, len(middle))))
    index = {w: i for i, w in enumerate(targets)}
    texts, labels = [], []
    for s in sentences:
        found = {w.lower() for w in _words(s)} & index.keys()
        if len(found) == 1:
            texts.append((s,))
            labels.append(index[found.pop()])
    used = sorted(set(labels))  # only words that occur: a label with no example cannot be learned
    remap = {old: new for new, old in enumerate(used)}
    return ProbeData(texts, [remap[label] for label in labels], [targets[i] for i in used])


def bigram_shift(sentences: list[str], seed: int = 0) -> ProbeData:
    """Half of the sentences (of 3+ words) get two adjacent words swapped; label 1 = shifted."""
    rng = random.Random(seed)
    texts, labels = [], []
    for s in sentences:
        words = _words(s)
        if len(words) < 3:
            continue
        if rng.random() < 0.5:
            i = rng.randrange(1, len(words) - 1)
            if words[i].lower() == words[i + 1].lower():
                continue  # a swap that changes nothing would be mislabelled
            words[i], words[i + 1] = words[i + 1], words[i]
            texts.append((" ".join(words),))
            labels.append(1)
        else:
            texts.append((s,))
            labels.append(0)
    return ProbeData(texts, labels, ["original", "shifted"])


def split_indices(n: int, test_share: float, seed: int) -> tuple[list[int], list[int]]:
    """A seeded train / held-out split of n rows."""
    order = list(range(n))
    random.Random(seed).shuffle(order)
    cut = max(1, round(n * (1 - test_share)))
    return sorted(order[:cut]), sorted(order[cut:])


def probe_layer(features, labels: list[int], train: list[int], test: list[int], seed: int) -> dict[str, float]:
    """Held-out accuracy of a logistic-regression probe, its shuffled-label control, and the majority baseline."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels)
    x_train, x_test, y_train, y_test = x[train], x[test], y[train], y[test]

    def fit_score(train_labels) -> float:
        if len(set(train_labels.tolist())) < 2:
            return float(np.mean(y_test == train_labels[0]))
        probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed))
        probe.fit(x_train, train_labels)
        return float(np.mean(probe.predict(x_test) == y_test))

    shuffled = np.random.default_rng(seed).permutation(y_train)
    majority = Counter(y_train.tolist()).most_common(1)[0][0]
    return {"accuracy": fit_score(y_train), "control": fit_score(shuffled),
            "majority": float(np.mean(y_test == majority))}
