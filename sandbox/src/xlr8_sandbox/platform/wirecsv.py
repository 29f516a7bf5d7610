"""CSV lines without ``csv.writer`` where its bytes are known (issue 14, emulator speed).

With the default dialect (``QUOTE_MINIMAL``, ``,`` and ``"``), the writer quotes a cell only when it holds the
delimiter, the quote character or a line break, and writes a lone empty cell as ``""``. A row of two or more cells
without any of those is the cells joined by commas plus the line terminator: ``plain_csv_line`` writes that and
answers None otherwise, so the caller hands the row to its writer (``sandbox/tests/test_fast_paths_exact.py`` holds
the two side by side)."""

from __future__ import annotations


def plain_csv_line(cells: list[str], lineterminator: str = "\n") -> str | None:
    """``cells`` as ``csv.writer(lineterminator=...)`` writes them when none needs quoting, else None."""
    text = ",".join(cells)
    if len(cells) > 1 and text.count(",") == len(cells) - 1 and '"' not in text and "\n" not in text:
        return None if "\r" in text else text + lineterminator
    return None
