"""The csv task's file: a column read as a stream into one byte per row, its classes the column's
values (sorted), --order-by sorting the rows as text, and every bad file refused in one line
naming the problem (engine/csv_series.py, through engine.config.build_config)."""

from __future__ import annotations

import csv
import hashlib
import tracemalloc
from pathlib import Path

import pytest

from engine.config import ConfigError, RunConfig, build_config
from engine.csv_series import read_csv_series


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", newline="")
    return path


def table(header: str, rows: list[str]) -> str:
    return header + "\n" + "".join(row + "\n" for row in rows)


def csv_config(path: Path, column: str = "sky", **values) -> RunConfig:
    return build_config({"task": "csv", "data": str(path), "column": column, "look_back": 3, **values})


SKIES = ["sun", "rain", "sun", "fog", "rain", "rain", "sun", "fog", "sun", "sun"] * 3  # 30 days


@pytest.fixture
def skies(tmp_path) -> Path:
    return write(tmp_path / "skies.csv", table("day,sky", [f"{i},{sky}" for i, sky in enumerate(SKIES)]))


# -- what a good file gives -------------------------------------------------------------------------


def test_the_classes_are_the_columns_values_in_sorted_order_and_the_series_their_indices(skies):
    series = read_csv_series(skies, "sky")
    assert series.classes == ("fog", "rain", "sun")
    assert [series.classes[code] for code in series.codes] == SKIES


def test_the_values_are_named_exactly_as_the_file_spells_them(tmp_path):
    path = write(tmp_path / "a.csv", table("x,y", [f"{i},{v}" for i, v in enumerate(["Rain", "rain", "Rain "] * 10)]))
    assert read_csv_series(path, "y").classes == ("Rain", "Rain ", "rain")


def test_the_hash_is_the_sha256_of_the_files_bytes(skies):
    assert read_csv_series(skies, "sky").sha256 == hashlib.sha256(skies.read_bytes()).hexdigest()


def test_order_by_sorts_the_rows_by_that_columns_text_ties_keeping_the_files_order(tmp_path):
    rows = [("2013-02-01", "b"), ("2012-12-31", "a"), ("2013-02-01", "c"), ("2013-01-15", "a"),
            ("2012-12-31", "b")] * 6
    path = write(tmp_path / "days.csv", table("date,sky", [f"{d},{s}" for d, s in rows]))
    series = read_csv_series(path, "sky", order_by="date")
    expected = [sky for _, sky in sorted(rows, key=lambda row: row[0])]  # sorted() is stable
    assert [series.classes[code] for code in series.codes] == expected


def test_without_order_by_the_rows_keep_the_files_order_even_when_unsorted(tmp_path):
    rows = [("2013-02-01", "b"), ("2012-12-31", "a")] * 15
    path = write(tmp_path / "days.csv", table("date,sky", [f"{d},{s}" for d, s in rows]))
    assert "".join(read_csv_series(path, "sky").classes[c] for c in read_csv_series(path, "sky").codes) == "ba" * 15


def test_quoted_fields_blank_lines_and_a_byte_order_mark_read_as_csv_does(tmp_path):
    text = '\ufeffnote,sky\r\n"a, quoted",sun\r\n\r\n"two\nlines",rain\r\n' + "x,sun\r\n" * 28
    path = write(tmp_path / "q.csv", text)
    with path.open(encoding="utf-8-sig", newline="") as f:
        expected = [row["sky"] for row in csv.DictReader(f)]
    series = read_csv_series(path, "sky")
    assert [series.classes[c] for c in series.codes] == expected and len(expected) == 30


def test_a_config_built_from_a_file_records_its_rows_its_hash_and_its_absolute_path(skies, monkeypatch):
    monkeypatch.chdir(skies.parent)
    cfg = csv_config(Path(skies.name))
    assert (cfg.series_length, cfg.data, cfg.data_file_sha256) == (
        30, str(skies), hashlib.sha256(skies.read_bytes()).hexdigest())


def test_a_series_length_given_takes_the_first_rows_and_one_past_the_file_is_refused(skies):
    assert csv_config(skies, series_length=25).series_length == 25
    with pytest.raises(ConfigError, match="series-length: 31 is more than the 30 rows of"):
        csv_config(skies, series_length=31)


def test_the_csv_task_needs_a_file_and_a_column():
    with pytest.raises(ConfigError, match="data: the csv task needs a file"):
        build_config({"task": "csv", "column": "sky"})
    with pytest.raises(ConfigError, match="column: the csv task needs the column"):
        build_config({"task": "csv", "data": "x.csv"})


@pytest.mark.parametrize("field", ["data", "column", "order_by"])
def test_another_task_refuses_a_file_setting(field):
    with pytest.raises(ConfigError, match=f"{field.replace('_', '-')}: only the csv task reads a file"):
        RunConfig(task="seed", **{field: "x"})


# -- bad files: one line each, naming the problem ----------------------------------------------------


