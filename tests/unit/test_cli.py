"""The CLI as a user meets it: help, data on stdout, one-line errors with exit code 2."""

from __future__ import annotations

import json

import pytest

from tests.helpers import assert_clean_error, invoke_cli, run_cli

COMMANDS = ["run", "sweep", "report", "plan", "drop", "strategies", "models"]


def test_bare_layerdrop_prints_help():
    result = run_cli()
    assert result.returncode == 0
    assert "Usage" in result.stdout + result.stderr
    for command in COMMANDS:
        assert command in result.stdout + result.stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_examples(command):
    result = run_cli(command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Examples" in result.stdout and f"layerdrop {command}" in result.stdout


def test_help_prose_reflows_to_the_terminal_and_examples_keep_their_lines():
    from layerdrop.cli import _reflow

    doc = """Title line.

    A sentence wrapped
    in the source file.

    Examples:

        layerdrop run --k 1

        layerdrop run --k 2
    """
    assert _reflow(doc) == ("Title line.\n\nA sentence wrapped in the source file.\n\nExamples:\n\n"
                            "    layerdrop run --k 1\n\n    layerdrop run --k 2")
    shown = run_cli("report", "--help", env={"COLUMNS": "80"}).stdout
    assert "main metric (%) as mean" in shown  # the source breaks the line after "metric"


def test_plan_table_and_json():
    table = run_cli("plan", "--strategy", "alternate", "--param", "parity=odd", "--k", "4", "--n-layers", "12")
    assert table.returncode == 0 and "4,6,8,10" in table.stdout and "0,1,2,3,5,7,9,11" in table.stdout
    data = json.loads(run_cli("plan", "--strategy", "symmetric", "--k", "3", "--n-layers", "6", "--json").stdout)
    assert data["dropped_layers"] == [2, 3, 4] and data["kept_layers"] == [0, 1, 5] and data["k"] == 3


def test_plan_reads_layer_count_from_model_config_only(minilm_dir):
    data = json.loads(invoke_cli("plan", "--model", "minilm-l6", "--k", "2", "--json").stdout)
    assert data["n_layers"] == 6 and data["dropped_layers"] == [4, 5]


def test_plan_with_a_task_loads_data_only_for_a_strategy_that_scores(minilm_dir, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    # `top` needs no scores: the task is checked by name, its data never read.
    data = json.loads(invoke_cli("plan", "--model", "minilm-l6", "--strategy", "top", "--k", "2", "--task", "rte",
                                 "--data-dir", str(empty), "--json").stdout)
    assert data["dropped_layers"] == [4, 5]
    # `contribution` scores on the task's data, so the missing folder is the (one-line) error.
    result = invoke_cli("plan", "--model", "minilm-l6", "--strategy", "contribution", "--k", "2", "--task", "rte",
                        "--data-dir", str(empty))
    assert_clean_error(result, 2, "no rte data")


def test_strategies_lists_builtins_with_origin_and_summary():
    rows = json.loads(run_cli("strategies", "--json").stdout)
    names = {row["name"]: row for row in rows}
    assert {"top", "bottom", "alternate", "symmetric", "explicit", "random", "contribution"} <= set(names)
    assert names["top"]["origin"] == "built-in" and names["top"]["description"].startswith("Drop the top K")
    assert names["alternate"]["params"] == {"parity": "even"}


def test_models_lists_aliases():
    rows = {row["alias"]: row for row in json.loads(run_cli("models", "--json").stdout)}
    assert rows["bert-base"]["hub_id"] == "google-bert/bert-base-uncased"
    assert rows["roberta-base"]["hub_id"] == "FacebookAI/roberta-base"
    assert rows["xlnet-base"]["hub_id"] == "xlnet/xlnet-base-cased"
    assert rows["distilbert-base"]["hub_id"] == "distilbert/distilbert-base-uncased"
    assert set(rows) == {"bert-base", "bert-large", "roberta-base", "roberta-large", "xlnet-base", "xlnet-large",
                         "distilbert-base", "minilm-l6"}


BAD_INPUTS = [
    # (args, message fragment)
    (["plan", "--strategy", "topp", "--k", "2", "--n-layers", "12"], "did you mean 'top'"),
    (["plan", "--k", "-1", "--n-layers", "12"], "negative"),
    (["plan", "--k", "12", "--n-layers", "12"], "every layer"),
    (["plan", "--strategy", "alternate", "--k", "7", "--n-layers", "12"], "at most 6"),
    (["plan", "--strategy", "alternate", "--param", "pariti=odd", "--k", "2", "--n-layers", "12"], "did you mean 'parity'"),
    (["plan", "--strategy", "alternate", "--param", "parity", "--k", "2", "--n-layers", "12"], "key=value"),
    (["plan", "--layers", "2,,x", "--n-layers", "12"], "malformed --layers"),
    (["plan", "--layers", "2,5", "--strategy", "bottom", "--n-layers", "12"], "--layers names the layers"),
    (["plan", "--layers", "2,5", "--strategy", "top", "--n-layers", "12"], "--layers names the layers"),
    (["plan", "--strategy", "no_such_pkg.mod:fn", "--k", "2", "--n-layers", "12"], "does not import"),
    (["plan", "--strategy", "./missing.py:fn", "--k", "2", "--n-layers", "12"], "does not exist"),
    (["plan", "--k", "2"], "exactly one of --n-layers and --model"),
    (["plan", "--k", "2", "--n-layers", "0"], "at least 1"),
    (["plan", "--k", "two", "--n-layers", "12"], "--k"),
    (["plan", "--no-such-flag"], "No such option"),
    (["plan", "--k", "2", "--model", "./no/such/dir"], "does not exist"),
    (["drop", "--model", "bert-base", "--k", "2", "--output", "OUT"], "not in the local cache"),
    (["drop", "--model", "minilm-l6", "--k", "0", "--output", "OUT"], "drops nothing"),
    (["nonsense"], "No such command"),
]


@pytest.mark.parametrize(("args", "message"), BAD_INPUTS, ids=[" ".join(a[:3]) for a, _ in BAD_INPUTS])
def test_bad_input_is_one_line_exit_2(args, message, tmp_path):
    args = [str(tmp_path / "out") if a == "OUT" else a for a in args]
    # A real process: libraries' own log handlers and warnings reach its stderr, so "one line" holds
    # for what a user sees, not only for what the app itself prints.
    result = run_cli(*args)
    assert_clean_error(result, 2, message)
    assert not (tmp_path / "out").exists()


def test_drop_refuses_non_empty_output_before_loading(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("precious")
    result = run_cli("drop", "--model", "bert-base", "--k", "2", "--output", str(out))
    assert_clean_error(result, 2, "exists and is not empty")
    assert (out / "keep.txt").read_text() == "precious"


def test_debug_shows_traceback():
    result = run_cli("--debug", "plan", "--strategy", "topp", "--k", "2", "--n-layers", "12")
    assert result.returncode != 0 and "Traceback" in result.stderr
