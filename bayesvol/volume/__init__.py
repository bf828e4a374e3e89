"""Volume curves V(t) = w({θ : D(θ) ≤ t}): Laplace (generalized χ²) and nested sampling; bounds B_n."""
