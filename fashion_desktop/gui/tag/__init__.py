"""The Tag tab: grid, review pane, thresholds, tagging runs, import and export dialogs."""
