"""`layerdrop analyze` end to end on tiny models and a custom task: numbers, records, figures, bad input."""

from __future__ import annotations

import csv
import re
import io
import json
import random
from pathlib import Path

import pytest

from tests.helpers import WORDS, assert_clean_error, invoke_cli, tiny_model_dir


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("analyze")
    tiny_model_dir(root / "tiny", "bert", n_layers=4)
    tiny_model_dir(root / "other", "bert", n_layers=4, seed=1)  # same shape, not derived from tiny
    rng = random.Random(0)
    for name, n in (("train.csv", 60), ("dev.csv", 240)):
        with open(root / name, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["sentence", "label"])
            for _ in range(n):
                words = rng.choices(WORDS, k=rng.randint(3, 14))
                writer.writerow([" ".join(words), int("good" in words or "great" in words)])
    result = invoke_cli("drop", "--model", str(root / "tiny"), "--strategy", "alternate", "--param", "parity=odd",
                        "--k", "2", "--output", str(root / "dropped"))
    assert result.returncode == 0, result.stderr
    result = invoke_cli("drop", "--model", str(root / "tiny"), "--component", "ffn", "--k", "2", "--output", str(root / "ffn2"))
    assert result.returncode == 0, result.stderr
    return root


def _data(ws: Path) -> list[str]:
    return ["--task", "toy", "--train-file", str(ws / "train.csv"), "--validation-file", str(ws / "dev.csv"),
            "--text-columns", "sentence", "--n-examples", "200"]


def _rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_cka_against_a_dropped_model_labels_the_kept_layers(workspace, tmp_path):
    results = tmp_path / "analyses.jsonl"
    args = ["analyze", "cka", "--model", str(workspace / "tiny"), "--against", str(workspace / "dropped"),
            "--against", str(workspace / "ffn2"), *_data(workspace), "--representation", "mean", "--results", str(results),
            "--plots", str(tmp_path / "figs")]
    result = invoke_cli(*args)
    assert result.returncode == 0, result.stderr
    rows = _rows(result.stdout)
    dropped = [r for r in rows if r["against"].endswith("dropped")]
    assert sorted({r["against_layer"] for r in dropped}) == ["1", "3", "emb"]  # odd-alternate K=2 of 4 drops 0 and 2
    assert sorted({r["model_layer"] for r in dropped}) == ["0", "1", "2", "3", "emb"]
    same = {(r["model_layer"], r["against_layer"]): float(r["cka"]) for r in dropped}
    assert same[("emb", "emb")] == pytest.approx(1.0, abs=1e-6)  # the same embeddings (their mean over real tokens)
    # Below the first edited sublayer the FFN-edited model computes what the full one does.
    edited = {(r["model_layer"], r["against_layer"]): float(r["cka"]) for r in rows if r["against"].endswith("ffn2")}
    assert edited[("1", "1")] == pytest.approx(1.0, abs=1e-6) and edited[("3", "3")] < 1 - 1e-6
    assert all(0.0 <= float(r["cka"]) <= 1.0 + 1e-9 for r in rows)
    record = json.loads(results.read_text().splitlines()[-1])
    assert record["kind"] == "analysis" and record["analysis"] == "cka" and record["data"]["examples"] == 200
    assert record["models"][1]["layerdrop"]["dropped_layers"] == [0, 2]
    assert record["models"][2]["layerdrop"]["edits"]["removed_sublayers"]["ffn"] == [2, 3]
    figures = sorted(p.name for p in (tmp_path / "figs").iterdir())
    assert len(figures) == 4 and {Path(f).suffix for f in figures} == {".png", ".svg"}
    # The same analysis again is skipped; --force computes and appends it again.
    assert invoke_cli(*args).returncode == 0
    assert len(results.read_text().splitlines()) == 1
    assert invoke_cli(*args, "--force").returncode == 0
    assert len(results.read_text().splitlines()) == 2


def test_probes_report_accuracy_control_and_majority_per_layer(workspace, tmp_path):
    for probe_task in ("task", "sentlen", "bshift", "wordcontent"):
        result = invoke_cli("analyze", "probe", "--model", str(workspace / "tiny"), "--against", str(workspace / "dropped"),
                            *_data(workspace), "--probe-task", probe_task, "--probe-words", "20",
                            "--results", str(tmp_path / "a.jsonl"), "--json")
        assert result.returncode == 0, (probe_task, result.stderr)
        data = json.loads(result.stdout)
        assert data["probe_task"] == probe_task and len(data["models"]) == 2
        full, dropped = data["models"]
        assert full["layers"] == ["emb", "0", "1", "2", "3"] and dropped["layers"] == ["emb", "1", "3"]
        for model in data["models"]:
            assert all(0.0 <= v <= 1.0 for key in ("accuracy", "control", "majority") for v in model[key])


