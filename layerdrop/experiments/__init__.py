"""Experiments: RunConfig, `run(cfg) -> record`, the per-sweep cache, sweeps, records and claims.
May import every lower room (data, models, selection, analysis, training); never cli."""
