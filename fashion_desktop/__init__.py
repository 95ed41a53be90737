"""Fashion Finder Desktop: tag folders of fashion photos with multi-label clothing classifiers."""

__version__ = "0.1.0"
