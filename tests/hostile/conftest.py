"""The hostile tests open real windows too: an earlier test's widgets are deleted and collected before each
test, on the GUI thread, as for tests/gui (a closed window's widgets deleted mid-test while a worker read a
spreadsheet deadlocked a run: the GUI thread, holding the interpreter lock, waited in a QObject's destructor
for a lock the worker held while it waited for the interpreter lock)."""

from tests.gui.conftest import _last_test_widgets_deleted  # noqa: F401 (an autouse fixture)
