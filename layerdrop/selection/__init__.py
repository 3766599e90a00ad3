"""Choosing what to drop: the strategy Protocol, the one registry of strategies, parameter binding,
and the checked selection. May import layerdrop.models; never experiments, training or cli."""
