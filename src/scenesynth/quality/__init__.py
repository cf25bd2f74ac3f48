"""quality stage."""
