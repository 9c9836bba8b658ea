"""The CSV stores at the byte level: one physical line is one row, read alone.

The writer never puts a line break inside a field, so a row is exactly one
``\\n``-terminated line. The reader splits the file's bytes on ``\\n`` and
decodes and parses each line on its own: a line that is torn (a killed
writer), undecodable, oversized, quote-broken or of the wrong width loses
itself and nothing else. A line counts as a row only if it parses into exactly
the header's fields and ends in a valid status; ``status`` is the last column,
so a line cut anywhere before its end cannot pass.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

# The writer cuts a field at this many characters: no real field comes near,
# and it keeps every line far below the reader's limit.
FIELD_LIMIT = 64 * 1024
CUT_MARK = " [cut]"
# The csv module's default is 128 KiB per field. A row from an older writer may
# hold a longer one, and reading it beats hiding it; the limit is process-wide,
# and only ever raised here.
csv.field_size_limit(max(csv.field_size_limit(), 16 * 1024 * 1024))


def clean_field(value) -> object:
    """A field that fits on one line: line breaks become spaces; long text is cut."""
    if not isinstance(value, str):
        return value
    text = value.replace("\r\n", " ").replace("\r", " ").replace("\n", " ")
    if len(text) > FIELD_LIMIT:
        text = text[: FIELD_LIMIT - len(CUT_MARK)] + CUT_MARK
    return text


def encode_line(values: Sequence) -> bytes:
    """One CSV line ending in ``\\n``, with no other line break in it."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([clean_field(v) for v in values])
    # backslashreplace: a lone surrogate (an OS error naming an undecodable
    # path) must not cost the row
    line = buf.getvalue().encode("utf-8", "backslashreplace")
    if line.count(b"\n") != 1:
        raise ValueError("a results line must hold exactly one line break")
    return line


def split_line(raw: bytes) -> list[str] | None:
    """The fields of one physical line, or None when it is not valid CSV text."""
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    try:
        text = raw.decode("utf-8")
        return next(csv.reader([text], strict=True), [])
    except (UnicodeDecodeError, csv.Error):
        return None


@dataclass
class ParsedFile:
    """What a store file holds, line by line.

    ``header_state``: ``current`` or ``old`` (a known header), ``repaired`` (a
    header of a known width with a damaged name), ``recovered`` (no usable
    header line: the known schema most lines fit), ``unknown`` (a header of
    another poolbench version, used as it is) or ``empty``.
    """

    columns: list[str]
    header_state: str
    rows: list[tuple[int, list[str]]] = field(default_factory=list)  # (line, values)
    damaged: list[int] = field(default_factory=list)  # 1-based line numbers
    lines: list[bytes] = field(default_factory=list)  # the physical lines

    def records(self, columns: Sequence[str]) -> list[list[str]]:
        """The rows' values in ``columns`` order; a column absent here is ""."""
        where = {name: i for i, name in enumerate(self.columns)}
        picks = [where.get(name) for name in columns]
        return [
            [values[i] if i is not None else "" for i in picks]
            for _, values in self.rows
        ]


def _is_row(
    values: list[str] | None, width: int, statuses: Sequence[str], at: int = -1
) -> bool:
    """A complete line of ``width`` fields whose status (field ``at``) is valid."""
    return values is not None and len(values) == width and values[at] in statuses


def _damaged_name(name: str, known: str) -> bool:
    """``name`` is ``known``, or damage where ``known`` stood (bytes that are
    no column name: ``datéset``, ``dat\x00set``). A clean name that differs is
    a later version's column (``peak_mem_gb``, or two names swapped), never
    read by position: a rename looks just like a small edit."""
    return name == known or not re.fullmatch(r"[a-z0-9_]+", name)


def parse(
    data: bytes, schemas: Sequence[Sequence[str]], statuses: Sequence[str]
) -> ParsedFile:
    """Rows of ``data`` under its header; ``schemas[0]`` is the current one.

    A first line ending in the column ``status`` is the header. Without one
    (it was damaged) the lines are read by the known schema most of them fit.
    A header with ``status`` elsewhere, or of a known width with names that are
    not damaged forms of the known ones, is another version's (``unknown``):
    its rows are read by its own names, and nothing is ever written to it.
    """
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()  # the final line break
    values = [split_line(line) for line in lines]
    known = [list(s) for s in schemas]
    first = values[0] if values else None
    start = 1
    if not lines:
        columns, state, start = known[0], "empty", 0
    elif first and "status" in first[:-1] and first[-1] not in statuses:
        columns, state = first, "unknown"  # a later version's column order
    elif first and first[-1] == "status":
        same_width = [
            s
            for s in known
            if len(s) == len(first) and all(map(_damaged_name, first, s))
        ]
        if first in known:
            columns = first
            state = "current" if first == known[0] else "old"
        elif same_width:
            columns, state = same_width[0], "repaired"
        else:
            columns, state = first, "unknown"
    else:
        fits = [sum(_is_row(v, len(s), statuses) for v in values) for s in known]
        columns, state, start = known[fits.index(max(fits))], "recovered", 0
    parsed = ParsedFile(columns, state, lines=lines)
    if state == "recovered" and not _is_row(first, len(columns), statuses):
        parsed.damaged.append(1)  # the header that was
        start = 1
    at = columns.index("status") if "status" in columns else -1
    for number, row in enumerate(values[start:], start + 1):
        if _is_row(row, len(columns), statuses, at):
            parsed.rows.append((number, row))
        elif row != []:  # an empty line holds nothing to lose
            parsed.damaged.append(number)
    return parsed
