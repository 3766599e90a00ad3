"""The report: hand-computed means, stds and intervals on a synthetic runs file; every format."""

from __future__ import annotations

import csv
import io
import json
import math

import pytest

from layerdrop.experiments import records
from layerdrop.reporting import report
from layerdrop.reporting.formats import FORMATS
from tests.helpers import assert_clean_error, invoke_cli, run_cli


def rec(task, k, seed, value, strategy="top", params=None, dropped=None, model="m", status="ok", scores=None, f1=None):
    metrics = {"accuracy": value}
    main = "accuracy"
    if f1 is not None:
        metrics.update(f1=f1, acc_and_f1=(value + f1) / 2)
        main = "acc_and_f1"
    return {"run_id": f"{model}-{task}-{strategy}-{k}-{seed}-{params}", "status": status, "model": {"name": model},
            "task": task, "k": k, "strategy": strategy, "params": params or {}, "config": {"seed": seed, "fast": False},
            "dropped_layers": dropped if dropped is not None else list(range(6 - k, 6)), "parameters_after": 1e6 * (6 - k),
            "metrics": metrics, "main_metric": {"name": main, "value": metrics[main]}, "layer_scores": scores}


@pytest.fixture
def runs(tmp_path):
    path = tmp_path / "runs.jsonl"
    rows = [
        # full model: rte 0.60, 0.62; sst2 0.90, 0.92 -> means 61, 91; macro per seed 75, 77 -> 76
        rec("rte", 0, 1, 0.60), rec("rte", 0, 2, 0.62), rec("sst2", 0, 1, 0.90), rec("sst2", 0, 2, 0.92),
        # top K=2: rte 0.58, 0.58; sst2 0.88, 0.86 -> means 58, 87; macro per seed 73, 72 -> 72.5
        rec("rte", 2, 1, 0.58), rec("rte", 2, 2, 0.58), rec("sst2", 2, 1, 0.88), rec("sst2", 2, 2, 0.86),
        # odd-alternate K=2: one seed only on rte
        rec("rte", 2, 1, 0.50, "alternate", {"parity": "odd"}, [2, 4]),
        rec("rte", 2, 2, 0.99, status="failed"),  # failed runs never count
    ]
    for r in rows:
        records.append(path, r)
    return path


def test_hand_computed_table(runs):
    rows, tasks = report.build(report.load([str(runs)]))
    assert tasks == ["rte", "sst2"]
    by = {(r.strategy, r.k): r for r in rows}
    full, top = by[("full model", 0)], by[("top", 2)]
    assert full.tasks["rte"][0] == pytest.approx(61.0) and full.tasks["rte"][2] == 2
    assert full.tasks["rte"][1] == pytest.approx(math.sqrt(2.0))  # sample std of 60, 62
    assert top.tasks["sst2"][0] == pytest.approx(87.0) and top.tasks["sst2"][1] == pytest.approx(math.sqrt(2.0))
    assert full.macro == pytest.approx(76.0) and top.macro == pytest.approx(72.5)
    assert top.delta == pytest.approx(-3.5)
    assert top.retained == pytest.approx(100 * 72.5 / 76.0)
    # Paired by seed: seed 1 73-75 = -2, seed 2 72-77 = -5: mean -3.5, s = 2.1213, s/sqrt(2) = 1.5.
    # Student-t with 1 degree of freedom: t(0.975, 1) = 12.706, so -3.5 ± 19.06. (A percentile
    # bootstrap would claim [-5, -2]: two seeds cannot support that.)
    assert top.paired["diff"] == pytest.approx(-3.5) and top.paired["n"] == 2
    assert top.paired["method"] == "student-t" and top.paired["level"] == 0.95
    assert top.paired["ci"] == (pytest.approx(-3.5 - 12.7062 * 1.5, abs=1e-3), pytest.approx(-3.5 + 12.7062 * 1.5, abs=1e-3))
    odd = by[("odd-alternate", 2)]
    assert odd.dropped == "2,4" and odd.macro is None and math.isnan(odd.tasks["rte"][1])
    assert [r.strategy for r in rows] == ["full model", "odd-alternate", "top"]


