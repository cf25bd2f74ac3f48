"""programs stage."""
