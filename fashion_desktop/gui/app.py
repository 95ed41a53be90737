"""Entry point of the ``fashion-desktop`` GUI: ``fashion-desktop [FOLDER] [--model MODEL] [--library DB]``
(``--self-test`` checks an installation without a display)."""

from __future__ import annotations

import argparse
import gc
import logging
import sys
from collections.abc import Sequence

from fashion_desktop import __version__


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="fashion-desktop", description="Tag folders of fashion photos.")
    p.add_argument("folder", nargs="?", help="a folder of photos to add to the library and scan")
    p.add_argument("--model", help="a model bundle (.fmodel) to tag with")
    p.add_argument("--library", help="the library (catalog file) to open; default: the last one used")
    p.add_argument("--version", action="version", version=f"fashion-desktop {__version__}")
    p.add_argument(
        "--self-test",
        action="store_true",
        help="check this installation without a display: open the window, tag generated photos with the "
        "default model, export them, run a tiny training; PASS/FAIL per step, exit status 0 when all pass",
    )
    p.add_argument(
        "--self-test-model",
        metavar="MODEL",
        help="the model bundle --self-test uses (default: the bundled one)",
    )
    return p.parse_args(argv)


def settle_startup_objects() -> None:
    """Keep the objects alive at start-up out of the garbage collector's full passes (``gc.freeze``).

    The imported libraries' functions, classes and tables and the window's own objects (~145,000) live
    until the app ends, and every full pass walked them all: 100 ms each, a freeze of the window whenever
    one ran (tagging a million photos set one off every few tens of seconds). Start-up's own cyclic
    garbage is collected first, once, so nothing collectable is frozen with them."""
    gc.collect()
    gc.freeze()


def small_pages_for_big_arrays() -> bool:
    """Ask numpy not to back its big arrays with huge pages (returns whether it did; False where numpy has
    no such switch).

    On Linux numpy asks for 2 MB pages for every array over 4 MB. The first write to a new big array then
    waits while the kernel finds (compacts) free 2 MB pages: a new 60 MB column took 86-92 ms on this
    machine, against 20-22 ms every time with ordinary pages, and a library's columns are new arrays each
    time a scan makes them room (stalls of the window of ~100 ms while scanning a million photos)."""
    try:
        from numpy._core.multiarray import _set_madvise_hugepage
    except ImportError:
        try:
            from numpy.core.multiarray import _set_madvise_hugepage  # numpy 1.x
        except ImportError:
            return False
    _set_madvise_hugepage(False)
    return True


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from fashion_desktop.core.tag_process import FROZEN_FLAG

    if argv[:1] == [FROZEN_FLAG]:  # a frozen build starts its tagging process through this executable
        from fashion_desktop.core.tag_process import main as tag_process_main

        return tag_process_main(argv[1:])
    args = parse_args(argv)
    if args.self_test:
        from fashion_desktop.gui.self_test import main as self_test_main

        return self_test_main(args.self_test_model)
    from PySide6.QtWidgets import QApplication

    # Absolute imports: a frozen build runs this file as a top-level script, not as a package module.
    from fashion_desktop.gui import settings
    from fashion_desktop.gui.main_window import MainWindow
    from fashion_desktop.gui.session_log import start_session_log

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName(settings.ORG)
    app.setApplicationName(settings.APP)
    small_pages_for_big_arrays()
    log_file = start_session_log(settings.log_dir())
    window = MainWindow(args.library)
    settle_startup_objects()
    if args.model:
        window.tag_panel.select_bundle(args.model)
    window.show()
    if args.folder:
        window.library_ctl.add_folder(args.folder)
    try:
        return app.exec()
    finally:
        if log_file is not None:
            logging.getLogger().removeHandler(log_file)
            log_file.close()


if __name__ == "__main__":
    raise SystemExit(main())