def test_interval_method_follows_the_number_of_seeds():
    from scipy import stats

    from layerdrop.reporting.intervals import paired_interval

    three = paired_interval([1.0, -0.5, 2.0])
    expected = stats.t.interval(0.95, 2, loc=2.5 / 3, scale=stats.sem([1.0, -0.5, 2.0]))
    assert three.method == "student-t" and (three.low, three.high) == pytest.approx(expected)
    assert not three.excludes_zero
    many = [0.5 + 0.1 * i for i in range(10)]
    ten = paired_interval(many)
    assert ten.method == "bootstrap" and ten.low < ten.mean < ten.high and ten.excludes_zero
    assert paired_interval(many) == ten  # seeded: the same table every time
    one = paired_interval([1.0])
    assert one.method == "none (n < 2)" and math.isnan(one.low) and not one.excludes_zero
    wider = paired_interval([1.0, -0.5, 2.0], level=0.99)
    assert wider.low < three.low and wider.high > three.high


def test_three_seed_intervals_have_their_stated_coverage():
    """At n = 3 the Student-t interval covers a normal mean about 95% of the time; the percentile
    bootstrap it replaced ([smallest, largest] of the three) covers it about 75%."""
    import numpy as np

    from layerdrop.reporting.intervals import paired_interval

    rng = np.random.default_rng(7)
    samples = rng.normal(1.0, 2.0, size=(4000, 3))
    covered = np.mean([(lambda i: i.low <= 1.0 <= i.high)(paired_interval(list(row))) for row in samples])
    assert 0.935 <= covered <= 0.965
    span = np.mean((samples.min(axis=1) <= 1.0) & (1.0 <= samples.max(axis=1)))
    assert 0.72 <= span <= 0.78


def test_against_another_strategy(runs, tmp_path):
    records.append(runs, rec("sst2", 2, 1, 0.80, "bottom", dropped=[0, 1]))
    records.append(runs, rec("rte", 2, 1, 0.55, "bottom", dropped=[0, 1]))
    rows, _ = report.build(report.load([str(runs)]), against="top")
    bottom = next(r for r in rows if r.strategy == "bottom")
    # seed 1: bottom macro (55+80)/2 = 67.5, top macro 73 -> -5.5, one seed: no interval
    assert bottom.paired["diff"] == pytest.approx(-5.5) and bottom.paired["against"] == "top"


def test_sub_metric(tmp_path):
    path = tmp_path / "r.jsonl"
    for seed, (acc, f1) in enumerate([(0.7, 0.8), (0.72, 0.84)], start=1):
        records.append(path, rec("mrpc", 0, seed, acc, f1=f1))
    rows, _ = report.build(report.load([str(path)], metric="f1"))
    assert rows[0].tasks["mrpc"][0] == pytest.approx(82.0)
    main, _ = report.build(report.load([str(path)]))
    assert main[0].tasks["mrpc"][0] == pytest.approx(76.5)  # mean of (75, 78)


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_round_trips(runs, tmp_path, fmt):
    out = tmp_path / f"table.{fmt}"
    result = invoke_cli("report", str(runs.parent), "--format", fmt, "--output", str(out))
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    if fmt == "json":
        data = json.loads(text)
        top = next(r for r in data if r["strategy"] == "top")
        assert top["sst2 mean"] == pytest.approx(87.0) and top["paired ci low"] == pytest.approx(-22.56, abs=0.01)
        assert top["ci_method"] == "student-t" and top["ci_level"] == 0.95 and top["regime"] == "stock"
        odd = next(r for r in data if r["strategy"] == "odd-alternate")
        assert "paired diff" not in odd  # no rte and sst2 on a shared seed with the full model: no macro to pair
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(text)))
        top = next(r for r in rows if r["strategy"] == "top")
        assert float(top["macro"]) == pytest.approx(72.5)
        assert top["paired n"] == "2" and top["sst2 n"] == "2"  # counts print as integers, not 2.0
        assert top["ci_method"] == "student-t"
    elif fmt == "md":
        lines = [line for line in text.splitlines() if line.startswith("| m |")]
        assert len(lines) == 3 and "87.00 ± 1.41 (2)" in text and "72.50" in text
        assert "paired Δ [95% CI]" in text and "-3.50 [-22.56, 15.56] vs full model (n=2)" in text
        assert "- Paired Δ: mean over seeds" in text and "Student-t" in text
        assert "This table holds 1 interval: if no row truly differed, about 0.1 of them" in text
    elif fmt == "html":
        from html.parser import HTMLParser

        class Cells(HTMLParser):
            rows: list = []

            def handle_starttag(self, tag, attrs):
                if tag == "tr":
                    self.rows.append([])

            def handle_data(self, data):
                if self.rows and data.strip():
                    self.rows[-1].append(data.strip())

        parser = Cells()
        parser.feed(text)
        header, *body = parser.rows
        assert [row[header.index("strategy")] for row in body] == ["full model", "odd-alternate", "top"]
    else:  # latex
        assert text.startswith("\\begin{tabular}") and "87.00 $\\pm$ 1.41 (2)" in text and text.count("\\\\") == 4
        assert "\n% Paired Δ: mean over seeds" in text


