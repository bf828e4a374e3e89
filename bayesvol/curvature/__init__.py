"""Curvature at the truth: Fisher information / GGN / loss Hessian and spectra (dense, Gram, Lanczos)."""