def refusal(path: Path, column: str = "sky", **values) -> str:
    with pytest.raises(ConfigError) as info:
        csv_config(path, column, **values)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_a_missing_file_is_refused(tmp_path):
    assert refusal(tmp_path / "none.csv") == f"data: no file {tmp_path / 'none.csv'}"


def test_a_directory_is_refused(tmp_path):
    assert refusal(tmp_path) == f"data: {tmp_path} is a directory, not a CSV file"


def test_a_missing_column_is_refused_naming_the_columns_present(skies):
    assert refusal(skies, "weather") == f"column: {skies} has no column 'weather' (its columns: 'day', 'sky')"


def test_a_missing_order_by_column_is_refused_naming_the_columns_present(skies):
    assert refusal(skies, order_by="date") == f"order-by: {skies} has no column 'date' (its columns: 'day', 'sky')"


def test_fewer_rows_than_the_look_back_needs_are_refused(skies):
    assert refusal(skies, look_back=30) == f"look-back: 30 must be shorter than the 30 rows of {skies}"
    assert "leaves no validation window" in refusal(skies, look_back=10)  # 24 training days, 6 after


def test_a_file_too_short_for_any_series_is_refused(tmp_path):
    path = write(tmp_path / "short.csv", table("sky", ["sun", "rain"] * 5))
    assert refusal(path) == f"data: a series of 10 rows of {path} is too short (20 at least)"


def test_a_column_of_one_class_is_refused(tmp_path):
    path = write(tmp_path / "one.csv", table("sky", ["sun"] * 30))
    assert refusal(path) == (f"column: 'sky' of {path} has one value only ('sun'): nothing to predict "
                             "(a class column has 2 to 64)")


def test_a_column_of_more_than_64_classes_is_refused_at_the_65th(tmp_path):
    path = write(tmp_path / "many.csv", table("sky", [f"c{i}" for i in range(100)]))
    assert refusal(path) == (f"column: 'sky' of {path} has more than 64 distinct values ('c64' on line 66 is "
                             "the 65th); a class column has 2 to 64")


def test_an_empty_cell_is_refused_naming_its_line(tmp_path):
    path = write(tmp_path / "gap.csv", table("day,sky", [f"{i},{'' if i == 6 else 'sun' if i % 2 else 'rain'}"
                                                        for i in range(30)]))
    assert refusal(path) == f"column: line 8 of {path} has an empty 'sky' cell"


def test_an_empty_order_by_cell_is_refused_naming_its_line(tmp_path):
    path = write(tmp_path / "gap.csv", table("day,sky", [f"{'' if i == 3 else i},{'sun' if i % 2 else 'rain'}"
                                                        for i in range(30)]))
    assert refusal(path, order_by="day") == f"order-by: line 5 of {path} has an empty 'day' cell"


def test_a_file_that_is_not_utf8_is_refused(tmp_path):
    path = write(tmp_path / "latin1.csv", table("day,sky", [f"{i},{'été' if i % 2 else 'hiver'}" for i in range(30)])
                 .encode("latin-1"))
    assert refusal(path).startswith(f"data: {path} is not UTF-8 text")


def test_a_file_that_is_not_csv_is_refused_naming_the_line(tmp_path):
    path = write(tmp_path / "ragged.csv", table("day,sky", [f"{i},sun" for i in range(5)] + ["5,rain,extra"]))
    assert refusal(path) == f"data: {path} is not CSV: line 7 has 3 fields, its header 2"


def test_a_binary_file_is_refused_as_not_csv(tmp_path):
    path = write(tmp_path / "zeros.csv", b"sky\n" + b"sun\x00\n" * 30)
    assert refusal(path) == f"data: {path} is not CSV text: it holds NUL bytes (a binary file, or UTF-16)"


def test_an_empty_file_is_refused(tmp_path):
    path = write(tmp_path / "empty.csv", "")
    assert refusal(path) == f"data: {path} is empty (no header line)"


# -- a file of millions of rows --------------------------------------------------------------------------


@pytest.mark.slow
def test_a_file_of_millions_of_rows_is_read_in_memory_bounded_by_the_series_not_the_file(tmp_path):
    rows = 2_100_000  # a multiple of the 60 lines written at a time
    path = tmp_path / "big.csv"
    line = [f"2020-01-01T00:00:{i % 60:02d},{sky},some other text in the row\n"
            for i, sky in enumerate(["sun", "rain", "fog", "snow", "drizzle", "sun"] * 10)]
    with path.open("w", encoding="utf-8") as f:
        f.write("time,sky,note\n")
        block = "".join(line)
        for _ in range(rows // len(line)):
            f.write(block)
    size = path.stat().st_size
    tracemalloc.start()
    try:
        series = read_csv_series(path, "sky")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert series.rows == rows and series.classes == ("drizzle", "fog", "rain", "snow", "sun")
    # One byte a row, recoded once (two bytes a row at the peak), plus the read buffers.
    assert peak < 2 * rows + 8 * 2**20
    assert peak < size / 10  # the file is 109 MB
