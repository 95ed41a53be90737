"""The layer the app and the trainer both stand on: bundles, architectures, preprocessing, scoring, metrics.

No Qt, and none of core, gui or trainer. torch is imported only by ``archs``, ``bundle``, ``devices`` and
``scoring``; the other modules (bundle format and reader, images, metrics, protocol, resources, fileio)
need the standard library and numpy/Pillow only (``spreadsheet`` pandas/openpyxl too), so the app can use
them without loading torch.
"""
