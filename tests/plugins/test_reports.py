"""orderdeck.plugins.reports and csvfiles.read_records: a centre's reports read into the DTOs,
whichever way they come, one problem per bad row (the connector-neutral part of a fulfilment
connector's imports)."""

from __future__ import annotations

import hashlib

import pytest

from orderdeck.plugins.csvfiles import CsvError, CsvField, CsvFileError, integer, read_csv, read_records
from orderdeck.plugins.dto import FulfilmentStatus, RowProblem
from orderdeck.plugins.reports import (
    STATUS_FIELDS,
    STATUS_WORDS,
    STOCK_FIELDS,
    CsvFormat,
    StatusColumns,
    fulfilment_status,
    imported_file,
    order_number,
    read_status_report,
    read_stock_report,
    status_fields,
    status_report,
    stock_report,
    unreadable_status_report,
)


def test_read_records_types_values_as_read_csv_does_and_names_bad_records() -> None:
    fields = [CsvField("sku"), CsvField("quantity", integer), CsvField("note", required=False, default="-")]
    result = read_records([{"sku": "A", "quantity": 3}, {"sku": "B", "quantity": "4 "}, {"sku": "C", "quantity": 1.5},
                           {"sku": "D"}, {"sku": "E", "quantity": True}, [1, 2], {"sku": "F", "quantity": -2, "note": None}],
                          fields)  # fmt: skip
    assert [(row.number, row.values) for row in result.rows] == [
        (1, {"sku": "A", "quantity": 3, "note": "-"}), (2, {"sku": "B", "quantity": 4, "note": "-"}),
        (7, {"sku": "F", "quantity": -2, "note": "-"}),
    ]  # fmt: skip
    assert [(e.row, e.column) for e in result.errors] == [(3, "quantity"), (4, "quantity"), (5, "quantity"), (6, None)]


@pytest.mark.parametrize(("word", "status"), [("SHIPPED", "SHIPPED"), ("dispatched", "SHIPPED"), (" Complete ", "COMPLETE"),
                                              ("completed", "COMPLETE"), ("Canceled", "CANCELLED"), ("cancelled", "CANCELLED"),
                                              ("ERROR", "ERROR"), ("failed", "ERROR")])  # fmt: skip
def test_status_words_are_read_case_insensitively(word: str, status: str) -> None:
    assert fulfilment_status(word) is FulfilmentStatus(status)


def test_a_status_file_keyed_by_number_or_reference_with_a_problem_per_bad_row() -> None:
    data = b"order_number,reference,status,tracking_number\r\n1,,shipped,T1\r\n,FC-2,cancelled,\r\n3,,lost,\r\n,,shipped,T4\r\n"
    file = imported_file("status.csv", data)
    assert file.content_hash == hashlib.sha256(data).hexdigest()
    report = status_report(file, read_csv(data, STATUS_FIELDS))
    assert [(l.row, l.order_number, l.reference, l.status, l.tracking_number) for l in report.statuses] == [
        (2, 1, "", FulfilmentStatus.SHIPPED, "T1"), (3, 0, "FC-2", FulfilmentStatus.CANCELLED, "")]
    assert [(p.row, p.column) for p in report.problems] == [(4, "status"), (5, "order_number")]


def test_stock_rows_with_a_blank_quantity_are_ignored() -> None:
    data = b"sku,quantity\nA,3\nB,\nC,x\n"
    report = stock_report(imported_file("stock.csv", data), read_csv(data, STOCK_FIELDS))
    assert [(l.row, l.sku, l.quantity) for l in report.levels] == [(2, "A", 3)]
    assert [(p.row, p.column) for p in report.problems] == [(4, "quantity")]


def test_an_unreadable_report_is_one_problem_where_the_reader_says() -> None:
    file = imported_file("status.csv", b"<html>")
    report = unreadable_status_report(file, CsvFileError(CsvError(1, None, "missing column 'status'")))
    assert report.statuses == [] and report.problems == [RowProblem(1, "", "missing column 'status'")]


def test_a_connector_reads_more_status_words_with_status_fields() -> None:
    words = STATUS_WORDS | {"delivered": FulfilmentStatus.COMPLETE}
    data = b"order_number,status\n1,Delivered\n2,lost\n"
    report = status_report(imported_file("s.csv", data), read_csv(data, status_fields(words)))
    assert [(l.order_number, l.status) for l in report.statuses] == [(1, FulfilmentStatus.COMPLETE)]
    assert "DELIVERED" in report.problems[0].reason
    assert "DELIVERED" not in status_report(imported_file("s.csv", data), read_csv(data, STATUS_FIELDS)).problems[0].reason


def test_order_numbers_are_above_zero() -> None:
    assert order_number("12") == 12
    for bad in ("0", "-5"):
        with pytest.raises(ValueError, match="is not an order number"):
            order_number(bad)


def test_a_file_with_neither_key_column_is_one_problem_named_by_the_columns() -> None:
    columns = StatusColumns(order_number="Order", reference="Ref").model_dump()
    data = b"Status;Carrier\nSHIPPED;DPD\n"
    report = read_status_report("s.csv", data, lambda data: CsvFormat(delimiter=";").read(data, STATUS_FIELDS, columns),
                                columns)  # fmt: skip
    assert report.statuses == [] and report.problems == [
        RowProblem(1, "", "missing column 'Order' or 'Ref' (the file has: 'Status', 'Carrier')")]  # fmt: skip


def test_read_reports_name_and_hash_the_content_and_turn_unreadable_content_into_one_problem() -> None:
    data = "sku;quantity\nCAFÉ;2\n".encode("cp1252")
    report = read_stock_report("stock.csv", data, lambda data: CsvFormat(delimiter=";").read(data, STOCK_FIELDS))
    assert report.file == imported_file("stock.csv", data) and report.levels == []
    assert [(p.row, "is not utf-8" in p.reason) for p in report.problems] == [(2, True)]
    fallback = CsvFormat(delimiter=";", fallback_encoding="cp1252")
    assert [l.sku for l in read_stock_report("stock.csv", data, lambda data: fallback.read(data, STOCK_FIELDS)).levels] == ["CAFÉ"]


def test_the_file_format_refuses_unknown_delimiters_and_encodings() -> None:
    with pytest.raises(ValueError, match="must be one of"):
        CsvFormat(delimiter=":")
    with pytest.raises(ValueError, match="not an encoding"):
        CsvFormat(fallback_encoding="klingon")
