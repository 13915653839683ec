"""A column of a CSV file as a series of classes, read as a stream.

The file is read once, row by row (the csv module over the open file, never the whole file in
memory), into one byte per row: memory is bounded by the series, not by the file. With an
order-by column, its values are kept too (as bytes, the width of the longest), and the rows are
sorted by them as text (code point order: ISO dates sort by time, numbers do not: 10 before 9),
ties keeping the file's order.
The file's SHA-256 is computed from the bytes as they are read.

The classes are the column's distinct values exactly as the file spells them, in sorted (code
point) order: class 0 is the first of them. Blank lines are skipped; a cell of only spaces is
empty. Every problem is a CsvError of one line, naming the file, and the line where it is one.

Stdlib and numpy only: engine/config.py turns a CsvError into its ConfigError.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
from array import array
from dataclasses import dataclass
from pathlib import Path

import numpy as np

KEY_CHUNK = 1 << 16  # order-by values gathered as Python strings before going into one numpy array
READ_BUFFER = 1 << 20


class CsvError(ValueError):
    """The file cannot be a series; ``field`` is the setting to blame (data, column, order_by)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


@dataclass(frozen=True)
class CsvSeries:
    """The series of a CSV column: ``codes[i]`` is row i's class, an index into ``classes``."""

    codes: np.ndarray  # uint8, one per row, in file order or sorted by the order-by column
    classes: tuple[str, ...]  # the distinct values, sorted
    sha256: str  # of the file's bytes

    @property
    def rows(self) -> int:
        return len(self.codes)


class _Binary(Exception):
    """A NUL byte: no CSV text has one (a binary file, or UTF-16)."""


class _Hashing(io.RawIOBase):
    """A binary file that hashes what is read from it, and stops at a NUL byte."""

    def __init__(self, raw: io.BufferedReader) -> None:
        self.raw = raw
        self.sha = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self.raw.close()
        super().close()

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = self.raw.readinto(buffer)
        if n:
            block = memoryview(buffer)[:n]
            self.sha.update(block)
            if block.tobytes().find(0) >= 0:  # bytes.find runs in C; `0 in block` is 100 times slower
                raise _Binary
        return n or 0


def _key_chunk(keys: list[str]) -> np.ndarray:
    return np.array([key.encode("utf-8") for key in keys], dtype=bytes)


def _column(header: list[str], name: str, field: str, path: str) -> int:
    if name in header:
        return header.index(name)
    shown = ", ".join(repr(h) for h in header[:12]) + (f" and {len(header) - 12} more" if len(header) > 12 else "")
    raise CsvError(field, f"{path} has no column {name!r} (its columns: {shown})")


def read_csv_series(path: str | os.PathLike[str], column: str, order_by: str | None = None,
                    *, max_classes: int = 64, min_classes: int = 2) -> CsvSeries:
    """``column`` of the CSV at ``path`` as a series, sorted by ``order_by`` when given.
    CsvError for a file that is missing, not UTF-8, not CSV (a line of another number of fields
    than the header), empty, or whose column has an empty cell or fewer than ``min_classes`` or
    more than ``max_classes`` distinct values."""
    where = str(path)
    try:
        raw = open(path, "rb")  # noqa: SIM115 - closed below, through the text wrapper
    except FileNotFoundError:
        raise CsvError("data", f"no file {where}") from None
    except IsADirectoryError:
        raise CsvError("data", f"{where} is a directory, not a CSV file") from None
    except OSError as exc:
        raise CsvError("data", f"cannot read {where}: {exc.strerror or exc}") from None
    hashing = _Hashing(raw)  # the csv reader reads to the end, so the hash covers every byte
    text = io.TextIOWrapper(io.BufferedReader(hashing, READ_BUFFER), encoding="utf-8-sig", newline="")
    reader = csv.reader(text)
    codes = array("B")
    seen: dict[str, int] = {}  # value -> code in order of first appearance
    keys: list[str] = []
    key_chunks: list[np.ndarray] = []
    try:
        with text:
            header = next(reader, None)
            if header is None:
                raise CsvError("data", f"{where} is empty (no header line)")
            width = len(header)
            col = _column(header, column, "column", where)
            key = _column(header, order_by, "order_by", where) if order_by is not None else None
            for row in reader:
                if not row:
                    continue  # a blank line
                if len(row) != width:
                    raise CsvError("data", f"{where} is not CSV: line {reader.line_num} has {len(row)} "
                                   f"fields, its header {width}")
                value = row[col]
                if not value.strip():
                    raise CsvError("column", f"line {reader.line_num} of {where} has an empty {column!r} cell")
                code = seen.get(value)
                if code is None:
                    if len(seen) == max_classes:
                        raise CsvError("column", f"{column!r} of {where} has more than {max_classes} distinct "
                                       f"values ({value!r} on line {reader.line_num} is the {max_classes + 1}th); "
                                       f"a class column has {min_classes} to {max_classes}")
                    code = seen[value] = len(seen)
                codes.append(code)
                if key is not None:
                    if not row[key].strip():
                        raise CsvError("order_by", f"line {reader.line_num} of {where} has an empty "
                                       f"{order_by!r} cell")
                    keys.append(row[key])
                    if len(keys) == KEY_CHUNK:
                        key_chunks.append(_key_chunk(keys))
                        keys.clear()
    except _Binary:
        raise CsvError("data", f"{where} is not CSV text: it holds NUL bytes (a binary file, or UTF-16)") from None
    except UnicodeDecodeError:
        raise CsvError("data", f"{where} is not UTF-8 text (near line {reader.line_num + 1})") from None
    except csv.Error as exc:
        raise CsvError("data", f"{where} is not CSV (line {reader.line_num}: {exc})") from None
    except OSError as exc:
        raise CsvError("data", f"cannot read {where}: {exc.strerror or exc}") from None
    if not codes:
        raise CsvError("data", f"{where} has a header but no rows")
    if len(seen) < min_classes:
        raise CsvError("column", f"{column!r} of {where} has one value only ({next(iter(seen))!r}): "
                       f"nothing to predict (a class column has {min_classes} to {max_classes})")
    classes = tuple(sorted(seen))
    recode = np.empty(len(seen), dtype=np.uint8)
    for rank, value in enumerate(classes):
        recode[seen[value]] = rank
    series = recode[np.frombuffer(codes, dtype=np.uint8)]
    del codes
    if key is not None:
        if keys:
            key_chunks.append(_key_chunk(keys))
        order = np.argsort(np.concatenate(key_chunks), kind="stable")  # UTF-8 bytes sort as code points
        series = series[order]
    return CsvSeries(series, classes, hashing.sha.hexdigest())


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The SHA-256 of a file's bytes, read in blocks."""
    sha = hashlib.sha256()
    with Path(path).open("rb") as f:
        while block := f.read(READ_BUFFER):
            sha.update(block)
    return sha.hexdigest()
