"""CSV files with column mappings, for every connector that trades files (a fulfilment centre's
order export, status and stock imports) and for the CSV order import.

Reading: the connector declares its fields (our names, converters, required or not, defaults); a
mapping, usually from the user's settings, names the file's column for each field. Headers match
whatever their case and surrounding spaces, a UTF-8 BOM is skipped, and every bad row gives one
error (row number as a spreadsheet shows it: the header is row 1) while the good rows come through.
A file that cannot be read as a whole (columns missing, wrong encoding, too big, broken quoting)
raises CsvFileError, a PartnerDataError that names the row.

    fields = [CsvField("order_id", text, column="Order Id"), CsvField("status", text),
              CsvField("tracking_number", text, required=False),
              CsvField("shipped_at", datetime_of(zone=ZoneInfo("Europe/London")), required=False)]
    result = read_csv(data, fields, mapping={"tracking_number": "Tracking No"})
    for row in result.rows:
        row["order_id"], row["shipped_at"], row.number
    for error in result.errors:
        str(error)            # "row 7, column 'Status': is blank"

JSON records (a partner's answer as a list of objects) are read with the same fields and
converters by ``read_records(records, fields)``, one error per bad record.

Writing: rows (dicts or objects) under configurable columns, each a source field (dotted for a
nested one), an output name and a default written for a missing value:

    columns = [Column("number", "Order"), Column("shipping.postcode", "Postcode"),
               Column("total", "Total"), Column("notes", "Notes", default="-")]
    data = write_csv(orders, columns)   # UTF-8, header row, \\r\\n line ends

Values are written predictably: Decimal as a plain number (12.50, never 1.25E+1), dates and times
in ISO 8601 (with their offset when they have one), booleans as true/false, enums as their value,
None as the column's default.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, tzinfo
from decimal import Decimal
from enum import Enum
from typing import Any

from orderdeck.plugins.errors import PartnerDataError

MAX_ROWS = 100_000
MAX_BYTES = 50 * 2**20
DELIMITERS = (",", ";", "\t", "|")

Converter = Callable[[str], Any]
"""Turns a cell's text (never blank, spaces stripped) into a value, or raises ValueError with a
reason a user can act on."""


# --- converters


def text(value: str) -> str:
    """The cell's text."""
    return value


def integer(value: str) -> int:
    """A whole number: 12, -3, +4."""
    if not re.fullmatch(r"[+-]?\d+", value):
        raise ValueError(f"{value!r} is not a whole number")
    return int(value)


def number(value: str) -> Decimal:
    """A decimal number with a point: 12.50, -3, .5 (no thousands separators, no exponent)."""
    if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)", value):
        raise ValueError(f"{value!r} is not a number like 12.50")
    return Decimal(value)


_YES, _NO = {"1", "true", "yes", "y", "t"}, {"0", "false", "no", "n", "f"}


def yes_no(value: str) -> bool:
    """A yes or no: 1/0, true/false, yes/no, y/n, t/f, in any case."""
    folded = value.casefold()
    if folded in _YES or folded in _NO:
        return folded in _YES
    raise ValueError(f"{value!r} is not yes or no")


def _pattern(format: str) -> str:
    """A strptime format as a person reads it: %d/%m/%Y -> DD/MM/YYYY."""
    for code, shown in (("%Y", "YYYY"), ("%m", "MM"), ("%d", "DD"), ("%H", "hh"), ("%M", "mm"), ("%S", "ss")):
        format = format.replace(code, shown)
    return format


def date_of(*formats: str) -> Converter:
    """A converter of dates in ``formats`` (strptime's), by default ISO 8601 (2026-01-31)."""

    def convert(value: str) -> date:
        if not formats:
            try:
                return date.fromisoformat(value)
            except ValueError:
                raise ValueError(f"{value!r} is not a date like YYYY-MM-DD") from None
        for format in formats:
            try:
                return datetime.strptime(value, format).date()
            except ValueError:
                continue
        raise ValueError(f"{value!r} is not a date like {' or '.join(_pattern(f) for f in formats)}")

    return convert


