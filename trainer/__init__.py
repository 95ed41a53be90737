"""Training for Fashion Finder: recipes, data readers, metrics; importable without Qt or side effects."""
