"""layerdrop's built-in strategies, one small module each.

Loaded by the registry by file path as `layerdrop._strategies` (see layerdrop/selection/registry.py), never
as a top-level `strategies` package: an unrelated PyPI package has that name.
"""
