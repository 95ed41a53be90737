"""Qt-free core: scanning, image loading, catalog, bundles, tagging engine, thresholds, export."""
