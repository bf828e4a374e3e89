"""The divergence D(P_θ0 ‖ P_θ) per sample: closed forms, Monte Carlo fallback, D(z) on flat coordinates."""
