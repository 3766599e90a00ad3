"""Sweeps: a grid of models x strategies x K x tasks x seeds (x components, attention
normalizers and LayerNorm removals), run as resumable cells.

Each cell is a `RunConfig` whose run id is a hash of the config, so re-running a sweep skips
cells already recorded as `ok` and reruns failed ones. The K=0 baseline (the full model) is one
cell per model x task x seed x normalizer x LayerNorm removal, whatever the strategies and
components: removing no layer and removing no sublayer are the same model.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from layerdrop import progress
from layerdrop.experiments import records
from layerdrop.experiments.config import RunConfig
from layerdrop.errors import LayerdropError, UsageError

# Training settings a sweep passes to every cell: every RunConfig field but the grid axes.
GRID_FIELDS = {"model", "task", "strategy", "k", "params", "seed", "component", "attention", "drop_layernorm"}
TRAIN_FIELDS = {f.name for f in dataclasses.fields(RunConfig)} - GRID_FIELDS
BASELINE = ("top", ())  # how the K=0 cell is spelled, so its run id is the same in every sweep


@dataclass(frozen=True)
class StrategySpec:
    """One strategy entry of a sweep: a name (or plugin spec) and its parameters."""

    name: str
    params: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> StrategySpec:
        """`alternate,parity=odd` -> StrategySpec("alternate", ("parity=odd",))."""
        name, *parts = [part.strip() for part in text.split(",")]
        params: list[str] = []
        for part in parts:
            if "=" not in part and params:  # explicit,layers=2,5,7: list values continue the last param
                params[-1] += f",{part}"
            elif part:
                params.append(part)
        return cls(name, tuple(params))

    @property
    def sets_k(self) -> bool:
        """Entries with a threshold (or explicit layers) choose K themselves: one cell, no K axis."""
        return any(p.split("=")[0].strip() in ("threshold", "layers") for p in self.params)


@dataclass(frozen=True)
class SweepConfig:
    """The grid and the settings every cell shares. Field names match `layerdrop sweep` flags."""

    name: str
    models: tuple[str, ...]
    strategies: tuple[StrategySpec, ...]
    ks: tuple[int, ...]
    tasks: tuple[str, ...]
    seeds: tuple[int, ...] = (42,)
    baseline: bool = True
    train: dict[str, Any] = field(default_factory=dict)
    components: tuple[str, ...] = ("layer",)
    attention: tuple[str, ...] = ("softmax",)
    drop_layernorm: tuple[str | None, ...] = (None,)

    def results_path(self, root: str | Path = "results") -> Path:
        return Path(root) / self.name / "runs.jsonl"


def check_name(name: str) -> str:
    """Sweep names become folder names: no path separators, no `..`."""
    if not name or name in (".", "..") or any(c in name for c in "/\\\0") or name.startswith("."):
        raise UsageError(f"sweep name '{name}' is not a plain folder name", "use letters, digits, '-' and '_'")
    return name


def load_toml(path: str | Path, overrides: dict[str, Any] | None = None) -> SweepConfig:
    """Read a sweep file; unknown keys and wrong types are errors naming the key."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"sweep file {path} does not exist", "check --config") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path} is not valid TOML: {exc}", "fix the file") from None
    allowed = {"name", "models", "strategies", "k", "tasks", "seeds", "baseline", "train", "components", "attention",
               "drop_layernorm"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise UsageError(f"{path}: unknown key '{unknown[0]}'", f"allowed keys: {', '.join(sorted(allowed))}")
    data = {**data, **{k: v for k, v in (overrides or {}).items() if v}}

    def listed(key: str, kind: type) -> tuple:
        value = data.get(key, [])
        value = value if isinstance(value, list) else [value]
        if not all(isinstance(v, kind) and not isinstance(v, bool) for v in value):
            raise UsageError(f"{path}: '{key}' must be a list of {kind.__name__}", f"e.g. {key} = {[kind()] if kind is int else ['...']}")
        return tuple(value)

    strategies = []
    for entry in data.get("strategies", []):
        if isinstance(entry, str):
            strategies.append(StrategySpec.parse(entry))
        elif isinstance(entry, dict) and isinstance(entry.get("name"), str):
            params = entry.get("params", {})
            if not isinstance(params, dict) or set(entry) - {"name", "params"}:
                raise UsageError(f"{path}: strategy entry {entry} is malformed", 'write {name = "alternate", params = {parity = "odd"}}')
            strategies.append(StrategySpec(entry["name"], tuple(f"{k}={_toml_value(v)}" for k, v in params.items())))
        else:
            raise UsageError(f"{path}: strategy entry {entry!r} is malformed", 'write "top" or {name = "alternate", params = {parity = "odd"}}')
    train = data.get("train", {})
    if not isinstance(train, dict):
        raise UsageError(f"{path}: [train] must be a table", "write [train] followed by key = value lines")
    return SweepConfig(
        name=check_name(str(data.get("name") or path.stem)), models=listed("models", str),
        strategies=tuple(strategies), ks=listed("k", int), tasks=listed("tasks", str), seeds=listed("seeds", int) or (42,),
        baseline=_boolean(data.get("baseline", True), f"{path}: 'baseline'"), train=check_train(train, str(path)),
        components=listed("components", str) or ("layer",), attention=listed("attention", str) or ("softmax",),
        drop_layernorm=layernorm_axis(listed("drop_layernorm", str)),
    )


def layernorm_axis(values) -> tuple[str | None, ...]:
    """The drop_layernorm axis: "none" (a TOML list cannot hold null) is no removal."""
    return tuple(None if value == "none" else value for value in values) or (None,)


def _boolean(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise UsageError(f"{where} must be true or false, not {value!r}", "write baseline = false (no quotes)")
    return value


def _toml_value(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


def check_train(train: dict[str, Any], where: str) -> dict[str, Any]:
    types = {f.name: f.type for f in dataclasses.fields(RunConfig)}
    for key, value in train.items():
        if key not in TRAIN_FIELDS:
            from layerdrop.errors import did_you_mean

            raise UsageError(f"{where}: unknown training setting '{key}'{did_you_mean(key, TRAIN_FIELDS)}", f"allowed: {', '.join(sorted(TRAIN_FIELDS))}")
        expected = str(types[key])
        ok = (("float" in expected and isinstance(value, (int, float))) or ("int" in expected and isinstance(value, int))
              or ("str" in expected and isinstance(value, str)) or ("bool" in expected and isinstance(value, bool))
              or ("tuple" in expected and isinstance(value, list)))
        if isinstance(value, bool) and "bool" not in expected:
            ok = False
        if not ok:
            raise UsageError(f"{where}: training setting '{key}' = {value!r} has the wrong type", f"expected {expected}")
    return {k: tuple(v) if isinstance(v, list) else v for k, v in train.items()}


def expand(sweep: SweepConfig) -> list[RunConfig]:
    """Every cell of the grid, in a fixed order (model, task, seed, normalizer, LayerNorm removal,
    baseline, component, strategy, K)."""
    cells: list[RunConfig] = []
    for model in sweep.models:
        for task in sweep.tasks:
            for seed in sweep.seeds:
                for attention in sweep.attention:
                    for layernorm in sweep.drop_layernorm:
                        base = dict(model=model, task=task, seed=seed, attention=attention, drop_layernorm=layernorm,
                                    **sweep.train)
                        if sweep.baseline:  # spelled as whole layers, so every component shares it
                            cells.append(RunConfig(strategy=BASELINE[0], params=BASELINE[1], k=0, **base))
                        for component in sweep.components:
                            for spec in sweep.strategies:
                                for k in (None,) if spec.sets_k else sweep.ks:
                                    if k == 0:
                                        continue  # the baseline cell covers it
                                    cells.append(RunConfig(strategy=spec.name, params=spec.params, k=k,
                                                           component=component, **base))
    seen, unique = set(), []
    for cell in cells:
        if cell.run_id not in seen:
            seen.add(cell.run_id)
            unique.append(cell)
    return unique


def cell_variant(cell: RunConfig) -> str:
    """`top`, `alternate['parity=even'] ffn`, `top relu attn no LN after ffn`: what a cell removes and changes."""
    from layerdrop.experiments.config import variant_words

    words = variant_words(cell.component, cell.attention, cell.drop_layernorm, cell.k)
    return " ".join([f"{cell.strategy}{list(cell.params) or ''}", *words])


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """`"2/4"` -> (2, 4); cells i with i % N == I - 1 belong to shard I."""
    if text is None:
        return None
    try:
        index, total = (int(x) for x in text.split("/"))
    except ValueError:
        raise UsageError(f"malformed --shard '{text}'", "write I/N, e.g. --shard 1/4") from None
    if total < 1 or not 1 <= index <= total:
        raise UsageError(f"--shard {text} is outside 1..N", f"choose I between 1 and {max(total, 1)}")
    return index, total


def shard_cells(cells: list[RunConfig], shard: tuple[int, int] | None) -> list[RunConfig]:
    if shard is None:
        return cells
    index, total = shard
    return [cell for i, cell in enumerate(cells) if i % total == index - 1]


def done_records(results: Path, reused_count: bool = True) -> dict[str, dict]:
    """Run id -> the last `ok` record of each cell already done (failed and interrupted ones rerun).

    With `reused_count=False` (`--no-reuse`), a cell that copied a twin's result is not done: it
    has not been trained yet.
    """
    if not results.is_file():
        return {}
    return {r["run_id"]: r for r in records.read(results, warn=progress.log)
            if r.get("status") == "ok" and (reused_count or not r.get("reused_from"))}


def done_ids(results: Path, reused_count: bool = True) -> set[str]:
    """The run ids of `done_records`."""
    return set(done_records(results, reused_count))


class DoneTracker:
    """`done_ids`, re-read only when the results file has grown (another process appended)."""

    def __init__(self, results: Path, reused_count: bool = True):
        self.results, self.reused_count, self._size, self._ids = results, reused_count, -1, set()

    def __contains__(self, run_id: str) -> bool:
        size = self.results.stat().st_size if self.results.is_file() else 0
        if size != self._size:
            self._size, self._ids = size, done_ids(self.results, self.reused_count)
        return run_id in self._ids


@dataclass
class SweepOutcome:
    ran: int = 0
    reused: int = 0
    skipped: int = 0
    failed: list[str] = field(default_factory=list)
    records: list[dict] = field(default_factory=list)

    @property
    def finished(self) -> int:
        """Cells this sweep has got past, in any way: for the "(N of M)" of its log lines."""
        return self.skipped + len(self.records) + len(self.failed)


# How often a worker looks again at cells other workers hold.
REVISIT_S = 5.0


def _unsettled(cells: list[RunConfig], tracker: DoneTracker, results: Path, since: str) -> list[RunConfig]:
    """Of cells other processes held, those still to do: not done, and not recorded as failed since
    this worker started (a failure is final for this run of the sweep; interrupted is not). Waits
    `REVISIT_S` first, so the holders get on with them."""
    import time

    time.sleep(REVISIT_S)
    failed = {r["run_id"] for r in records.read(results, warn=lambda _: None)
              if r.get("status") == "failed" and str(r.get("ended_at", "")) >= since} if results.is_file() else set()
    return [cell for cell in cells if cell.run_id not in tracker and cell.run_id not in failed]


def execute(cells: list[RunConfig], results: Path, force: bool = False, fail_fast: bool = False,
            reuse: bool = True, resources=None, wait_for_claimed: bool = False) -> SweepOutcome:
    """Run the cells not yet done, sharing loaded models and tokenized data across them.

    With `reuse` (not under `force`), a cell that drops the same layers as one already recorded,
    with the same seed and settings (e.g. top and even-alternate at K=1), copies that cell's result
    instead of training the identical model again; its record says `reused_from`. Without it,
    cells that reused a result earlier count as not done, and train. `resources` (shared) may
    come already holding data, from `sweep_checks.check_data`.

    With `wait_for_claimed` (every worker of an executor), cells another process held are
    revisited until each is done or has failed: a lost worker's cell (its claim gone stale, or
    recorded as interrupted) is taken over, so the workers together leave nothing undone.
    """
    from layerdrop.experiments.resources import Resources
    from layerdrop.experiments.runner import run

    records.check_writable(results)
    # One per process: each model loaded once, each task tokenized once.
    resources = resources or Resources(shared=True)
    accelerator = None
    if cells:
        from layerdrop.training.loop import make_accelerator

        accelerator = make_accelerator(cells[0])  # one per process: Accelerate keeps global state
    tracker = DoneTracker(results, reused_count=reuse)
    done = set() if force else {cell.run_id for cell in cells if cell.run_id in tracker}
    if accelerator is not None and accelerator.num_processes > 1:
        # Under `accelerate launch` the processes train each cell together: rank 0 decides what
        # is left and all follow that list (per-process claims would split them across cells).
        from accelerate.utils import broadcast_object_list

        shared = [sorted(done)]
        broadcast_object_list(shared, from_process=0)
        done = set(shared[0])
    todo = [cell for cell in cells if cell.run_id not in done]
    outcome = SweepOutcome(skipped=len(cells) - len(todo))
    if outcome.skipped:
        progress.log(f"{outcome.skipped} of {len(cells)} cells already done; running {len(todo)}")
    import contextlib

    from layerdrop.experiments.claims import claim

    claims = results.parent / "claims"
    together = accelerator is not None and accelerator.num_processes > 1
    started = records.now()

    def attempt(cell: RunConfig, update) -> str:
        """Run one cell if this process gets it: "ran", "skipped", "held" (another process has it,
        to revisit) or "stop" (it failed under --fail-fast)."""
        label = f"{cell.model} {cell.task} {cell_variant(cell)} k={cell.k} seed={cell.seed}"
        update(0, info=label)
        with (contextlib.nullcontext(True) if together else claim(claims, cell.run_id)) as mine:
            # Another process may hold this cell, or have finished it since we looked.
            if not together and (not mine or (not force and cell.run_id in tracker)):
                if not mine and wait_for_claimed and cell.run_id not in tracker:
                    return "held"
                outcome.skipped += 1
                return "skipped"
            try:
                record = run(cell, results=results, resources=resources, reuse=reuse and not force,
                             record_setup_failure=True, accelerator=accelerator)
            except Exception as exc:  # one cell's failure, whatever it is, must not end the sweep
                reason = str(exc) if isinstance(exc, LayerdropError) else f"{type(exc).__name__}: {exc}"
                outcome.failed.append(f"{label}: {reason}")
                progress.log(f"cell failed ({outcome.finished} of {len(cells)}): {label}: {reason}")
                return "stop" if fail_fast else "ran"
            outcome.records.append(record)
            # One line per cell, so a sweep's log file (where no bar is drawn) shows progress.
            metric = record["main_metric"]
            progress.log(f"cell done ({outcome.finished} of {len(cells)}): {label}: "
                         f"{metric['name']} {metric['value']:.4f} in {record['total_seconds']:.0f} s")
            if record.get("reused_from"):
                outcome.reused += 1
            else:
                outcome.ran += 1
            return "ran"

    with progress.bar("sweep", len(cells), completed=outcome.skipped) as update:
        queue = list(todo)
        while queue:
            held = []
            for cell in queue:
                result = attempt(cell, update)
                if result == "held":
                    held.append(cell)
                    continue
                update(1)
                if result == "stop":
                    return outcome
            queue = _unsettled(held, tracker, results, started) if held else []
            outcome.skipped += len(held) - len(queue)  # finished (or failed) by the processes that held them
            update(len(held) - len(queue))
    return outcome
