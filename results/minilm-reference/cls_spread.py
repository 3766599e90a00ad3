"""How much does each layer's [CLS] vector vary between inputs? The README's explanation of top dropping.

The classification head of a BERT model reads the [CLS] vector of the last kept layer. After top
dropping, that is a lower layer's [CLS]. This script prints, for the pretrained model (no
fine-tuning) and a sample of a task's training inputs, per layer:

- cls_norm: mean L2 norm of [CLS];
- cls_spread: the spread of [CLS] between inputs (per-feature std over the inputs, summed in
  quadrature) relative to its mean norm. Near 0 means [CLS] is nearly the same vector for every
  input, so a head over it starts with almost no signal;
- mean_spread: the same for the mean over the input's real tokens (sentence-transformers' pooling);
- pooled_std: mean per-feature std of the pretrained pooler's output (tanh(dense([CLS]))), what the
  new classifier actually sees.

Then, for each fixed strategy of the reference sweep at K = 1, 2, 3, the model is cut with
layerdrop's surgery and the [CLS] spread of its last layer is printed: what the head of that
cell starts from before fine-tuning.

    python results/minilm-reference/cls_spread.py                      # minilm-l6, RTE, 256 pairs
    python results/minilm-reference/cls_spread.py --task sst2 --model bert-base
"""

from __future__ import annotations

import argparse


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="minilm-l6", help="layerdrop alias, hub id or local folder (default minilm-l6)")
    p.add_argument("--task", default="rte", help="GLUE task whose training inputs are used (default rte)")
    p.add_argument("--data-dir", default="../shared/data/glue", help="GLUE folder (default ../shared/data/glue)")
    p.add_argument("--examples", type=int, default=256, help="seeded sample of training inputs (default 256)")
    p.add_argument("--max-seq-length", type=int, default=128)
    args = p.parse_args(argv)

    import copy

    import torch
    from transformers import AutoModel, AutoTokenizer

    from layerdrop.selection import registry
    from layerdrop.data.loading import load_task_data, subsample
    from layerdrop.models.loading import resolve
    from layerdrop.models.surgery import drop_layers
    from layerdrop.data.tasks import get_task

    task = get_task(args.task)
    split = subsample(load_task_data(task, args.data_dir)["train"], args.examples, seed=1)
    location = resolve(args.model).location
    tokenizer = AutoTokenizer.from_pretrained(location)
    model = AutoModel.from_pretrained(location).eval()
    enc = tokenizer(*[list(f) for f in split.texts], truncation=True, max_length=args.max_seq_length,
                    padding=True, return_tensors="pt")
    torch.set_grad_enabled(False)
    hidden = model(**enc, output_hidden_states=True).hidden_states
    mask = enc["attention_mask"].unsqueeze(-1).float()
    pooler = getattr(model, "pooler", None)

    def spread(x: torch.Tensor) -> float:
        return float(x.std(0).norm() / x.norm(dim=-1).mean())

    print(f"# {args.model}, {len(split)} {args.task} training inputs; 'after' names the 0-based layer whose output "
          f"is measured")
    print("after\tcls_norm\tcls_spread\tmean_spread\tpooled_std")
    for index, h in enumerate(hidden):  # hidden[0] is the embeddings, hidden[i] layer i-1's output
        layer = "embed" if index == 0 else str(index - 1)
        cls, mean = h[:, 0], (h * mask).sum(1) / mask.sum(1)
        pooled = f"{float(torch.tanh(pooler.dense(cls)).std(0).mean()):.4f}" if pooler is not None else "-"
        print(f"{layer}\t{float(cls.norm(dim=-1).mean()):.2f}\t{spread(cls):.4f}\t{spread(mean):.4f}\t{pooled}")

    print("\nstrategy\tK\tdropped\tcls_spread of the cut model's last layer")
    n_layers = model.config.num_hidden_layers
    for name, params in (("top", {}), ("bottom", {}), ("alternate", {"parity": "even"}),
                         ("alternate", {"parity": "odd"}), ("symmetric", {})):
        for k in (1, 2, 3):
            dropped = registry.plan(name, params).select(n_layers, k).dropped_layers
            cut = drop_layers(copy.deepcopy(model), dropped)
            cls = cut(**enc).last_hidden_state[:, 0]
            label = f"{params['parity']}-alternate" if params else name
            print(f"{label}\t{k}\t{','.join(map(str, dropped))}\t{spread(cls):.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
