"""Qt user interface; the only package that imports PySide6."""

import sys


def _pin_none() -> None:
    """Give None a reference count no app session can use up.

    PySide6 6.12 assumes an immortal None (Python 3.12+): on 3.10/3.11 every call of a Qt method that
    returns nothing drops one reference to None, and after some minutes of painting the interpreter
    aborts with "none_dealloc". Adding 2**40 references makes None as good as immortal there too.
    """
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return
    import ctypes

    for obj in (None, True, False):  # True/False are hit the same way, more rarely
        ctypes.c_ssize_t.from_address(id(obj)).value += 1 << 40


_pin_none()
