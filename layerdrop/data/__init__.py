"""Data: GLUE files and tasks, custom files, tokenization and batching, metrics.
The lowest room with models: imports only layerdrop.errors and layerdrop.progress."""
