"""Speed paths behind `--fast`: each computes the stock result up to float rounding, reports whether it
ran, and names the transformers internals it relies on (tests/unit/test_fast_contract.py)."""
