from __future__ import annotations

from typing import Annotated, Optional

import typer

from layerdrop.cli import common, training

GRID = "Grid"
RUNNING = "Running"
SCALE = "Workers (local processes, Slurm jobs or Ray tasks)"
EVERY_CELL = "Fine-tuning (every cell; as in layerdrop run)"


def sweep(
    model: Annotated[Optional[list[str]], typer.Option("--model", "-m", help="Model(s), repeatable.", rich_help_panel=GRID)] = None,
    strategy: Annotated[Optional[list[str]], typer.Option("--strategy", "-s", help="Strategy, repeatable; parameters after commas: alternate,parity=odd.", rich_help_panel=GRID)] = None,
    k: Annotated[Optional[list[int]], typer.Option("--k", "-k", help="Layers to drop, repeatable. The K=0 baseline is added once per model x task x seed.", rich_help_panel=GRID)] = None,
    task: Annotated[Optional[list[str]], typer.Option("--task", "-t", help="Task(s), repeatable.", rich_help_panel=GRID)] = None,
    seed: Annotated[Optional[list[int]], typer.Option("--seed", help="Seed(s), repeatable.", rich_help_panel=GRID)] = None,
    name: Annotated[Optional[str], typer.Option("--name", help="Sweep name: results go to <results-dir>/<name>/runs.jsonl.", rich_help_panel=GRID)] = None,
    config: Annotated[Optional[str], typer.Option("--config", "-c", help="A sweep TOML file (flags given too override its lists).", rich_help_panel=GRID)] = None,
    train: Annotated[Optional[list[str]], typer.Option("--train", help="Any run setting for every cell, key=value, repeatable (e.g. epochs=3, train_file=my.csv); the common ones also have their own flags, below.", rich_help_panel=GRID)] = None,
    component: Annotated[Optional[list[str]], typer.Option("--component", help="What K removes, repeatable: layer, ffn, attention (see layerdrop run --help).", rich_help_panel=GRID)] = None,
    attention: Annotated[Optional[list[str]], typer.Option("--attention", help="Attention normalizer(s), repeatable: softmax, relu, sigmoid. Each gets its own baseline.", rich_help_panel=GRID)] = None,
    drop_layernorm: Annotated[Optional[list[str]], typer.Option("--drop-layernorm", help="LayerNorm removal(s), repeatable: none, attention, ffn. Each gets its own baseline.", rich_help_panel=GRID)] = None,
    no_baseline: Annotated[bool, typer.Option("--no-baseline", help="Do not add the K=0 full-model cells.", rich_help_panel=GRID)] = False,
    data_dir: Annotated[Optional[str], training.option("data_dir", panel=EVERY_CELL)] = None,
    max_train_samples: Annotated[Optional[int], training.option("max_train_samples", panel=EVERY_CELL)] = None,
    max_eval_samples: Annotated[Optional[int], training.option("max_eval_samples", panel=EVERY_CELL)] = None,
    epochs: Annotated[Optional[float], training.option("epochs", panel=EVERY_CELL)] = None,
    learning_rate: Annotated[Optional[float], training.option("learning_rate", panel=EVERY_CELL)] = None,
    batch_size: Annotated[Optional[int], training.option("batch_size", panel=EVERY_CELL)] = None,
    eval_batch_size: Annotated[Optional[int], training.option("eval_batch_size", panel=EVERY_CELL)] = None,
    max_seq_length: Annotated[Optional[int], training.option("max_seq_length", panel=EVERY_CELL)] = None,
    weight_decay: Annotated[Optional[float], training.option("weight_decay", panel=EVERY_CELL)] = None,
    warmup_ratio: Annotated[Optional[float], training.option("warmup_ratio", panel=EVERY_CELL)] = None,
    max_grad_norm: Annotated[Optional[float], training.option("max_grad_norm", panel=EVERY_CELL)] = None,
    optimizer: Annotated[Optional[str], training.option("optimizer", panel=EVERY_CELL)] = None,
    lr_scheduler: Annotated[Optional[str], training.option("lr_scheduler", panel=EVERY_CELL)] = None,
    group_by_length: Annotated[Optional[bool], training.option("group_by_length", panel=EVERY_CELL)] = None,
    length_group_batches: Annotated[Optional[int], training.option("length_group_batches", panel=EVERY_CELL)] = None,
    device: Annotated[Optional[str], training.option("device", panel=EVERY_CELL)] = None,
    precision: Annotated[Optional[str], training.option("precision", panel=EVERY_CELL)] = None,
    fast: Annotated[Optional[bool], training.option("fast", panel=EVERY_CELL)] = None,
    results_dir: Annotated[str, typer.Option("--results-dir", help="Folder holding one folder per sweep.", rich_help_panel=RUNNING)] = "results",
    shard: Annotated[Optional[str], typer.Option("--shard", help="Run shard I of N (I/N): a fixed 1/N of the cells; shards append to the same file safely.", rich_help_panel=RUNNING)] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List the cells and the layers each drops; run nothing.", rich_help_panel=RUNNING)] = False,
    force: Annotated[bool, typer.Option("--force", help="Rerun cells already recorded as ok.", rich_help_panel=RUNNING)] = False,
    fail_fast: Annotated[bool, typer.Option("--fail-fast", help="Stop at the first failed cell.", rich_help_panel=RUNNING)] = False,
    executor: Annotated[Optional[str], typer.Option("--executor", help="How workers run: local (N processes on this machine), slurm (N worker jobs through submitit) or ray (N tasks on a Ray cluster). Without it, or --workers, the sweep runs in this process.", rich_help_panel=SCALE)] = None,
    workers: Annotated[Optional[int], typer.Option("--workers", help="Workers that share the sweep, each claiming the next free cell (local default: one per GPU, else one per CPU core, single-threaded; slurm and ray default: 1).", rich_help_panel=SCALE)] = None,
    partition: Annotated[Optional[str], typer.Option("--partition", help="slurm: the partition of the worker jobs.", rich_help_panel=SCALE)] = None,
    gpus_per_worker: Annotated[int, typer.Option("--gpus-per-worker", help="slurm and ray: GPUs per worker.", rich_help_panel=SCALE)] = 0,
    cpus_per_worker: Annotated[int, typer.Option("--cpus-per-worker", help="slurm and ray: CPUs per worker.", rich_help_panel=SCALE)] = 1,
    time_min: Annotated[int, typer.Option("--time-min", help="slurm: each worker job's time limit, in minutes (a requeued worker goes on).", rich_help_panel=SCALE)] = 1440,
    slurm_arg: Annotated[Optional[list[str]], typer.Option("--slurm-arg", help="slurm: any other sbatch setting, key=value, repeatable (e.g. account=abc, qos=high).", rich_help_panel=SCALE)] = None,
    slurm_cluster: Annotated[Optional[str], typer.Option("--slurm-cluster", help="slurm: 'local' runs the worker jobs with submitit's local executor, to try a cluster sweep here.", rich_help_panel=SCALE)] = None,
    ray_address: Annotated[Optional[str], typer.Option("--ray-address", help="ray: the cluster to join (default: start a local Ray). --gpus-per-worker and --cpus-per-worker apply.", rich_help_panel=SCALE)] = None,
    wait: Annotated[bool, typer.Option("--wait", help="slurm: wait for the worker jobs (default: print their ids and return).", rich_help_panel=SCALE)] = False,
    status: Annotated[bool, typer.Option("--status", help="Print where the sweep stands (done / running / failed / pending cells, time left) from the results folder; run nothing.", rich_help_panel=RUNNING)] = False,
    wait_for_claimed: Annotated[bool, typer.Option("--wait-for-claimed", hidden=True, help="Revisit cells other workers hold until each is done or failed (set for executor workers).")] = False,
    no_reuse: Annotated[bool, typer.Option("--no-reuse", help="Train every cell, even one that drops the same layers as a finished cell with the same seed and settings (by default it copies that result, marked reused_from).", rich_help_panel=RUNNING)] = False,
    json: common.Json = False,
) -> None:
    """Run a grid of models x strategies x K x tasks x seeds, resumably.

    Each cell is one `layerdrop run` (same record). Re-running the same command skips finished
    cells and reruns failed ones; --shard I/N splits the grid across jobs or GPUs.

    Examples:

        layerdrop sweep --model minilm-l6 --strategy top --strategy bottom --k 1 --k 2 --task rte --task mrpc --seed 1 --seed 2 --seed 3 --name my-sweep

        layerdrop sweep --config sweep.toml --dry-run

        layerdrop sweep --config sweep.toml --shard 2/4
    """
    # Before anything else is bound: the run flags given on the command line (None: not given).
    flags = {field: value for field, value in locals().items() if field in training.FLAGS and value is not None}
    import dataclasses

    from layerdrop.experiments import sweep as sweeps
    from layerdrop.errors import UsageError
    from layerdrop.selection.params import parse_pairs

    overrides = {"models": list(model or []), "strategies": list(strategy or []), "k": list(k or []),
                 "tasks": list(task or []), "seeds": list(seed or []), "components": list(component or []),
                 "attention": list(attention or []), "drop_layernorm": list(drop_layernorm or [])}
    shard_spec = sweeps.parse_shard(shard)
    train_settings = _train_values(parse_pairs(train or [], flag="--train", example="epochs=3"))
    clash = sorted(train_settings.keys() & flags.keys())
    if clash:
        flag = training.FLAGS[clash[0]][0][0].split("/")[0]
        raise UsageError(f"--train {clash[0]}=... and {flag} both set {clash[0]}", "give it once")
    train_settings.update(flags)
    if config:
        spec = sweeps.load_toml(config, {**overrides, "name": name})
        if train_settings:
            spec = dataclasses.replace(spec, train={**spec.train, **sweeps.check_train(train_settings, "--train")})
    else:
        if not name:
            raise UsageError("a sweep needs --name (or --config FILE)", "pass --name my-sweep: results go to results/my-sweep/")
        spec = sweeps.SweepConfig(
            name=sweeps.check_name(name), models=tuple(overrides["models"]),
            strategies=tuple(sweeps.StrategySpec.parse(s) for s in overrides["strategies"]), ks=tuple(overrides["k"]),
            tasks=tuple(overrides["tasks"]), seeds=tuple(overrides["seeds"]) or (42,), baseline=True,
            train=sweeps.check_train(train_settings, "--train"), components=tuple(overrides["components"]) or ("layer",),
            attention=tuple(overrides["attention"]) or ("softmax",),
            drop_layernorm=sweeps.layernorm_axis(overrides["drop_layernorm"]),
        )
    if no_baseline:
        spec = dataclasses.replace(spec, baseline=False)
    if status:
        return _print_status(spec, results_dir, json)
    from layerdrop.experiments import sweep_checks

    layers = sweep_checks.validate(spec)
    grid = sweeps.expand(spec)
    cells = sweeps.shard_cells(grid, shard_spec)
    results = spec.results_path(results_dir)
    if dry_run:
        _print_plan(cells, grid, layers, sweeps.done_records(results, reused_count=not no_reuse), json, reuse=not (no_reuse or force))
        return
    from layerdrop import interrupts

    interrupts.install()  # SIGTERM like Ctrl-C: the running record is written as interrupted, exit 130
    if executor is not None or workers is not None:
        from layerdrop.experiments import executors

        if (executor or "local") not in executors.EXECUTORS:
            from layerdrop.errors import unknown_name

            raise unknown_name("executor", executor, executors.EXECUTORS, "")
        from layerdrop.experiments.resources import Resources

        raw = common.STATE["argv"]
        argv = executors.worker_argv(raw[raw.index("sweep") + 1:])  # the sweep's own arguments
        if executor == "slurm":
            raise typer.Exit(_slurm(argv, cells, results, workers or 1, partition, gpus_per_worker, cpus_per_worker,
                                    time_min, slurm_arg, slurm_cluster, wait))
        if executor == "ray":
            from layerdrop.experiments import ray_executor

            ray_executor._ray()  # not installed: exit 2 before the data is read
            sweep_checks.check_data(cells, Resources(shared=True))
            raise typer.Exit(ray_executor.run(argv, workers or 1, results.parent, ray_address, gpus_per_worker,
                                              cpus_per_worker))
        planned = executors.plan_workers(workers, results.parent)
        sweep_checks.check_data(cells, Resources(shared=True))  # bad data: exit 2 here, not once per worker
        raise typer.Exit(executors.run_local(argv, planned))
    from layerdrop.experiments.resources import Resources

    resources = Resources(shared=True)
    sweep_checks.check_data(cells, resources)
    outcome = sweeps.execute(cells, results, force=force, fail_fast=fail_fast, reuse=not no_reuse, resources=resources,
                             wait_for_claimed=wait_for_claimed)
    common.err.print(f"sweep {spec.name}: {outcome.ran} ran, {outcome.reused} reused a twin's result, {outcome.skipped} already done, "
                     f"{len(outcome.failed)} failed; results in {results}", highlight=False, markup=False)
    if json:
        common.print_json({"ran": outcome.ran, "reused": outcome.reused, "skipped": outcome.skipped, "failed": outcome.failed, "results": str(results)})
    elif outcome.records:
        common.out.print(common.run_table(outcome.records))
    if outcome.failed:
        raise typer.Exit(1)


