"""The model class: a NumPyro model as {P_θ} with prior w, its covariates and data, a problem."""
