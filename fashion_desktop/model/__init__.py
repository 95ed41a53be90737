"""The layer the app and the trainer both stand on: bundles, architectures, preprocessing, scoring, metrics.

No Qt, and none of core, gui or trainer. torch is imported only by ``archs``, ``bundle``, ``devices`` and
``scoring``; the other modules (bundle format and reader, images, metrics, protocol, resources, fileio, and
the contracts the app shares with the trainer: ``run_folder``, ``train_config``, ``arch_table``) need the
standard library and numpy/Pillow/PyYAML only (``spreadsheet`` pandas/openpyxl too), so the app can use
them without loading torch.
"""
