"""layerdrop: drop layers of pretrained transformers and measure what it costs.

The library is importable without typer; heavy imports (torch, transformers) happen inside the
functions that need them, so `import layerdrop` and `layerdrop --help` stay instant.
"""

__version__ = "0.2.0"
