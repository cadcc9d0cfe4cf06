"""schema.graphql is exported from the code: this fails when they drift apart."""

from pathlib import Path

from orderdeck.graphql.schema import schema

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "schema.graphql"


def test_schema_file_matches_code():
    assert SCHEMA_FILE.read_text() == schema.as_str() + "\n", (
        "schema.graphql is out of date: run `orderdeck export-schema > schema.graphql`"
    )
