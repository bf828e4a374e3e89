"""Posterior inference: NUTS fits with diagnostics, and the log marginal likelihood log Q(x^n)."""
