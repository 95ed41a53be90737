"""The Models tab: a bundle's card and its per-label metrics."""
