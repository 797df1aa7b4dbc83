"""The dispatch queue's filters, sorting and paging, and exports of the filtered set."""
import csv
import io
import json
import time

import h3
from openpyxl import load_workbook

from tests.app.staff.conftest import seed


def test_queue_filters_sort_and_page(services, as_user):
    rows = seed(services, count=120, categories=["garbage", "flood", "road_damage"])
    staff = as_user("super1")
    first = staff.get("/staff/api/queue").get_json()
    assert first["total"] == 120 and len(first["items"]) == 50
    second = staff.get("/staff/api/queue?page=2").get_json()
    assert len(second["items"]) == 20
    ages = [i["created_at"] for i in first["items"]]
    assert ages == sorted(ages)
    by_due = [i["sla_due_at"] for i in staff.get("/staff/api/queue?sort=sla_due").get_json()["items"]]
    assert by_due == sorted(by_due)
    floods = staff.get("/staff/api/queue?category=flood").get_json()
    assert floods["total"] == sum(1 for r in rows if r.category == "flood")
    assert {i["agency"] for i in floods["items"]} == {"DSDA"}
    row = rows[0]
    cell = h3.cell_to_parent(row.h3_cell, 8)
    in_cell = staff.get(f"/staff/api/queue?h3={cell}").get_json()
    assert in_cell["total"] == sum(1 for r in rows if h3.cell_to_parent(r.h3_cell, 8) == cell)
    kel = staff.get(f"/staff/api/queue?kelurahan={row.kelurahan_code}&status=new").get_json()
    assert kel["total"] == sum(1 for r in rows if r.kelurahan_code == row.kelurahan_code)
    assert staff.get("/staff/api/queue?status=closed").get_json()["total"] == 0
    breached = staff.get("/staff/api/queue?sla=breached").get_json()["items"]
    assert all(i["sla_state"] == "breached" and i["overdue"] for i in breached)
    assert staff.get("/staff/api/queue?sort=bogus").status_code == 422
    detail = staff.get(f"/staff/api/reports/{row.id}").get_json()
    assert detail["ticket"] == row.ticket and "reporter_phone" not in detail
    assert detail["history"][0]["action"] == "created" and detail["sla"]["expected_datetime"]


def test_exports_honour_filters(services, as_user, staff_app):
    rows = seed(services, count=30, categories=["garbage", "flood"])
    staff = as_user("super1")
    floods = sum(1 for r in rows if r.category == "flood")
    text = staff.get("/staff/api/export?format=csv&category=flood&lang=en&sep=comma").data.decode("utf-8-sig")
    records = list(csv.DictReader(io.StringIO(text)))
    assert len(records) == floods and {r["Category"] for r in records} == {"Flooding"}
    book = load_workbook(io.BytesIO(staff.get("/staff/api/export?format=xlsx&lang=en").data), read_only=True)
    assert len(list(book["reports"].iter_rows())) == 31
    assert staff.get("/staff/api/export?format=csv&sep=pipe").status_code == 422
    geo = json.loads(staff.get("/staff/api/export?format=geojson&category=garbage").data)
    assert len(geo["features"]) == 30 - floods
    assert geo["features"][0]["geometry"]["type"] == "Point"
    # a large set goes to the background with progress (threshold lowered for the test)
    staff_app.config["PANTAU_BACKGROUND_EXPORT_ROWS"] = 10
    assert staff.get("/staff/api/export?format=csv").status_code == 413
    job = staff.post("/staff/api/exports", json={"format": "csv", "filters": {"category": "flood"}})
    assert job.status_code == 202
    url = job.get_json()["status_url"]
    for _ in range(100):
        status = staff.get(url).get_json()
        if status["state"] != "running":
            break
        time.sleep(0.05)
    assert status["state"] == "ready" and status["progress"] == 1.0 and status["done"] == floods
    download = staff.get(status["download_url"]).data.decode("utf-8-sig")
    assert len(list(csv.DictReader(io.StringIO(download), delimiter=";"))) == floods
    assert as_user("admin1").get(url).status_code == 404     # another user's export is not theirs