def _train_values(pairs: dict[str, str]) -> dict:
    import tomllib

    values = {}
    for key, text in pairs.items():
        try:  # numbers, booleans and quoted strings as TOML would read them; anything else is a string
            values[key] = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            values[key] = text
    return values


def _print_plan(cells, grid, layers: dict[str, int], done: dict[str, dict], as_json: bool, reuse: bool) -> None:
    """The cells of this shard, the layers each drops, and its twin: the first cell of the whole
    grid that trains the same model (data-driven strategies find theirs only at run time, so
    their layers show once the cell is done, from its record)."""
    from layerdrop.selection import registry
    from layerdrop.experiments.config import config_dict
    from layerdrop.experiments.records import training_identity
    from layerdrop.experiments.sweep import cell_variant
    from layerdrop.selection.strategy import ScoresNeeded

    dropped, first_with = {}, {}
    for cell in grid:
        try:
            dropped_layers = registry.plan(cell.strategy, cell.params).select(layers[cell.model], cell.k,
                                                                             component=cell.component).dropped_layers
        except ScoresNeeded:
            finished = done.get(cell.run_id)
            dropped[cell.run_id] = (common.layers_text(finished["dropped_layers"] or (finished.get("removed_sublayers") or {}).get(cell.component, []))
                                    + " (from scores)" if finished
                                    else "chosen from scores at run time", None)
            continue
        # The same identity a run looks its twin up by, from what is known before anything loads.
        whole = cell.component == "layer"
        identity = training_identity({"config": config_dict(cell), "dropped_layers": dropped_layers if whole else [],
                                      "removed_sublayers": {} if whole else {cell.component: list(dropped_layers)}})
        origin = first_with.setdefault(identity, cell.run_id)
        dropped[cell.run_id] = (common.layers_text(dropped_layers), origin if reuse and origin != cell.run_id else None)
    rows = [{"run_id": cell.run_id, "model": cell.model, "task": cell.task, "strategy": cell.strategy,
             "params": list(cell.params), "component": cell.component, "attention": cell.attention,
             "drop_layernorm": cell.drop_layernorm, "variant": cell_variant(cell), "k": cell.k, "seed": cell.seed, "dropped": dropped[cell.run_id][0],
             "done": cell.run_id in done, "twin_of": dropped[cell.run_id][1]} for cell in cells]
    if as_json:
        common.print_json(rows)
        return
    from rich.table import Table

    table = Table("run id", "model", "task", "strategy", "K", "seed", "dropped", "done", "twin of", box=None)
    for r in rows:
        table.add_row(r["run_id"], r["model"], r["task"], r["variant"], str(r["k"]), str(r["seed"]), r["dropped"],
                      "yes" if r["done"] else "", r["twin_of"] or "")
    common.out.print(table)
    twins = sum(bool(r["twin_of"]) for r in rows if not r["done"])
    common.out.print(f"{len(rows)} cells, {sum(r['done'] for r in rows)} already done"
                     + (f", {twins} to run are twins of an earlier cell (same layers, seed and settings) and reuse its "
                        "result if it has finished by then (--no-reuse trains them)" if twins else ""))


