"""``python -m fashion_desktop``: the ``fashion`` command line."""

from fashion_desktop.cli import main

raise SystemExit(main())