def test_drift_matches_layers_by_original_index_and_refuses_an_unrelated_model(workspace, tmp_path):
    result = invoke_cli("analyze", "drift", "--model", str(workspace / "tiny"), "--against", str(workspace / "dropped"),
                        *_data(workspace), "--results", str(tmp_path / "a.jsonl"))
    assert result.returncode == 0, result.stderr
    rows = _rows(result.stdout)
    assert [r["layer"] for r in rows] == ["emb", "1", "3"]
    assert float(rows[0]["cosine"]) == pytest.approx(1.0, abs=1e-6)  # the same embeddings
    bad = invoke_cli("analyze", "drift", "--model", str(workspace / "tiny"), "--against", str(workspace / "other"),
                     *_data(workspace), "--results", str(tmp_path / "b.jsonl"))
    assert_clean_error(bad, 2, "is not derived from")
    assert not (tmp_path / "b.jsonl").exists()


@pytest.mark.parametrize("args, message", [
    (["probe", "--probe-task", "sentlne"], "did you mean 'sentlen'"),
    (["cka", "--debiased", "--n-examples", "3"], "fewer than debiased CKA needs (4)"),
    (["cka", "--representation", "token"], "did you mean 'tokens'"),
    (["probe", "--representation", "tokens"], "has no label per row"),
])
def test_bad_analysis_input(workspace, tmp_path, args, message):
    kind, *rest = args
    result = invoke_cli("analyze", kind, "--model", str(workspace / "tiny"), *_data(workspace), *rest,
                        "--results", str(tmp_path / "a.jsonl"))
    assert_clean_error(result, 2, message)
    assert not (tmp_path / "a.jsonl").exists()


def test_token_cka_refuses_models_that_tokenize_differently(workspace, tmp_path):
    from transformers import BertTokenizerFast

    other = tmp_path / "other-tok"
    tiny_model_dir(other, "bert", n_layers=2)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *reversed(WORDS)]  # same words, other ids
    BertTokenizerFast(vocab={token: i for i, token in enumerate(vocab)}).save_pretrained(other)
    result = invoke_cli("analyze", "cka", "--model", str(workspace / "tiny"), "--against", str(other), *_data(workspace),
                        "--representation", "tokens", "--results", str(tmp_path / "a.jsonl"))
    assert_clean_error(result, 2, "tokenize the text differently")


def test_report_shows_analyses_and_writes_one_self_contained_page(workspace, tmp_path):
    folder = tmp_path / "study"
    run = invoke_cli("run", "--model", str(workspace / "tiny"), "--k", "1", "--epochs", "1", *_data(workspace)[:8],
                     "--results", str(folder / "runs.jsonl"))
    assert run.returncode == 0, run.stderr
    for kind in ("cka", "drift"):
        extra = ["--against", str(workspace / "dropped")] if kind == "drift" else []
        assert invoke_cli("analyze", kind, "--model", str(workspace / "tiny"), *extra, *_data(workspace),
                          "--results", str(folder / "analyses.jsonl")).returncode == 0
    markdown = invoke_cli("report", str(folder))
    assert markdown.returncode == 0, markdown.stderr
    assert "## Analyses" in markdown.stdout and "### CKA" in markdown.stdout and "### Drift" in markdown.stdout
    page = tmp_path / "report.html"
    result = invoke_cli("report", str(folder), "--format", "html", "--output", str(page))
    assert result.returncode == 0, result.stderr
    text = page.read_text()
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert text.count("<svg") >= 4  # the run figures and the analyses', inlined
    assert "<table" in text and "Analyses" in text and "Drift" in text
    # Nothing is fetched: no scripts, stylesheets, images or fonts from elsewhere.
    assert "<script" not in text and "<link" not in text and "<img" not in text and "@import" not in text
    # Links only within the page, or data: URIs (matplotlib embeds a colorbar's image in its SVG).
    assert not [ref for ref in re.findall(r'(?:href|src)="([^"#][^"]*)"', text) if not ref.startswith("data:")]
    # A folder of analyses only still reports (md and html), without a run table.
    only = tmp_path / "only"
    only.mkdir()
    (only / "analyses.jsonl").write_text((folder / "analyses.jsonl").read_text())
    assert "## Analyses" in invoke_cli("report", str(only)).stdout
