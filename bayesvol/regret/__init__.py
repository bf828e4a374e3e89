"""Predictors (Bayes mixture, ERM / plug-in, MAP, SGLD, ensembles) and their regret against the truth."""