def test_plots_written_and_non_empty(runs, tmp_path):
    records.append(runs, rec("rte", 1, 1, 0.59, "contribution", dropped=[3], scores=[0.9, 0.95, 0.97, 0.99, 0.93, 0.92]))
    out = tmp_path / "figs"
    result = invoke_cli("report", str(runs), "--plots", str(out))
    assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(f"m-{kind}.{ext}" for kind in ("macro-vs-k", "tasks-vs-k", "macro-vs-parameters", "contribution-scores")
                           for ext in ("png", "svg"))
    for path in out.iterdir():
        assert path.stat().st_size > 5000
        if path.suffix == ".png":
            assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Regenerating gives the same bytes (no timestamps or random ids), so committed figures only
    # change when their numbers do.
    again = tmp_path / "again"
    assert invoke_cli("report", str(runs), "--plots", str(again)).returncode == 0
    assert all((again / path.name).read_bytes() == path.read_bytes() for path in out.iterdir())


def test_compare_paper_adds_published_numbers(tmp_path):
    path = tmp_path / "r.jsonl"
    records.append(path, rec("sst2", 0, 1, 0.92, model="bert-base"))
    records.append(path, rec("sst2", 4, 1, 0.90, model="bert-base", dropped=[8, 9, 10, 11]))
    data = json.loads(invoke_cli("report", str(path), "--compare-paper", "--format", "json").stdout)
    top4 = next(r for r in data if r["k"] == 4)
    assert top4["paper sst2"] == 90.60 and top4["paper 7-task mean"] == 84.19


@pytest.mark.parametrize("model", ["google-bert/bert-base-uncased", "/models/bert-base-uncased/"])
def test_compare_paper_matches_hub_ids_and_local_folders(tmp_path, model):
    path = tmp_path / "r.jsonl"
    records.append(path, rec("sst2", 4, 1, 0.90, model=model, dropped=[8, 9, 10, 11]))
    data = json.loads(invoke_cli("report", str(path), "--compare-paper", "--format", "json").stdout)
    assert data[0]["paper sst2"] == 90.60


def test_torn_line_is_reported_and_skipped(runs):
    with runs.open("a") as f:
        f.write('{"run_id": "torn", "sta')
    result = invoke_cli("report", str(runs), "--format", "json")
    assert result.returncode == 0
    assert f"{runs}:11" in result.stderr and "torn" in result.stderr
    assert len(json.loads(result.stdout)) == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["/no/such/folder"], "does not exist"),
        (["EMPTY_DIR"], "holds no runs file"),
        (["RUNS", "--format", "docx"], "unknown --format"),
        (["RUNS", "--metric", "bleu"], "has the metric 'bleu'; choose one of accuracy"),
        (["RUNS", "--metric", "acuracy"], "did you mean 'accuracy'"),
        (["RUNS", "--against", "topp"], "did you mean 'top'"),
        (["RUNS", "--against", "full model"], "omit --against"),
    ],
)
def test_report_bad_input(runs, tmp_path, args, message):
    (tmp_path / "empty").mkdir()
    args = [str(runs) if a == "RUNS" else str(tmp_path / "empty") if a == "EMPTY_DIR" else a for a in args]
    assert_clean_error(run_cli("report", *args), 2, message)  # a real process: every line on stderr counts


def test_a_sub_metric_some_tasks_lack_says_which_are_left_out(tmp_path):
    path = tmp_path / "r.jsonl"
    records.append(path, rec("mrpc", 0, 1, 0.7, f1=0.8))
    records.append(path, rec("rte", 0, 1, 0.6))
    result = invoke_cli("report", str(path), "--metric", "f1", "--format", "json")
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(result.stdout)
    assert row["mrpc mean"] == pytest.approx(80.0) and not any(key.startswith("rte") for key in row)
    assert "rte have no 'f1' metric and are left out" in result.stderr


