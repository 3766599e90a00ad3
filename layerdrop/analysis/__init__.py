"""Reading a model's representations: per-layer contribution scores today; CKA and probes next.
May import layerdrop.models and layerdrop.data; never experiments or cli."""
