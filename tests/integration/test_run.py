"""`layerdrop run` end to end on tiny models and fixture GLUE data; records; failures."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from layerdrop.experiments.config import RunConfig
from layerdrop.errors import RunFailed
from layerdrop.experiments.runner import run
from tests.glue_fixtures import write_glue
from tests.helpers import assert_clean_error, assert_failed_run, bert_tokenizer, invoke_cli, run_cli, tiny_model_dir

# Training flags that make a tiny run take a second or two.
QUICK = ["--epochs", "1", "--batch-size", "4", "--max-seq-length", "32", "--learning-rate", "1e-3"]
RECORD_FIELDS = {
    "schema_version", "run_id", "status", "error", "config", "model", "task", "data", "n_layers_before",
    "n_layers_after", "strategy", "params", "k", "dropped_layers", "kept_layers", "layer_scores",
    "parameters_before", "parameters_after", "metrics", "main_metric", "train_seconds", "eval_seconds",
    "throughput", "memory", "device", "precision", "versions", "started_at", "ended_at", "train_examples", "eval_examples",
    "fast_paths",
}


def _sst2_rows(n: int) -> str:
    good, bad = ["a great film", "loved it", "very fun plot"], ["an awful movie", "boring and bad", "hated the actors"]
    rows = ["sentence\tlabel"]
    for i in range(n):
        rows.append(f"{(good if i % 2 else bad)[i % 3]} {i} \t{i % 2}")
    return "\n".join(rows) + "\n"


@pytest.fixture(scope="module")
def glue_dir(tmp_path_factory) -> Path:
    root = write_glue(tmp_path_factory.mktemp("glue"))
    (root / "SST-2" / "train.tsv").write_text(_sst2_rows(48))
    (root / "SST-2" / "dev.tsv").write_text(_sst2_rows(16))
    return root


@pytest.fixture(scope="module")
def tiny_dirs(tmp_path_factory) -> dict[str, Path]:
    dirs = {}
    for family in ("bert", "roberta", "xlnet"):
        folder = tiny_model_dir(tmp_path_factory.mktemp(family), family, n_layers=4)
        if family == "xlnet":  # XLNet pads on the left; exercise that path
            config = json.loads((folder / "tokenizer_config.json").read_text())
            config["padding_side"] = "left"
            (folder / "tokenizer_config.json").write_text(json.dumps(config))
        dirs[family] = folder
    return dirs


@pytest.mark.parametrize("family", ["bert", "roberta", "xlnet"])
def test_cli_run_end_to_end(family, tiny_dirs, glue_dir, tmp_path):
    results = tmp_path / "runs.jsonl"
    result = run_cli("run", "--model", str(tiny_dirs[family]), "--task", "sst2", "--strategy", "top", "--k", "2",
                     "--data-dir", str(glue_dir), "--results", str(results), *QUICK)
    assert result.returncode == 0, result.stderr
    assert "sst2" in result.stdout and "accuracy=" in result.stdout
    (record,) = [json.loads(line) for line in results.read_text().splitlines()]
    assert RECORD_FIELDS <= set(record), RECORD_FIELDS - set(record)
    assert record["status"] == "ok" and record["error"] is None
    assert record["dropped_layers"] == [2, 3] and record["kept_layers"] == [0, 1] and record["k"] == 2
    assert record["n_layers_before"] == 4 and record["n_layers_after"] == 2
    assert record["parameters_after"] < record["parameters_before"]
    assert record["model"]["family"] == family
    assert record["main_metric"]["name"] == "accuracy" and 0 <= record["main_metric"]["value"] <= 1
    assert record["config"]["k"] == 2 and record["config"]["seed"] == 42
    speed = record["throughput"]
    assert speed["tokens_per_second"] > 0 and speed["train_gflops_per_second"] > 0
    assert speed["matmul_peak_gflops_per_second"] > 0
    assert speed["utilization"] == pytest.approx(speed["train_gflops_per_second"] / speed["matmul_peak_gflops_per_second"], rel=0.01)
    assert record["memory"]["peak_rss_mib"] > 50 and record["memory"]["peak_gpu_allocated_mib"] is None


def test_contribution_run_records_scores(tiny_dirs, glue_dir, tmp_path):
    cfg = RunConfig(model=str(tiny_dirs["xlnet"]), task="sst2", strategy="contribution", k=1,
                    params=("n_examples=16",), data_dir=str(glue_dir), epochs=1, batch_size=4, max_seq_length=32)
    record = run(cfg, results=tmp_path / "runs.jsonl")
    scores = record["layer_scores"]
    assert len(scores) == 4 and all(-1 <= s <= 1 for s in scores)
    best = max(range(4), key=lambda i: (scores[i], -i))
    assert record["dropped_layers"] == [best]


def test_same_seed_same_metrics_and_seed_matters(tiny_dirs, glue_dir):
    base = dict(model=str(tiny_dirs["bert"]), task="mrpc", k=1, data_dir=str(glue_dir), epochs=2, batch_size=2,
                max_seq_length=32, learning_rate=1e-3, device="cpu")
    first, second = (run(RunConfig(**base), results=None) for _ in range(2))
    assert first["metrics"] == second["metrics"] and first["final_train_loss"] == second["final_train_loss"]
    assert first["train_loss_last_epoch"] == second["train_loss_last_epoch"] > 0
    assert 0 < first["train_label_entropy"] <= math.log(2)
    assert len(first["train_loss_by_epoch"]) == 2 and first["train_loss_by_epoch"][-1] == first["train_loss_last_epoch"]
    # Stock by default: no speed path ran, and none of the old always-on ones is recorded.
    assert first["config"]["fast"] is False and first["fast_paths"] == [] and first["trained_embedding_rows"] is None
    assert not {"summary_only_last_layer", "dropout_masks", "unpadded_sublayers"} & set(first)
    other = run(RunConfig(**base, seed=7), results=None)
    assert other["final_train_loss"] != first["final_train_loss"]
    assert first["run_id"] == second["run_id"] != other["run_id"]


def test_fast_is_recorded_and_trains_the_stock_model(tiny_dirs, glue_dir):
    base = dict(model=str(tiny_dirs["bert"]), task="mrpc", k=1, data_dir=str(glue_dir), epochs=2, batch_size=2,
                max_seq_length=32, learning_rate=1e-3, device="cpu")
    stock, fast = run(RunConfig(**base), results=None), run(RunConfig(**base, fast=True), results=None)
    assert fast["config"]["fast"] is True and fast["run_id"] != stock["run_id"]
    assert fast["fast_paths"] == ["compact_vocab"]
    # Of the tiny table's 128 rows (78 tokens, tests/helpers.py), MRPC's two training pairs use a few.
    assert 4 < fast["trained_embedding_rows"] < 20
    # The same model up to float rounding: same dropout masks, same losses, same predictions.
    assert fast["train_loss_by_epoch"] == pytest.approx(stock["train_loss_by_epoch"], rel=1e-4)
    assert fast["metrics"] == pytest.approx(stock["metrics"])
    # A path that does not apply (Adam folds weight decay into every row's moments) is not claimed.
    fallback = run(RunConfig(**base, fast=True, optimizer="adam", weight_decay=0.01), results=None)
    assert fallback["fast_paths"] == [] and fallback["trained_embedding_rows"] is None
    assert fallback["fast_skipped"] == {"compact_vocab": "adam with weight decay sends the decay through every row's gradient"}
    assert stock["fast_skipped"] == {} and fast["fast_skipped"] == {}


@pytest.mark.parametrize(("task", "main"), [("mnli", "accuracy"), ("stsb", "pearson_and_spearman"), ("cola", "matthews_correlation")])
def test_other_task_shapes(task, main, tiny_dirs, glue_dir):
    record = run(RunConfig(model=str(tiny_dirs["bert"]), task=task, k=1, data_dir=str(glue_dir), epochs=1,
                           batch_size=2, max_seq_length=32), results=None)
    assert record["main_metric"]["name"] == main
    if task == "mnli":
        assert {"accuracy_matched", "accuracy_mismatched"} <= set(record["metrics"])
        assert set(record["eval_examples"]) == {"validation_matched", "validation_mismatched"}


@pytest.mark.parametrize(("optimizer", "scheduler"), [("sgd", "constant"), ("adam", "cosine")])
def test_optimizer_scheduler_and_group_size_are_flags(optimizer, scheduler, tiny_dirs, glue_dir, tmp_path):
    result = invoke_cli("run", "--model", str(tiny_dirs["bert"]), "--task", "rte", "--k", "1", "--data-dir", str(glue_dir),
                     "--optimizer", optimizer, "--lr-scheduler", scheduler, "--length-group-batches", "3", "--json",
                     "--results", str(tmp_path / "r.jsonl"), *QUICK)
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["config"]["optimizer"] == optimizer and record["config"]["lr_scheduler"] == scheduler
    assert record["config"]["length_group_batches"] == 3


def test_custom_files(tiny_dirs, tmp_path):
    train, dev = tmp_path / "train.csv", tmp_path / "dev.csv"
    train.write_text("text,stars\n" + "".join(f"{'great' if i % 2 else 'awful'} movie {i},{'pos' if i % 2 else 'neg'}\n" for i in range(12)))
    dev.write_text("text,stars\ngreat film,pos\nawful film,neg\n")
    result = invoke_cli("run", "--model", str(tiny_dirs["bert"]), "--train-file", str(train), "--validation-file", str(dev),
                     "--text-columns", "text", "--label-column", "stars", "--k", "1", "--json",
                     "--results", str(tmp_path / "r.jsonl"), *QUICK)
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["status"] == "ok" and "accuracy" in record["metrics"]


def test_save_model_loads_in_plain_transformers(tiny_dirs, glue_dir, tmp_path):
    from transformers import AutoModelForSequenceClassification

    out = tmp_path / "fine-tuned"
    cfg = RunConfig(model=str(tiny_dirs["bert"]), task="rte", k=1, data_dir=str(glue_dir), epochs=1, batch_size=2)
    run(cfg, results=None, save_model=out)
    model = AutoModelForSequenceClassification.from_pretrained(out)
    assert model.config.num_hidden_layers == 3
    assert model.config.layerdrop["dropped_layers"] == [3] and model.config.layerdrop["fine_tuned_on"] == "rte"
    assert model.config.id2label[0] == "entailment"


def test_half_precision_checkpoint_trains_in_float32(tiny_dirs, glue_dir, tmp_path):
    # Many hub checkpoints are stored in fp16 or bf16, and transformers 5 loads a checkpoint in the
    # dtype it was stored in. Fine-tuning needs float32 weights (bf16 is autocast over them), so a
    # run must not train, or save, the stored half-precision tensors.
    from transformers import AutoModel, AutoModelForSequenceClassification

    half = tmp_path / "fp16-checkpoint"
    AutoModel.from_pretrained(tiny_dirs["bert"]).half().save_pretrained(half)
    bert_tokenizer(half).save_pretrained(half)  # the tokenizer tiny_model_dir saves
    assert AutoModel.from_pretrained(half).dtype == torch.float16  # the premise: stored dtype comes back
    out = tmp_path / "fine-tuned"
    cfg = RunConfig(model=str(half), task="sst2", k=1, data_dir=str(glue_dir), epochs=1, batch_size=4, max_seq_length=32)
    record = run(cfg, results=None, save_model=out)
    assert record["status"] == "ok" and math.isfinite(record["metrics"]["accuracy"])
    saved = AutoModelForSequenceClassification.from_pretrained(out)
    assert {p.dtype for p in saved.parameters()} == {torch.float32}


def test_non_finite_loss_fails_the_run_and_is_recorded(tiny_dirs, glue_dir, tmp_path):
    results = tmp_path / "runs.jsonl"
    result = invoke_cli("run", "--model", str(tiny_dirs["bert"]), "--task", "sst2", "--k", "1", "--data-dir", str(glue_dir),
                     "--results", str(results), "--epochs", "3", "--batch-size", "4", "--learning-rate", "1e30",
                     "--max-grad-norm", "0")
    line = assert_failed_run(result, "training loss became")
    assert "learning-rate" in line
    (record,) = [json.loads(x) for x in results.read_text().splitlines()]
    assert record["status"] == "failed" and "training loss became" in record["error"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--task", "sst22"], "did you mean 'sst2'"),
        (["--task", "qnli", "--data-dir", "EMPTY"], "QNLI"),
        (["--task", "sst2", "--epochs", "0"], "--epochs 0.0 must be positive"),
        (["--task", "sst2", "--batch-size", "-4"], "--batch-size -4 must be positive"),
        (["--task", "sst2", "--learning-rate", "0"], "--learning-rate 0.0 must be positive"),
        (["--task", "sst2", "--max-train-samples", "0"], "--max-train-samples 0 must be positive"),
        (["--task", "sst2", "--strategy", "alternate", "--param", "parity=up"], "choose one of even, odd"),
        (["--task", "sst2", "--k", "4"], "every layer"),
        (["--task", "sst2", "--precision", "fp8"], "unknown --precision"),
        (["--task", "sst2", "--device", "cuda"], "CUDA is not available"),
        (["--train-file", "nope.csv"], "both --train-file and --validation-file"),
    ],
)
def test_bad_run_input_writes_nothing(args, message, tiny_dirs, glue_dir, tmp_path):
    results = tmp_path / "runs.jsonl"
    (tmp_path / "empty").mkdir()
    args = [str(tmp_path / "empty") if a == "EMPTY" else a for a in args]
    # The bad flags come last, so they win over the defaults given first.
    result = invoke_cli("run", *QUICK, "--model", str(tiny_dirs["bert"]), "--data-dir", str(glue_dir),
                     "--results", str(results), "--k", "1", *args)
    assert_clean_error(result, 2, message)
    assert not results.exists()


def test_results_path_that_is_a_folder_fails_before_training(tiny_dirs, glue_dir, tmp_path):
    result = invoke_cli("run", "--model", str(tiny_dirs["bert"]), "--task", "sst2", "--k", "1", "--data-dir", str(glue_dir),
                     "--results", str(tmp_path), *QUICK)
    assert_clean_error(result, 2, "is a folder")


def test_run_failed_is_exit_1_in_library(tiny_dirs, glue_dir):
    cfg = RunConfig(model=str(tiny_dirs["bert"]), task="sst2", k=1, data_dir=str(glue_dir), epochs=2, batch_size=4,
                    learning_rate=1e30, max_grad_norm=0.0)
    with pytest.raises(RunFailed):
        run(cfg, results=None)


def test_an_interrupt_swallowed_by_library_code_still_stops_training(tiny_dirs, glue_dir, tmp_path, monkeypatch):
    """The signal's KeyboardInterrupt was caught by someone's bare `except:`: the first training
    step raises it again, and the run is recorded as interrupted."""
    from layerdrop import interrupts

    monkeypatch.setattr(interrupts, "_pending", False)
    try:
        interrupts._raise(15, None)  # what the installed handler does on SIGTERM
    except BaseException:  # noqa: B036 -- the library that swallows it
        pass
    results = tmp_path / "runs.jsonl"
    cfg = RunConfig(model=str(tiny_dirs["bert"]), task="mrpc", k=1, data_dir=str(glue_dir), epochs=2, batch_size=2)
    with pytest.raises(KeyboardInterrupt):
        run(cfg, results=results)
    (record,) = [json.loads(line) for line in results.read_text().splitlines()]
    assert record["status"] == "interrupted" and "train_steps" not in record


def test_a_failure_loading_the_weights_that_is_not_bad_input_is_a_recorded_failed_run(tiny_dirs, glue_dir, tmp_path,
                                                                                        monkeypatch):
    """Damaged or missing weights are bad input (exit 2, no record, test_bad_input.py); running out
    of memory while loading them is a run that failed, and says so in its record (exit 1)."""
    from layerdrop.experiments.resources import Resources

    def out_of_memory(*args, **kwargs):
        raise RuntimeError("CUDA out of memory. Tried to allocate 20.00 MiB")

    monkeypatch.setattr(Resources, "pretrained", out_of_memory)
    results = tmp_path / "runs.jsonl"
    cfg = RunConfig(model=str(tiny_dirs["bert"]), task="rte", k=1, data_dir=str(glue_dir), epochs=1)
    with pytest.raises(RunFailed, match="out of memory"):
        run(cfg, results=results)
    (record,) = [json.loads(line) for line in results.read_text().splitlines()]
    assert record["status"] == "failed" and record["error"].startswith("before training: RuntimeError: CUDA out of memory")
    assert "traceback" in record
