"""Fine-tuning: the loop, the Accelerator, hardware figures and FLOP counts. The optional speed
paths behind `--fast` live in `training.fast`. May import data and models; never experiments or cli."""