def test_against_with_only_the_full_model_says_so(tmp_path):
    path = tmp_path / "r.jsonl"
    records.append(path, rec("rte", 0, 1, 0.6))
    assert_clean_error(invoke_cli("report", str(path), "--against", "top"), 2, "hold only the full model")


def test_explicit_lists_are_separate_rows_and_mixed_settings_warn(tmp_path):
    path = tmp_path / "r.jsonl"
    records.append(path, rec("rte", 2, 1, 0.5, "explicit", {"layers": [0, 1]}, dropped=[0, 1]))
    records.append(path, rec("rte", 2, 1, 0.6, "explicit", {"layers": [2, 3]}, dropped=[2, 3]))
    first, second = rec("rte", 0, 1, 0.6), rec("rte", 0, 2, 0.7)
    first["config"]["learning_rate"], second["config"]["learning_rate"] = 1e-4, 2e-5
    records.append(path, first)
    records.append(path, second)
    result = invoke_cli("report", str(path), "--format", "json")
    labels = {row["strategy"] for row in json.loads(result.stdout)}
    assert {"explicit (0,1)", "explicit (2,3)"} <= labels
    assert "different training settings" in result.stderr


def test_output_never_overwrites_an_input(runs):
    assert_clean_error(invoke_cli("report", str(runs), "--output", str(runs)), 2, "is one of the runs files")


def test_records_from_before_a_field_existed_match_its_default(tmp_path):
    # Seed-1 cells of the reference sweep predate --optimizer and --lr-scheduler: same setting.
    path = tmp_path / "r.jsonl"
    old, new = rec("rte", 0, 1, 0.6), rec("rte", 0, 2, 0.7)
    old["config"].pop("optimizer", None)
    old["config"].pop("lr_scheduler", None)
    new["config"].update(optimizer="adamw", lr_scheduler="linear")
    records.append(path, old)
    records.append(path, new)
    result = invoke_cli("report", str(path), "--format", "json")
    assert result.returncode == 0, result.stderr
    assert "different training settings" not in result.stderr
    new["config"]["optimizer"] = "sgd"  # a real difference still warns
    records.append(path, {**new, "run_id": "other"})
    assert "different training settings" in invoke_cli("report", str(path), "--format", "json").stderr


def test_runs_that_did_not_learn_are_named(tmp_path):
    # The blind-answer loss is the entropy of the training labels; records without it use ln C:
    # ln 2 = 0.693 for RTE, ln 3 = 1.099 for MNLI. The line is 97% of it.
    path = tmp_path / "r.jsonl"
    losses = {("rte", 0, 1): 0.42, ("rte", 3, 1): 0.690, ("rte", 3, 2): 0.675, ("rte", 3, 3): 0.60,
              ("mnli", 3, 1): 1.09, ("mnli", 3, 2): 0.69}
    for (task, k, seed), loss in losses.items():
        records.append(path, {**rec(task, k, seed, 0.5), "train_loss_last_epoch": loss})
    records.append(path, {**rec("rte", 3, 1, 0.5), "train_loss_last_epoch": 0.690})  # the same run again counts once
    # MRPC's labels are 68% one class: entropy 0.625, so a loss of 0.62 is blind though far below ln 2.
    records.append(path, {**rec("mrpc", 3, 1, 0.5), "train_loss_last_epoch": 0.62, "train_label_entropy": 0.625})
    records.append(path, {**rec("mrpc", 3, 2, 0.5), "train_loss_last_epoch": 0.40, "train_label_entropy": 0.625})
    custom = rec("sst2", 3, 1, 0.5, model="c")
    custom["config"]["train_file"] = "mine.csv"  # an older record of a custom file: its classes are unknown
    records.append(path, {**custom, "train_loss_last_epoch": 5.0})
    records.append(path, rec("rte", 2, 1, 0.5))  # no loss recorded (an old record): not judged
    result = invoke_cli("report", str(path), "--format", "json")
    assert result.returncode == 0, result.stderr
    (line,) = [line for line in result.stderr.splitlines() if "did not learn" in line]
    assert line.startswith("warning: 4 of 10 runs did not learn")
    assert line.endswith("m mnli top K=3 seed 1; m mrpc top K=3 seed 1; m rte top K=3 seeds 1,2")
    clean = tmp_path / "clean.jsonl"
    records.append(clean, {**rec("rte", 3, 3, 0.5), "train_loss_last_epoch": 0.60})
    assert "did not learn" not in invoke_cli("report", str(clean), "--format", "json").stderr


