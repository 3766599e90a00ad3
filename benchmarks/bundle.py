"""Copy what the benchmarks read into one folder, for a GPU machine with neither the hub nor ../shared.

    python benchmarks/bundle.py DEST                      # minilm-l6 and SST-2 + RTE, as stored
    python benchmarks/bundle.py DEST --fp16               # the weights in float16: half the bytes

DEST/model is the model folder (config, tokenizer, weights), DEST/glue/<TASK> the GLUE folders in
their original layout. On the other machine, point the scripts at them: `--model DEST/model`
and `LAYERDROP_GLUE_DIR=DEST/glue` (benchmarks/gpu_checks.sh takes `MODEL=` and the same variable).

`--fp16` is for a transfer with a size cap (minilm-l6's 87 MiB of float32 weights become 44 MiB).
Only float32 tensors in *.safetensors files are rounded, each to within 2**-11 of its value (values
below 6e-5 in magnitude lose more: float16 holds them as subnormals; a value that float16 cannot
hold at all stops the bundle). transformers loads such a
folder in float16 by default, but layerdrop's runs (and finetune_vs_trainer's Trainer peers) load
every checkpoint as float32, so they fine-tune the rounded weights in float32. Under
`--precision bf16` the matmuls round every weight to bf16 (2**-8) anyway; still, the bundle is
not the packaged model to the bit, and figures taken from it should say so.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

import _common


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dest", type=Path, help="folder to write (must not exist yet)")
    p.add_argument("--model", default="minilm-l6", help="layerdrop alias or local model folder (default minilm-l6)")
    p.add_argument("--tasks", default="sst2,rte", help="GLUE tasks to copy, comma-separated (default sst2,rte)")
    p.add_argument("--data-dir", help="GLUE folder (default $LAYERDROP_GLUE_DIR, else ../shared/data/glue)")
    p.add_argument("--fp16", action="store_true",
                   help="store *.safetensors float32 weights as float16 (half the bytes; runs load them "
                        "back as float32, each within 2**-11)")
    return p.parse_args(argv)


def model_files(source: Path):
    """Every file of the model folder, through linked folders (hub snapshots are links), skipping
    hidden folders such as .cache, whose contents no loader reads."""
    for folder, subfolders, files in os.walk(source, followlinks=True):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        for name in sorted(files):
            yield Path(folder) / name


def copy_model(source: Path, dest: Path, fp16: bool) -> int:
    """Copy the model folder file by file, rounding *.safetensors' float32 tensors when asked; bytes written."""
    import torch
    from safetensors import safe_open
    from safetensors.torch import save_file

    written = 0
    for path in model_files(source):
        target = dest / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        if fp16 and path.suffix == ".safetensors":
            with safe_open(str(path), framework="pt") as f:
                metadata = f.metadata()
                tensors = {name: f.get_tensor(name) for name in f.keys()}
            for name, tensor in tensors.items():
                if tensor.dtype == torch.float32:
                    tensors[name] = tensor.half()
                    if not torch.isfinite(tensors[name]).all() and torch.isfinite(tensor).all():
                        raise SystemExit(f"--fp16: {path.name}:{name} holds values float16 cannot (|x| > 65504)")
            save_file(tensors, str(target), metadata=metadata)
        else:
            if fp16 and path.suffix in (".bin", ".pt", ".pth", ".h5", ".msgpack"):
                print(f"--fp16: {path.name} is copied as it is (only *.safetensors are rounded)", file=sys.stderr)
            shutil.copy2(path, target)
        written += target.stat().st_size
    return written


def main(argv=None) -> int:
    _common.offline()
    args = parse_args(argv)
    from layerdrop.errors import LayerdropError
    from layerdrop.models.loading import resolve
    from layerdrop.data.tasks import get_task

    if args.dest.exists():
        raise SystemExit(f"{args.dest} exists already: pass a new folder")
    source = resolve(args.model)
    if not source.is_local:
        raise SystemExit(f"--model {args.model}: {source.location} is not a local folder (bundle a downloaded copy)")
    glue = Path(_common.glue_dir(args.data_dir))
    try:
        folders = [get_task(t).glue_folder for t in args.tasks.split(",") if t.strip()]
    except LayerdropError as exc:
        raise SystemExit(f"--tasks: {exc}") from None
    missing = [f for f in folders if not (glue / f).is_dir()]
    if missing:
        raise SystemExit(f"--tasks: {glue} has no {', '.join(missing)} folder")

    # Written beside DEST and renamed at the end, so a failed bundle leaves no DEST to refuse next time.
    partial = args.dest.with_name(args.dest.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        model_bytes = copy_model(Path(source.location), partial / "model", args.fp16)
        for folder in folders:
            shutil.copytree(glue / folder, partial / "glue" / folder)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    partial.rename(args.dest)
    glue_bytes = sum(p.stat().st_size for p in (args.dest / "glue").rglob("*") if p.is_file())
    print(f"{args.dest}/model: {model_bytes / 2**20:.1f} MiB ({'float16' if args.fp16 else 'as stored'}); "
          f"{args.dest}/glue: {', '.join(folders)}, {glue_bytes / 2**20:.1f} MiB", file=sys.stderr)
    print(f"SUMMARY bundle {args.dest}: {(model_bytes + glue_bytes) / 2**20:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
