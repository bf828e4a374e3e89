"""The application layer: the experiments behind each command, the CLI, plots and reports."""
