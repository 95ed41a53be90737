"""The search box over tags: a line edit whose completion finishes the word under the cursor."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from PySide6.QtCore import QStringListModel, Qt, Slot
from PySide6.QtWidgets import QCompleter, QLineEdit, QWidget

from fashion_desktop.core.tag_search import SEARCH_HELP, completions


class TagSearchBox(QLineEdit):
    """Typing filters the grid by tag text (``core.tag_search``); the completer offers labels, ``group:value``
    and the review-state words for the last word typed, and keeps the words before it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setPlaceholderText("Search tags…")
        self.setToolTip(SEARCH_HELP)
        self.setClearButtonEnabled(True)
        self._words = QStringListModel(self)
        self.completer_ = QCompleter(self._words, self)
        self.completer_.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.completer_.setFilterMode(Qt.MatchFlag.MatchContains)
        self.completer_.setWidget(self)
        self.completer_.activated.connect(self._complete)
        self.textEdited.connect(self._offer)

    def set_labels(self, labels: Sequence[str], groups: Mapping[str, str]) -> None:
        self._words.setStringList(completions(labels, groups))

    def _last_word(self) -> tuple[str, str]:
        """(the text before the word being typed, that word without its "-")."""
        head, _, word = self.text()[: self.cursorPosition()].rpartition(" ")
        head = f"{head} " if head else ""
        if word.startswith("-"):
            head, word = head + "-", word[1:]
        return head, word

    @Slot()
    def _offer(self, *_args) -> None:
        _head, word = self._last_word()
        if not word:
            self.completer_.popup().hide()
            return
        self.completer_.setCompletionPrefix(word)
        if self.completer_.completionCount():
            self.completer_.complete()
        else:
            self.completer_.popup().hide()

    @Slot(str)
    def _complete(self, choice: str) -> None:
        head, _word = self._last_word()
        rest = self.text()[self.cursorPosition() :]
        self.setText(f"{head}{choice} {rest.lstrip()}".rstrip() + " ")
        self.setCursorPosition(len(head) + len(choice) + 1)
