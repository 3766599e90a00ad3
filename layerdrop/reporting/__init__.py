"""Reporting: run records to pandas, paper-style tables in several formats, figures, published numbers.
May import experiments.records; never cli or training."""
