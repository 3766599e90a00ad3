"""Bad input through the real CLI, every command: exit code, one clear line, nothing lost.

Each case runs in a workspace that already holds a results file; after the command that file
must be byte-identical (only runs that actually started may append, and none of these start).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from layerdrop.cli import app
from tests.glue_fixtures import write_glue
from tests.helpers import tiny_model_dir

PRECIOUS = '{"run_id": "earlier", "status": "ok"}\n'


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("bad")
    tiny_model_dir(root / "tiny", "bert", n_layers=4)
    # Weights without tokenizer files (a `save_pretrained` of the model alone): transformers builds
    # a tokenizer of five special tokens from it, which reads every word as [UNK].
    tiny_model_dir(root / "notok", "bert", n_layers=4)
    for path in (root / "notok").iterdir():
        if path.name.startswith(("tokenizer", "vocab", "special_tokens")):
            path.unlink()
    tiny_model_dir(root / "corrupt", "bert", n_layers=4)
    (root / "corrupt" / "model.safetensors").write_bytes(b"this is not a safetensors file")
    tiny_model_dir(root / "noweights", "bert", n_layers=4)
    (root / "noweights" / "model.safetensors").unlink()
    write_glue(root / "glue")
    tiny_model_dir(root / "xlnet", "xlnet", n_layers=4)
    _edited_model(root / "ffn-all", "ffn", [0, 1, 2, 3])
    _edited_model(root / "ffn-1", "ffn", [1])
    from transformers import GPT2Config, GPT2Model

    GPT2Model(GPT2Config(n_layer=2, n_embd=32, n_head=2, vocab_size=64, bos_token_id=0, eos_token_id=0)).save_pretrained(root / "gpt2")
    return root


def _edited_model(folder: Path, component: str, positions: list[int]) -> None:
    from transformers import AutoModelForSequenceClassification

    from layerdrop.models.components import edit_model, save_pretrained
    from tests.helpers import bert_tokenizer, tiny_config

    model = AutoModelForSequenceClassification.from_config(tiny_config("bert", 4))
    save_pretrained(edit_model(model, component, positions), bert_tokenizer(folder), folder)


def _bad_glue(root: Path, good_glue: Path, name: str, content: bytes) -> str:
    folder = root / f"glue-{name}" / "RTE"
    folder.mkdir(parents=True, exist_ok=True)
    good = (good_glue / "RTE" / "dev.tsv").read_bytes()
    (folder / "train.tsv").write_bytes(content)
    (folder / "dev.tsv").write_bytes(good)
    return str(folder.parent)


RTE_HEAD = b"index\tsentence1\tsentence2\tlabel\n"
RUN = ["run", "--model", "{tiny}", "--task", "rte", "--data-dir", "{glue}", "--results", "{results}", "--epochs", "1"]

CASES = {
    # run: names
    "unknown model": (["run", "--model", "bert-bsae", "--task", "rte", "--k", "1", "--results", "{results}"], 2, "not in the local cache"),
    "missing model folder": (["run", "--model", "./no/model", "--task", "rte", "--k", "1", "--results", "{results}"], 2, "does not exist"),
    "unsupported family": ([*RUN, "--k", "1"], 2, "'gpt2' is not supported", {"{tiny}": "{gpt2}"}),
    "unknown strategy": ([*RUN, "--k", "1", "--strategy", "topp"], 2, "did you mean 'top'"),
    "unknown task": ([*RUN, "--k", "1", "--task", "rtee"], 2, "did you mean 'rte'"),
    "unknown param": ([*RUN, "--k", "1", "--strategy", "alternate", "--param", "parity_=odd"], 2, "unknown parameter"),
    "bad param value": ([*RUN, "--k", "1", "--strategy", "alternate", "--param", "parity=3"], 2, "choose one of even, odd"),
    "malformed param": ([*RUN, "--k", "1", "--param", "parity"], 2, "key=value"),
    # run: K
    "k negative": ([*RUN, "--k", "-2"], 2, "negative"),
    "k equals L": ([*RUN, "--k", "4"], 2, "every layer"),
    "k above L": ([*RUN, "--k", "9"], 2, "every layer"),
    "k missing": (RUN, 2, "needs --k"),
    "alternate too many": ([*RUN, "--k", "3", "--strategy", "alternate"], 2, "at most 2 of 4"),
    "malformed layers": ([*RUN, "--layers", "1;2"], 2, "malformed --layers"),
    "layers out of range": ([*RUN, "--layers", "1,7"], 2, "outside 0..3"),
    # run: numbers
    "zero epochs": ([*RUN, "--k", "1", "--epochs", "0"], 2, "--epochs 0.0 must be positive"),
    "zero batch": ([*RUN, "--k", "1", "--batch-size", "0"], 2, "--batch-size 0 must be positive"),
    "negative lr": ([*RUN, "--k", "1", "--learning-rate", "-1e-5"], 2, "must be positive"),
    "zero samples": ([*RUN, "--k", "1", "--max-eval-samples", "0"], 2, "--max-eval-samples 0 must be positive"),
    "bad precision": ([*RUN, "--k", "1", "--precision", "int4"], 2, "unknown --precision"),
    "bad device": ([*RUN, "--k", "1", "--device", "tpu"], 2, "unknown --device"),
    "bad optimizer": ([*RUN, "--k", "1", "--optimizer", "lion"], 2, "unknown --optimizer"),
    "bad scheduler": ([*RUN, "--k", "1", "--lr-scheduler", "zigzag"], 2, "unknown --lr-scheduler"),
    # run: data files
    "missing data dir": ([*RUN, "--k", "1", "--data-dir", "/no/glue"], 2, "does not exist"),
    "no task folder": ([*RUN, "--k", "1", "--task", "qnli", "--data-dir", "{empty}"], 2, "QNLI"),
    "empty train file": ([*RUN, "--k", "1", "--data-dir", "{glue:empty:}"], 2, "train.tsv"),
    "too few columns": ([*RUN, "--k", "1", "--data-dir", "{glue:short:" + (RTE_HEAD + b"0\tonly one\n").hex() + "}"], 2, "train.tsv:2"),
    "unknown label": ([*RUN, "--k", "1", "--data-dir", "{glue:label:" + (RTE_HEAD + b"0\ta\tb\tmaybe\n").hex() + "}"], 2, "maybe"),
    "binary file": ([*RUN, "--k", "1", "--data-dir", "{glue:binary:" + bytes(range(256)).hex() + "}"], 2, "train.tsv"),
    "latin-1 file": ([*RUN, "--k", "1", "--data-dir", "{glue:latin:" + (RTE_HEAD + "0\tcaf\xe9\tb\tentailment\n".encode("latin-1")).hex() + "}"], 2, "train.tsv"),
    "custom missing column": (["run", "--model", "{tiny}", "--train-file", "{csv}", "--validation-file", "{csv}", "--text-columns", "body",
                               "--k", "1", "--results", "{results}"], 2, "body"),
    "one class": ([*RUN, "--k", "1", "--data-dir", "{glue:oneclass:" + (RTE_HEAD + b"0\ta\tb\tentailment\n1\tc\td\tentailment\n").hex() + "}"],
                  2, "every training label is 'entailment'"),
    # run: the model's files
    "no tokenizer files": ([*RUN, "--k", "1"], 2, "has no vocabulary", {"{tiny}": "{model-notok}"}),
    "corrupt weights": ([*RUN, "--k", "1"], 2, "model.safetensors", {"{tiny}": "{model-corrupt}"}),
    "weights missing": ([*RUN, "--k", "1"], 2, "no file named model.safetensors", {"{tiny}": "{model-noweights}"}),
    # run: outputs
    "results is a folder": ([*RUN, "--k", "1", "--results", "{empty}"], 2, "is a folder"),
    "results under a file": ([*RUN, "--k", "1", "--results", "{csv}/runs.jsonl"], 2, "cannot write results"),
    "save-model not empty": ([*RUN, "--k", "1", "--save-model", "{nonempty}"], 2, "exists and is not empty"),
    # sweep
    "toml syntax": (["sweep", "--config", "{toml:name = 'x'\nmodels = [}"], 2, "not valid TOML"),
    "toml unknown key": (["sweep", "--config", "{toml:name = 'x'\nlayers = [1]}"], 2, "unknown key 'layers'"),
    "toml wrong type": (["sweep", "--config", "{toml:name = 'x'\nseeds = ['one']}"], 2, "list of int"),
    "shard zero": (["sweep", "--model", "{tiny}", "--task", "rte", "--k", "1", "--strategy", "top", "--name", "s", "--shard", "0/2"], 2, "outside 1..N"),
    "shard malformed": (["sweep", "--model", "{tiny}", "--task", "rte", "--k", "1", "--strategy", "top", "--name", "s", "--shard", "1-2"], 2, "malformed --shard"),
    "sweep name escapes": (["sweep", "--model", "{tiny}", "--task", "rte", "--k", "1", "--strategy", "top", "--name", "../up"], 2, "plain folder name"),
    "sweep unknown names": (["sweep", "--model", "{tiny}", "--task", "rtee", "--k", "1", "--strategy", "topp", "--name", "s"], 2, "2 problem(s)"),
    # report
    "report missing path": (["report", "/no/such/runs"], 2, "does not exist"),
    "report empty folder": (["report", "{empty}"], 2, "holds no runs file"),
    "report only corrupt lines": (["report", "{corrupt}"], 2, "no successful runs"),
    "report bad format": (["report", "{results}", "--format", "pdf"], 2, "unknown --format"),
    # components, normalizers, LayerNorms
    "unknown component": ([*RUN, "--k", "1", "--component", "fnn"], 2, "did you mean 'ffn'"),
    "unknown normalizer": ([*RUN, "--k", "0", "--attention", "rleu"], 2, "did you mean 'relu'"),
    "unknown layernorm": ([*RUN, "--k", "0", "--drop-layernorm", "atention"], 2, "did you mean 'attention'"),
    "K beyond the sublayers": ([*RUN, "--k", "5", "--component", "ffn"], 2, "more than the 4 ffn sublayers"),
    "normalizer on xlnet": ([*RUN, "--k", "0", "--attention", "relu"], 2, "xlnet computes its own softmax", {"{tiny}": "{xlnet}"}),
    "layernorm already gone": (["drop", "--model", "{ffn-all}", "--k", "0", "--drop-layernorm", "ffn", "--output", "{out}"], 2,
                               "no layer of this model has a LayerNorm after its feed-forward"),
    "layernorm gone with its sublayers": ([*RUN, "--k", "4", "--component", "ffn", "--drop-layernorm", "ffn"], 2,
                                          "no layer of this model has a LayerNorm after its feed-forward"),
    "neither sublayer": (["drop", "--model", "{ffn-1}", "--component", "attention", "--layers", "1", "--output", "{out}"], 2,
                         "remove whole layers with --component layer"),
    "no ffn left": (["drop", "--model", "{ffn-all}", "--component", "ffn", "--k", "1", "--output", "{out}"], 2,
                    "already lost its feed-forward"),
    "sweep unknown component": (["sweep", "--name", "s", "--model", "{tiny}", "--task", "rte", "--k", "1", "--component", "fnn",
                                 "--data-dir", "{glue}"], 2, "did you mean 'ffn'"),
    "plan K beyond the sublayers": (["plan", "--component", "ffn", "--k", "7", "--n-layers", "6"], 2, "more than the 6 ffn"),
    # plan, drop, strategies, models
    "plan without L": (["plan", "--k", "1"], 2, "exactly one of --n-layers and --model"),
    "plan bad plugin": (["plan", "--strategy", "nowhere.mod:fn", "--k", "1", "--n-layers", "4"], 2, "does not import"),
    "drop output not empty": (["drop", "--model", "{tiny}", "--k", "1", "--output", "{nonempty}"], 2, "exists and is not empty"),
    "drop k zero": (["drop", "--model", "{tiny}", "--k", "0", "--output", "{out}"], 2, "drops nothing"),
    "drop no tokenizer files": (["drop", "--model", "{model-notok}", "--k", "1", "--output", "{out}"], 2, "has no vocabulary"),
    "drop corrupt weights": (["drop", "--model", "{model-corrupt}", "--k", "1", "--output", "{out}"], 2, "cannot read the weights"),
    "strategies bad flag": (["strategies", "--verbose"], 2, "No such option"),
    "models bad flag": (["models", "--all"], 2, "No such option"),
}


# Cases whose input is only found bad by loading the weights, after the "loading ..." progress line.
LOADS_WEIGHTS = {"corrupt weights", "weights missing", "drop corrupt weights"}


def _expand(arg: str, ws: Path, base: Path) -> str:
    if arg.startswith("{glue:"):
        _, name, payload = arg[1:-1].split(":", 2)
        return _bad_glue(ws, base / "glue", name, bytes.fromhex(payload))
    if arg.startswith("{toml:"):
        path = ws / "sweep.toml"
        path.write_text(arg[6:-1])
        return str(path)
    table = {"{tiny}": base / "tiny", "{gpt2}": base / "gpt2", "{xlnet}": base / "xlnet", "{ffn-all}": base / "ffn-all",
             "{ffn-1}": base / "ffn-1", "{model-notok}": base / "notok", "{model-corrupt}": base / "corrupt",
             "{model-noweights}": base / "noweights", "{glue}": base / "glue", "{results}": ws / "runs.jsonl",
             "{empty}": ws / "empty", "{nonempty}": ws / "nonempty", "{csv}": ws / "data.csv", "{out}": ws / "out",
             "{corrupt}": ws / "corrupt.jsonl"}
    for key, value in table.items():
        arg = arg.replace(key, str(value))
    return arg


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input(name, base, tmp_path, monkeypatch):
    args, code, message, *swap = CASES[name]
    if swap:
        args = [swap[0].get(a, a) for a in args]
    ws = tmp_path
    (ws / "empty").mkdir()
    (ws / "nonempty").mkdir()
    (ws / "nonempty" / "keep.txt").write_text("keep")
    (ws / "data.csv").write_text("text,label\na,0\nb,1\n")
    (ws / "corrupt.jsonl").write_text('{"run_id": "x", "sta\nnot json\n')
    results = ws / "runs.jsonl"
    results.write_text(PRECIOUS)
    monkeypatch.chdir(ws)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("LAYERDROP_GLUE_DIR", raising=False)
    before = {p: p.read_bytes() for p in ws.rglob("*") if p.is_file()}

    result = CliRunner().invoke(app, [_expand(a, ws, base) for a in args])

    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr, result.exception)
    assert "Traceback" not in result.stderr
    # Torn or corrupt lines are reported as they are skipped (file:line); the error is one line.
    lines = [line for line in result.stderr.splitlines() if line.strip() and "skipping a" not in line]
    if name in LOADS_WEIGHTS:  # the weights' own check is loading them: its progress line comes first
        progress = lines[:-1]
        assert all(line.startswith(("loading ", "(", "Loading weights")) for line in progress), result.stderr
        lines = lines[-1:]
    assert len(lines) == 1, result.stderr
    assert message in lines[0], lines[0]
    assert lines[0].startswith("error:")
    for path, content in before.items():
        assert path.read_bytes() == content, f"{path} changed"
    assert not (ws / "s").exists() and not (ws / "out").exists()


def test_full_disk_fails_the_run_cleanly(base, tmp_path):
    if not os.path.exists("/dev/full"):
        pytest.skip("/dev/full not available")
    results = tmp_path / "runs.jsonl"
    results.symlink_to("/dev/full")  # every write fails with ENOSPC, as on a full disk
    result = CliRunner().invoke(app, ["run", "--model", str(base / "tiny"), "--task", "rte", "--data-dir", str(base / "glue"),
                                      "--k", "1", "--epochs", "1", "--results", str(results)])
    assert result.exit_code == 1
    last = [line for line in result.stderr.splitlines() if line.strip()][-1]
    assert last.startswith("error:") and "No space left on device" in last and "Traceback" not in result.stderr


def test_there_are_at_least_30_cases():
    assert len(CASES) >= 30