def datetime_of(*formats: str, zone: tzinfo = UTC) -> Converter:
    """A converter of dates with times in ``formats`` (strptime's), by default ISO 8601
    (2026-01-31T14:05:00+01:00, 2026-01-31 14:05, ...). A time without an offset is taken in
    ``zone``; the result always has a time zone."""

    def convert(value: str) -> datetime:
        moment = None
        if not formats:
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                raise ValueError(f"{value!r} is not a date and time like YYYY-MM-DD hh:mm:ss") from None
        for format in formats:
            try:
                moment = datetime.strptime(value, format)
                break
            except ValueError:
                continue
        if moment is None:
            raise ValueError(f"{value!r} is not a date and time like {' or '.join(_pattern(f) for f in formats)}")
        return moment if moment.tzinfo else moment.replace(tzinfo=zone)

    return convert


# --- reading


class _NoDefault:
    def __repr__(self) -> str:
        return "NO_DEFAULT"


NO_DEFAULT: Any = _NoDefault()
"""A field without a default: a blank cell is a row error if the field is required, else None."""


@dataclass(frozen=True)
class CsvField:
    """A field read from a file: our name, its converter, the column it is read from unless a
    mapping says otherwise (default: the name), whether the column must be in the file, and the
    value of a blank cell (and of an absent optional column)."""

    name: str
    convert: Converter = text
    column: str | None = None
    required: bool = True
    default: Any = NO_DEFAULT


@dataclass(frozen=True)
class CsvError:
    """What is wrong, where: ``row`` as a spreadsheet numbers it (the header is row 1), or None
    for the whole file; ``column`` as the file names it, or None for the whole row."""

    row: int | None
    column: str | None
    reason: str

    def __str__(self) -> str:
        where = [f"row {self.row}"] if self.row is not None else []
        where += [f"column {self.column!r}"] if self.column is not None else []
        return f"{', '.join(where)}: {self.reason}" if where else self.reason