def test_the_record_carries_the_entropy_of_its_training_labels():
    from layerdrop.experiments.runner import _label_entropy
    from layerdrop.data.tasks import get_task

    assert _label_entropy(get_task("rte"), [0, 1] * 5) == pytest.approx(math.log(2))
    assert _label_entropy(get_task("mnli"), [0, 1, 2]) == pytest.approx(math.log(3))
    assert _label_entropy(get_task("mrpc"), [1, 1, 1, 0]) == pytest.approx(-(0.75 * math.log(0.75) + 0.25 * math.log(0.25)), abs=1e-6)
    assert _label_entropy(get_task("stsb"), [0.5, 4.0]) is None


def test_each_training_regime_is_its_own_rows_with_its_own_baseline(tmp_path):
    """Stock, --fast and pre-0.2 records (speed paths always on) never share a row or a baseline."""
    path = tmp_path / "r.jsonl"
    for seed, (full, top) in enumerate([(0.60, 0.58), (0.62, 0.57)], start=1):
        records.append(path, rec("rte", 0, seed, full))
        records.append(path, rec("rte", 2, seed, top))
        fast_full, fast_top = rec("rte", 0, seed, full + 0.2), rec("rte", 2, seed, top + 0.1)
        for r in (fast_full, fast_top):
            r.update(run_id=r["run_id"] + "-fast", fast_paths=["compact_vocab"])
            r["config"]["fast"] = True
            records.append(path, r)
        old = rec("rte", 0, seed, 0.5)
        old.update(run_id=old["run_id"] + "-old", summary_only_last_layer=True, dropout_masks="sfc64")
        del old["config"]["fast"]
        records.append(path, old)
    rows, _ = report.build(report.load([str(path)]))
    by = {(r.regime, r.strategy): r for r in rows}
    assert set(by) == {("stock", "full model"), ("stock", "top"), ("fast: compact_vocab", "full model"),
                       ("fast: compact_vocab", "top"), ("pre-0.2: summary-only last layer, sfc64 dropout masks", "full model")}
    assert [r.regime for r in rows][:2] == ["stock", "stock"]  # stock first
    assert by[("stock", "top")].tasks["rte"][0] == pytest.approx(57.5)
    assert by[("stock", "top")].paired["diff"] == pytest.approx(-3.5)  # against the stock full model (61)
    assert by[("fast: compact_vocab", "top")].paired["diff"] == pytest.approx(-13.5)  # against its own (81)
    result = invoke_cli("report", str(path), "--format", "md")
    assert result.returncode == 0, result.stderr
    assert "| m [fast: compact_vocab] | top |" in result.stdout and "| m [stock] | top |" in result.stdout
    assert "different training settings" not in result.stderr
    (csv_row,) = [r for r in csv.DictReader(io.StringIO(invoke_cli("report", str(path), "--format", "csv").stdout))
                  if r["regime"].startswith("pre-0.2")]
    assert csv_row["strategy"] == "full model"


def test_a_regression_run_that_predicts_the_mean_is_named(tmp_path):
    """MSE at the variance of the training labels is the loss of answering their mean: no learning."""
    path = tmp_path / "r.jsonl"
    stuck = {**rec("stsb", 2, 1, 0.02), "train_loss_last_epoch": 2.31, "train_label_variance": 2.33,
             "train_label_entropy": None}
    fit = {**rec("stsb", 2, 2, 0.80), "train_loss_last_epoch": 0.40, "train_label_variance": 2.33,
           "train_label_entropy": None}
    for r in (stuck, fit):
        records.append(path, r)
    result = invoke_cli("report", str(path))
    assert result.returncode == 0, result.stderr
    (line,) = [line for line in result.stderr.splitlines() if "did not learn" in line]
    assert "1 of 2 runs" in line and line.endswith("m stsb top K=2 seed 1")
    assert "- 1 of 2 runs, in 1 cell, did not learn" in result.stdout  # and the table's notes count it


def test_the_record_carries_the_variance_of_regression_labels():
    from layerdrop.data.tasks import get_task
    from layerdrop.experiments.runner import _label_variance

    assert _label_variance(get_task("stsb"), [1.0, 3.0, 5.0]) == pytest.approx(8 / 3, abs=1e-6)
    assert _label_variance(get_task("rte"), [0, 1]) is None


