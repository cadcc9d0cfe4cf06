"""CSV with column mappings (orderdeck.plugins.csvfiles): reading a fulfilment centre's status and
stock files into typed rows with one error per bad row, and writing an order export."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from orderdeck.plugins.csvfiles import (
    Column,
    CsvError,
    CsvField,
    CsvFileError,
    date_of,
    datetime_of,
    integer,
    number,
    read_csv,
    text,
    write_csv,
    yes_no,
)
from orderdeck.plugins.errors import PartnerDataError

LONDON = ZoneInfo("Europe/London")
STATUS_FIELDS = [
    CsvField("order_id", text, column="Order Id"),
    CsvField("status", text, column="Status"),
    CsvField("tracking_number", text, column="Tracking Number", required=False),
    CsvField("shipped_at", datetime_of(zone=LONDON), column="Shipped At", required=False),
]
STOCK_FIELDS = [CsvField("sku", text, column="SKU"), CsvField("quantity", integer, column="Quantity", default=None)]


def values(result: Any) -> list[tuple[int, dict[str, Any]]]:
    return [(row.number, row.values) for row in result.rows]


# --- reading


def test_columns_are_found_by_mapping_whatever_their_case_and_spaces() -> None:
    data = (b" order ID ,STATUS,Tracking No  ,Shipped at\r\n"
            b"1001,SHIPPED, TRK-1 ,2026-07-01 10:30\r\n1002,CANCELLED,,\r\n")  # fmt: skip
    result = read_csv(data, STATUS_FIELDS, mapping={"tracking_number": "tracking no"})
    assert result.errors == []
    assert result.columns == ["order ID", "STATUS", "Tracking No", "Shipped at"]
    assert values(result) == [
        (2, {"order_id": "1001", "status": "SHIPPED", "tracking_number": "TRK-1",
             "shipped_at": datetime(2026, 7, 1, 10, 30, tzinfo=LONDON)}),
        (3, {"order_id": "1002", "status": "CANCELLED", "tracking_number": None, "shipped_at": None}),
    ]  # fmt: skip
    assert result.rows[0]["shipped_at"].utcoffset() == timedelta(hours=1), "a summer time in London"


def test_a_utf8_bom_is_skipped_in_bytes_and_in_text() -> None:
    data = "Order Id,Status\r\n1001,Café\r\n"
    for given in (b"\xef\xbb\xbf" + data.encode(), "\ufeff" + data):
        result = read_csv(given, STATUS_FIELDS[:2])
        assert values(result) == [(2, {"order_id": "1001", "status": "Café"})]
        assert result.columns == ["Order Id", "Status"]


def test_each_bad_row_gives_one_error_at_its_spreadsheet_row_and_good_rows_come_through() -> None:
    data = (
        "SKU,Quantity,Note\r\n"
        'MUG-RED,4,"packed in\r\ntwo boxes"\r\n'  # row 2, on two lines of the file
        "MUG-BLUE,four,\r\n"  # row 3
        ",3,\r\n"  # row 4
        "\r\n"  # row 5: blank, skipped
        "TEE-S,,\r\n"  # row 6: a blank quantity is the default (None)
        ",lots,\r\n"  # row 7: two bad cells, one error
        "TEE-M,-2\r\n"  # row 8: a short row
    )
    result = read_csv(data.encode(), STOCK_FIELDS)
    assert values(result) == [
        (2, {"sku": "MUG-RED", "quantity": 4}), (6, {"sku": "TEE-S", "quantity": None}),
        (8, {"sku": "TEE-M", "quantity": -2}),
    ]  # fmt: skip
    assert result.errors == [
        CsvError(3, "Quantity", "'four' is not a whole number"),
        CsvError(4, "SKU", "is blank"),
        CsvError(7, "SKU", "is blank"),
    ]
    assert str(result.errors[0]) == "row 3, column 'Quantity': 'four' is not a whole number"


def test_converters_type_each_value_or_say_why_not() -> None:
    fields = [
        CsvField("price", number), CsvField("gift", yes_no), CsvField("due", date_of("%d/%m/%Y", "%Y-%m-%d")),
        CsvField("at", datetime_of()), CsvField("local", datetime_of("%d/%m/%Y %H:%M", zone=LONDON)),
    ]  # fmt: skip
    data = (
        "price,gift,due,at,local\r\n"
        "12.50,Yes,31/01/2026,2026-01-31T14:05:00+01:00,31/01/2026 09:00\r\n"
        "-.5,0,2026-02-01,2026-01-31T14:05:00Z,01/07/2026 09:00\r\n"
        "1e3,yes,2026-02-01,2026-01-31,01/07/2026 09:00\r\n"
        "12,50,yes,2026-02-01,2026-01-31,01/07/2026 09:00\r\n"  # the row shifts: gift is '50'
        "1,maybe,2026-02-01,2026-01-31,01/07/2026 09:00\r\n"
        "1,no,1/2/26,2026-01-31,01/07/2026 09:00\r\n"
        "1,no,2026-02-01,yesterday,01/07/2026 09:00\r\n"
        "1,no,2026-02-01,2026-01-31,2026-07-01\r\n"
    )
    result = read_csv(data, fields)
    assert values(result) == [
        (2, {"price": Decimal("12.50"), "gift": True, "due": date(2026, 1, 31),
             "at": datetime(2026, 1, 31, 14, 5, tzinfo=timezone(timedelta(hours=1))),
             "local": datetime(2026, 1, 31, 9, 0, tzinfo=LONDON)}),
        (3, {"price": Decimal("-0.5"), "gift": False, "due": date(2026, 2, 1),
             "at": datetime(2026, 1, 31, 14, 5, tzinfo=UTC), "local": datetime(2026, 7, 1, 9, 0, tzinfo=LONDON)}),
    ]  # fmt: skip
    assert [str(e) for e in result.errors] == [
        "row 4, column 'price': '1e3' is not a number like 12.50",
        "row 5, column 'gift': '50' is not yes or no",
        "row 6, column 'gift': 'maybe' is not yes or no",
        "row 7, column 'due': '1/2/26' is not a date like DD/MM/YYYY or YYYY-MM-DD",
        "row 8, column 'at': 'yesterday' is not a date and time like YYYY-MM-DD hh:mm:ss",
        "row 9, column 'local': '2026-07-01' is not a date and time like DD/MM/YYYY hh:mm",
    ]
    assert all(row["at"].tzinfo is not None for row in result.rows)


def test_optional_columns_and_defaults() -> None:
    fields = [
        CsvField("sku", text), CsvField("quantity", integer, default=0),
        CsvField("location", text, required=False, default="Default"), CsvField("note", text, required=False),
    ]  # fmt: skip
    result = read_csv("sku,quantity\r\nMUG-RED,\r\nTEE-S,  7  \r\n", fields)
    assert values(result) == [
        (2, {"sku": "MUG-RED", "quantity": 0, "location": "Default", "note": None}),
        (3, {"sku": "TEE-S", "quantity": 7, "location": "Default", "note": None}),
    ]


def test_missing_required_columns_are_one_error_naming_them_and_the_columns_found() -> None:
    with pytest.raises(CsvFileError) as caught:
        read_csv(b"Order,State,Tracking Number\r\n1001,SHIPPED,TRK\r\n", STATUS_FIELDS)
    assert caught.value.error == CsvError(
        1, None, "missing columns 'Order Id', 'Status' (the file has: 'Order', 'State', 'Tracking Number')"
    )
    assert isinstance(caught.value, PartnerDataError), "a connector can let it propagate"
    with pytest.raises(CsvFileError, match=r"^row 1: missing column 'Reference' \(the file has: 'Order Id'"):
        read_csv(b"Order Id,Status\r\n", STATUS_FIELDS, mapping={"status": "Reference"})


def test_a_mapped_column_that_appears_twice_is_refused() -> None:
    with pytest.raises(CsvFileError, match="row 1, column 'sku': appears 2 times"):
        read_csv("SKU,Quantity,sku \r\nA,1,B\r\n", STOCK_FIELDS, mapping={"sku": "sku"})


def test_bytes_not_in_utf8_name_the_row_and_byte_unless_a_fallback_reads_them() -> None:
    data = 'Order Id,Status\r\n1001,"SHIPPED\r\nlate"\r\n1002,Expédié\r\n'.encode("cp1252")
    offset = data.index(b"\xe9")
    with pytest.raises(CsvFileError) as caught:
        read_csv(data, STATUS_FIELDS[:2])
    assert caught.value.error.row == 3, "the row after a two-line field"
    assert str(caught.value) == (
        f"row 3: byte 0xe9 at offset {offset} is not utf-8 text: save the file as UTF-8, or choose its encoding"
    )
    result = read_csv(data, STATUS_FIELDS[:2], fallback_encoding="cp1252")
    assert [row["status"] for row in result.rows] == ["SHIPPED\r\nlate", "Expédié"]

    undefined = b"\xef\xbb\xbfOrder Id,Status\r\n10\x81,SHIPPED\r\n"  # 0x81: neither UTF-8 nor cp1252
    with pytest.raises(CsvFileError, match=r"^row 2: byte 0x81 at offset 22 is not utf-8 \(nor cp1252\) text"):
        read_csv(undefined, STATUS_FIELDS[:2], fallback_encoding="cp1252")


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_other_delimiters(delimiter: str) -> None:
    data = f"SKU{delimiter}Quantity\r\n\"MUG{delimiter}RED\"{delimiter}4\r\n"
    result = read_csv(data, STOCK_FIELDS, delimiter=delimiter)
    assert values(result) == [(2, {"sku": f"MUG{delimiter}RED", "quantity": 4})]


def test_a_semicolon_file_read_as_comma_is_missing_its_columns() -> None:
    with pytest.raises(CsvFileError, match=r"missing columns 'SKU', 'Quantity' \(the file has: 'SKU;Quantity'\)"):
        read_csv("SKU;Quantity\r\nMUG-RED;4\r\n", STOCK_FIELDS)


def test_unknown_delimiter_or_mapped_field_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="delimiter"):
        read_csv("SKU\r\n", STOCK_FIELDS, delimiter=":")
    with pytest.raises(ValueError, match="unknown fields: colour"):
        read_csv("SKU,Quantity\r\n", STOCK_FIELDS, mapping={"colour": "Colour"})


def test_caps_on_rows_and_size() -> None:
    data = "SKU,Quantity\r\n" + "".join(f"SKU-{n},{n}\r\n" for n in range(5))
    assert len(read_csv(data, STOCK_FIELDS, max_rows=5).rows) == 5
    with pytest.raises(CsvFileError, match=r"^row 6: more than 4 rows: split the file$"):
        read_csv(data, STOCK_FIELDS, max_rows=4)
    with pytest.raises(CsvFileError, match="larger than 50 bytes"):
        read_csv(data.encode(), STOCK_FIELDS, max_bytes=50)


def test_a_quote_left_open_names_its_row() -> None:
    with pytest.raises(CsvFileError, match=r"^row 3: cannot be read as CSV"):
        read_csv('SKU,Quantity\r\nMUG-RED,4\r\n"MUG-BLUE,5\r\nTEE-S,6\r\n', STOCK_FIELDS)


def test_an_empty_file_has_no_header() -> None:
    with pytest.raises(CsvFileError, match="the file is empty"):
        read_csv(b"", STOCK_FIELDS)


# --- writing


class Status(Enum):
    OPEN = "OPEN"


@dataclass
class Address:
    postcode: str
    country: str | None


@dataclass
class Order:
    number: int
    status: Status
    total: Decimal
    placed_at: datetime
    due: date
    gift: bool
    shipping: Address | None
    notes: str | None


ORDER_COLUMNS = [
    Column("number", "Order"), Column("status", "Status"), Column("total", "Total"), Column("placed_at", "Placed"),
    Column("due", "Due"), Column("gift", "Gift"), Column("shipping.postcode", "Postcode"),
    Column("shipping.country", "Country", default="GB"), Column("notes", "Notes", default="-"),
]  # fmt: skip


def an_order(**changes: Any) -> Order:
    values: dict[str, Any] = {
        "number": 1001, "status": Status.OPEN, "total": Decimal("12.50"),
        "placed_at": datetime(2026, 1, 31, 14, 5, tzinfo=timezone(timedelta(hours=1))), "due": date(2026, 2, 2),
        "gift": True, "shipping": Address("SW1A 1AA", None), "notes": None,
    }  # fmt: skip
    return Order(**(values | changes))


def test_write_formats_values_predictably_with_defaults() -> None:
    orders = [
        an_order(),
        an_order(number=1002, total=Decimal("1E+2"), gift=False, shipping=None, notes='said "hi",\nthen left'),
    ]
    assert write_csv(orders, ORDER_COLUMNS) == (
        b"Order,Status,Total,Placed,Due,Gift,Postcode,Country,Notes\r\n"
        b"1001,OPEN,12.50,2026-01-31T14:05:00+01:00,2026-02-02,true,SW1A 1AA,GB,-\r\n"
        b'1002,OPEN,100,2026-01-31T14:05:00+01:00,2026-02-02,false,,GB,"said ""hi"",\nthen left"\r\n'
    )


def test_write_dicts_with_other_delimiters_line_ends_and_a_bom() -> None:
    rows = [{"sku": "MUG-RED", "quantity": 4, "price": 2.5}, {"sku": "Café;Crème", "quantity": None, "price": 0.1}]
    columns = [Column("sku", "SKU"), Column("quantity", "Qty", default="0"), Column("price")]
    data = write_csv(rows, columns, delimiter=";", line_end="\n", bom=True)
    assert data == '\ufeffSKU;Qty;price\nMUG-RED;4;2.5\n"Café;Crème";0;0.1\n'.encode()


def test_write_names_the_row_and_column_of_a_missing_source() -> None:
    with pytest.raises(ValueError, match=r"row 3, column 'Colour': the row has no 'colour'"):
        write_csv([{"sku": "A", "colour": "red"}, {"sku": "B"}], [Column("sku"), Column("colour", "Colour")])
    with pytest.raises(ValueError, match=r"row 2, column 'Postcode': the row has no 'shipping.post_code'"):
        write_csv([an_order()], [Column("shipping.post_code", "Postcode")])


def test_round_trip_of_an_export_read_back() -> None:
    orders = [an_order(), an_order(number=1002, total=Decimal("0.10"), notes="two\r\nlines, quoted", shipping=None)]
    data = write_csv(orders, ORDER_COLUMNS, bom=True)
    fields = [
        CsvField("number", integer, column="Order"), CsvField("total", number, column="Total"),
        CsvField("placed_at", datetime_of(), column="Placed"), CsvField("due", date_of(), column="Due"),
        CsvField("gift", yes_no, column="Gift"), CsvField("postcode", text, column="Postcode", required=False),
        CsvField("notes", text, column="Notes"),
    ]  # fmt: skip
    result = read_csv(data, fields)
    assert result.errors == []
    assert [row.values for row in result.rows] == [
        {"number": o.number, "total": o.total, "placed_at": o.placed_at, "due": o.due, "gift": o.gift,
         "postcode": o.shipping.postcode if o.shipping else None, "notes": o.notes or "-"}
        for o in orders
    ]  # fmt: skip
    assert [row.number for row in result.rows] == [2, 3]