class CsvFileError(PartnerDataError):
    """A file that cannot be read as a whole; ``error`` says where and why."""

    def __init__(self, error: CsvError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass(frozen=True)
class CsvRow:
    """A good row: its number (as a spreadsheet shows it) and its values by field name."""

    number: int
    values: dict[str, Any]

    def __getitem__(self, name: str) -> Any:
        return self.values[name]


@dataclass(frozen=True)
class CsvReadResult:
    """The good rows, one error per bad row, and the file's columns (as written)."""

    rows: list[CsvRow]
    errors: list[CsvError]
    columns: list[str]


def read_csv(
    data: bytes | str,
    fields: Sequence[CsvField],
    mapping: Mapping[str, str] | None = None,
    *,
    delimiter: str = ",",
    encoding: str = "utf-8",
    fallback_encoding: str | None = None,
    max_rows: int = MAX_ROWS,
    max_bytes: int = MAX_BYTES,
) -> CsvReadResult:
    """Read ``data`` (bytes in ``encoding``, else ``fallback_encoding`` such as cp1252; or text)
    into typed rows of ``fields``, ``mapping`` naming the file's column of a field. Blank lines
    are skipped. Raises CsvFileError for a file that cannot be read as a whole (see the module
    docstring), ValueError for a mapping of unknown fields or an unknown delimiter."""
    _check_delimiter(delimiter)
    unknown = set(mapping or {}) - {f.name for f in fields}
    if unknown:
        raise ValueError(f"the mapping names unknown fields: {', '.join(sorted(unknown))}")
    if len(data) > max_bytes:
        raise CsvFileError(CsvError(None, None, f"the file is larger than {max_bytes} bytes"))
    content = _decode(data, encoding, fallback_encoding, delimiter) if isinstance(data, bytes) else data
    records = csv.reader(io.StringIO(content.removeprefix("\ufeff"), newline=""), delimiter=delimiter, strict=True)
    number = 0  # of the last record read; the header is 1
    try:
        header = next(records, None)
        if header is None:
            raise CsvFileError(CsvError(None, None, "the file is empty (no header row)"))
        number = 1
        positions = _positions(header, fields, mapping or {})
        rows: list[CsvRow] = []
        errors: list[CsvError] = []
        for cells in records:
            number += 1
            if not any(cell.strip() for cell in cells):
                continue
            if len(rows) + len(errors) >= max_rows:
                raise CsvFileError(CsvError(number, None, f"more than {max_rows} rows: split the file"))
            row = _row(number, cells, fields, positions, header)
            if isinstance(row, CsvRow):
                rows.append(row)
            else:
                errors.append(row)
    except csv.Error as exc:
        raise CsvFileError(CsvError(number + 1, None, f"cannot be read as CSV ({exc}): a quote left open?")) from exc
    return CsvReadResult(rows, errors, [h.strip() for h in header])


def read_records(records: Sequence[Any], fields: Sequence[CsvField], *, first_row: int = 1) -> CsvReadResult:
    """Read JSON records (objects keyed by field name, e.g. the rows of a partner's JSON answer)
    into typed rows of ``fields``, as ``read_csv`` reads a file's rows: each value (text or a
    number) goes through its field's converter, a blank or absent value is handled as a blank
    cell, and every bad record gives one error while the good ones come through. Records are
    numbered from ``first_row``; an error's column is the field's name. A record that is not an
    object, or a value that is a list, an object or a boolean, is an error of its record."""
    header = [field.name for field in fields]
    positions = {field.name: index for index, field in enumerate(fields)}
    rows: list[CsvRow] = []
    errors: list[CsvError] = []
    for number, record in enumerate(records, start=first_row):
        cells = _cells(number, record, header)
        row = cells if isinstance(cells, CsvError) else _row(number, cells, fields, positions, header)
        if isinstance(row, CsvRow):
            rows.append(row)
        else:
            errors.append(row)
    return CsvReadResult(rows, errors, header)


def _cells(number: int, record: Any, header: list[str]) -> list[str] | CsvError:
    """A JSON record's values as the cells of ``header`` (absent and null: blank)."""
    if not isinstance(record, dict):
        return CsvError(number, None, f"is a JSON {type(record).__name__}, not an object")
    cells = []
    for name in header:
        value = record.get(name)
        if isinstance(value, bool | list | dict):
            return CsvError(number, name, f"is a JSON {type(value).__name__}, not text or a number")
        cells.append("" if value is None else format_value(value).strip())
    return cells


def _check_delimiter(delimiter: str) -> None:
    if delimiter not in DELIMITERS:
        raise ValueError(f"the delimiter must be one of {DELIMITERS!r}, not {delimiter!r}")


def _decode(data: bytes, encoding: str, fallback: str | None, delimiter: str) -> str:
    """``data`` as text: in ``encoding``, else in ``fallback``; else a CsvFileError naming the row
    and byte of the first bad byte. (A UTF-8 BOM is decoded as U+FEFF, which the reader drops.)"""
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        failure = exc
    if fallback:
        try:
            return data.decode(fallback)
        except UnicodeDecodeError:
            pass
    offset = failure.start
    row = _rows_in(data[:offset].decode(encoding), delimiter)
    tried = f"{encoding} (nor {fallback})" if fallback else encoding
    reason = (f"byte {data[offset]:#04x} at offset {offset} is not {tried} text: "
              f"save the file as UTF-8, or choose its encoding")  # fmt: skip
    raise CsvFileError(CsvError(row, None, reason))


def _rows_in(text_before: str, delimiter: str) -> int:
    """The row (as a spreadsheet numbers it) of the character after ``text_before``."""
    probe = csv.reader(io.StringIO(text_before + "x", newline=""), delimiter=delimiter)
    try:
        return sum(1 for _ in probe)
    except csv.Error:
        return text_before.count("\n") + 1


def _positions(header: list[str], fields: Sequence[CsvField], mapping: Mapping[str, str]) -> dict[str, int | None]:
    """Each field's column index in ``header`` (None: an optional column the file lacks); a
    CsvFileError naming every missing required column, or a column that appears twice."""
    index: dict[str, list[int]] = {}
    for position, title in enumerate(header):
        index.setdefault(_folded(title), []).append(position)
    positions: dict[str, int | None] = {}
    missing = []
    for field in fields:
        wanted = mapping.get(field.name) or field.column or field.name
        found = index.get(_folded(wanted), [])
        if len(found) > 1:
            raise CsvFileError(CsvError(1, wanted.strip(), f"appears {len(found)} times"))
        if not found and field.required:
            missing.append(wanted.strip())
        positions[field.name] = found[0] if found else None
    if missing:
        has = ", ".join(repr(h.strip()) for h in header if h.strip()) or "none"
        names = ", ".join(repr(m) for m in missing)
        plural = "s" if len(missing) > 1 else ""
        raise CsvFileError(CsvError(1, None, f"missing column{plural} {names} (the file has: {has})"))
    return positions


def _folded(title: str) -> str:
    return title.strip().casefold()


def _row(
    number: int, cells: list[str], fields: Sequence[CsvField], positions: Mapping[str, int | None], header: list[str]
) -> CsvRow | CsvError:
    """Row ``number`` as typed values, or the error of its first bad cell."""
    values: dict[str, Any] = {}
    for field in fields:
        position = positions[field.name]
        if position is None:  # an optional column the file lacks
            values[field.name] = None if field.default is NO_DEFAULT else field.default
            continue
        cell = cells[position].strip() if position < len(cells) else ""
        if cell:
            try:
                values[field.name] = field.convert(cell)
            except ValueError as exc:
                return CsvError(number, header[position].strip(), str(exc))
        elif field.default is not NO_DEFAULT:
            values[field.name] = field.default
        elif field.required:
            return CsvError(number, header[position].strip(), "is blank")
        else:
            values[field.name] = None
    return CsvRow(number, values)


# --- writing


@dataclass(frozen=True)
class Column:
    """A column written: the source field of a row (a key or attribute, dotted for a nested one:
    "shipping.postcode"), its name in the header (default: the source) and what is written when
    the value is None."""

    source: str
    name: str = ""
    default: str = ""

    @property
    def header(self) -> str:
        """The column's name in the file."""
        return self.name or self.source


def write_csv(
    rows: Iterable[Mapping[str, Any] | object],
    columns: Sequence[Column],
    *,
    delimiter: str = ",",
    line_end: str = "\r\n",
    bom: bool = False,
) -> bytes:
    """``rows`` as CSV in UTF-8 (with a BOM if ``bom``, for Excel): a header row, then one line a
    row, values as ``format_value`` writes them. Raises ValueError naming the row and column when a
    row lacks a column's source field (None is not lacking: it is written as the default)."""
    _check_delimiter(delimiter)
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=delimiter, lineterminator=line_end)
    writer.writerow([c.header for c in columns])
    for number, row in enumerate(rows, start=2):
        line = []
        for column in columns:
            try:
                value = _source(row, column.source)
            except (KeyError, AttributeError):
                raise ValueError(f"row {number}, column {column.header!r}: the row has no {column.source!r}") from None
            line.append(column.default if value is None else format_value(value))
        writer.writerow(line)
    return out.getvalue().encode("utf-8-sig" if bom else "utf-8")


def _source(row: Mapping[str, Any] | object, path: str) -> Any:
    """The value at a dotted ``path`` of a row (keys of mappings, attributes of objects); None
    once a step is None."""
    value: Any = row
    for step in path.split("."):
        if value is None:
            return None
        value = value[step] if isinstance(value, Mapping) else getattr(value, step)
    return value


def format_value(value: Any) -> str:
    """A value as written in a file (see the module docstring); None is the caller's to handle."""
    if isinstance(value, Enum):
        return format_value(value.value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)