def test_rows_pooling_different_code_warn_and_strict_refuses(tmp_path):
    path = tmp_path / "r.jsonl"
    for seed, source in ((1, "git:aaa"), (2, "git:bbb")):
        r = rec("rte", 0, seed, 0.6)
        r["versions"] = {"layerdrop": "0.2.0", "layerdrop_source": source}
        records.append(path, r)
    warned = invoke_cli("report", str(path))
    assert warned.returncode == 0
    assert "the m [stock] rows were made by different code (git:aaa, git:bbb)" in warned.stderr
    assert_clean_error(invoke_cli("report", str(path), "--strict"), 2, "different code")
    # A full model and a row paired with it, made by different code, are caught the same way.
    mixed = tmp_path / "mixed.jsonl"
    for k, code in ((0, "sha256:one"), (2, "sha256:two")):
        r = rec("rte", k, 1, 0.6)
        r["versions"] = {"layerdrop_code": code}
        records.append(mixed, r)
    assert "(sha256:one, sha256:two)" in invoke_cli("report", str(mixed)).stderr


def test_ci_level_is_a_flag_and_checked(runs):
    wide = json.loads(invoke_cli("report", str(runs), "--format", "json", "--ci-level", "0.99").stdout)
    top = next(r for r in wide if r["strategy"] == "top")
    assert top["ci_level"] == 0.99 and top["paired ci low"] < -22.56
    assert_clean_error(invoke_cli("report", str(runs), "--ci-level", "95"), 2, "outside (0, 1)")


def test_records_name_the_code_that_made_them():
    from layerdrop.experiments.records import library_versions

    source = library_versions()["layerdrop_source"]
    assert source.startswith(("git:", "sha256:")) and len(source) > 12


def test_regime_filter_makes_one_table_per_regime(tmp_path):
    path = tmp_path / "r.jsonl"
    records.append(path, rec("rte", 0, 1, 0.6))
    fast = rec("rte", 0, 1, 0.7)
    fast.update(run_id="fast", fast_paths=["compact_vocab"])
    fast["config"]["fast"] = True
    records.append(path, fast)
    only = invoke_cli("report", str(path), "--regime", "fast: compact_vocab")
    assert only.returncode == 0, only.stderr
    assert "| m | full model |" in only.stdout and "70.00" in only.stdout and "60.00" not in only.stdout
    assert "- Training regime of every row: fast: compact_vocab." in only.stdout  # a single regime is still named
    assert_clean_error(invoke_cli("report", str(path), "--regime", "stok"), 2, "did you mean 'stock'")


def test_levels_print_as_asked_and_undefined_metrics_pair_nothing(tmp_path):
    path = tmp_path / "r.jsonl"
    for seed, (full, top) in enumerate([(0.6, 0.5), (0.62, float("nan")), (0.64, 0.55)], start=1):
        records.append(path, rec("stsb", 0, seed, full))
        records.append(path, rec("stsb", 2, seed, top))
    text = invoke_cli("report", str(path), "--ci-level", "0.975").stdout
    assert "paired Δ [97.5% CI]" in text and "97.5% intervals" in text
    data = json.loads(invoke_cli("report", str(path), "--format", "json").stdout)
    top = next(r for r in data if r["strategy"] == "top")
    assert top["paired n"] == 2 and top["ci_method"] == "student-t"  # seed 2's NaN is left out, not propagated
    assert math.isfinite(top["paired ci low"])


def test_different_settings_in_one_row_name_the_setting(tmp_path):
    path = tmp_path / "r.jsonl"
    for seed, epochs in ((1, 3.0), (2, 10.0)):
        r = rec("rte", 0, seed, 0.6)
        r["config"]["epochs"] = epochs
        records.append(path, r)
    assert "differing in epochs" in invoke_cli("report", str(path)).stderr


def test_task_option_reports_one_task_and_names_the_others(runs):
    records.append(runs, rec("mrpc", 1, 0, 0.80))
    only = invoke_cli("report", str(runs), "--task", "rte")
    assert only.returncode == 0, only.stderr
    assert "mrpc" not in only.stdout.splitlines()[0] and "rte" in only.stdout.splitlines()[0]
    missing = invoke_cli("report", str(runs), "--task", "cola")
    assert missing.returncode == 2 and "no runs of task cola" in missing.stderr and "mrpc" in missing.stderr