def _print_status(spec, results_dir: str, as_json: bool) -> None:
    """`--status`: every cell's state from the results folder, and the time left."""
    from layerdrop.experiments import sweep as sweeps
    from layerdrop.experiments.status import status

    state = status(sweeps.expand(spec), spec.results_path(results_dir))
    if as_json:
        common.print_json(state.as_dict())
        return
    from rich.table import Table

    left = state.seconds_left
    table = Table("cells", "done", "running", "failed", "pending", "median cell", "time left", box=None)
    table.add_row(str(state.total), str(len(state.done)), str(len(state.running)), str(len(state.failed)),
                  str(len(state.pending)), "–" if state.cell_seconds is None else f"{state.cell_seconds:.0f} s",
                  "–" if left is None else f"{left / 60:.0f} min")
    common.out.print(table)
    if state.running:
        running = Table("running", "run id", "worker", "host", "pid", "job", "for", box=None)
        for r in state.running:
            running.add_row(r["cell"], r["run_id"], str(r["worker"] or "-"), str(r["host"]), str(r["pid"]),
                            str(r["job"] or "-"), f"{r['seconds'] / 60:.1f} min")
        common.out.print(running)


def _slurm(argv, cells, results, workers, partition, gpus, cpus, time_min, slurm_arg, cluster, wait) -> int:
    """Submit the worker array; print its job ids (stdout); with --wait, follow it to the end."""
    from layerdrop.experiments import slurm, sweep_checks
    from layerdrop.experiments.resources import Resources
    from layerdrop.selection.params import parse_pairs

    settings = slurm.SlurmSettings(workers=workers, cluster=cluster, partition=partition, gpus_per_worker=gpus,
                                   cpus_per_worker=cpus, time_min=time_min,
                                   extra=parse_pairs(slurm_arg or [], flag="--slurm-arg", example="account=abc"))
    slurm.check(settings)
    sweep_checks.check_data(cells, Resources(shared=True))
    jobs = slurm.submit(argv, settings, results.parent)
    for job in jobs:
        common.out.print(job.job_id, markup=False, highlight=False)
    common.err.print(f"submitted {len(jobs)} worker job(s); follow them with layerdrop sweep ... --status",
                     highlight=False, markup=False)
    if not wait:
        return 0
    codes = []
    for job in jobs:
        try:
            codes.append(job.result())
        except Exception as exc:  # the job's own failure, as submitit reports it
            common.err.print(f"worker job {job.job_id} failed: {str(exc).splitlines()[0]}", highlight=False, markup=False)
            codes.append(1)
    return max(codes)
