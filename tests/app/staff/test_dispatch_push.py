"""The queue push's arithmetic: a window's announcements as one message, and the rows a push moves."""
from app.staff import push


def test_row_delta_inserts_new_rows_and_drops_the_ones_pushed_off():
    before = [["c", 1], ["b", 1], ["a", 1]]
    after = [["e", 1], ["d", 1], ["c", 1]]
    deletes, inserts = push.row_delta(before, after)
    assert deletes == [2, 1] and inserts == [(0, "e"), (1, "d")]
    rows = [r[0] for r in before]
    for i in deletes:
        del rows[i]
    for i, rid in inserts:
        rows.insert(i, rid)
    assert rows == ["e", "d", "c"]


def test_row_delta_redraws_a_changed_version_in_place_and_refuses_a_reorder():
    deletes, inserts = push.row_delta([["a", 1], ["b", 1]], [["a", 2], ["b", 1]])
    assert deletes == [0] and inserts == [(0, "a")]
    assert push.row_delta([["a", 1], ["b", 1]], [["b", 1], ["a", 1]]) is None
    assert push.row_delta([], []) == ([], [])


def test_summary_merges_a_window_and_overflows_past_the_cap():
    out = push.summary([{"new": ["a"], "changed": ["x"], "ts": 5.0, "accepted": [1.0]},
                        {"new": ["b"], "changed": ["x", "y"], "ts": 4.0, "accepted": [2.0]}])
    assert out["new"] == ["a", "b"] and out["changed"] == ["x", "y"] and out["since"] == 4.0
    assert "overflow" not in out
    big = push.summary([{"new": [str(i) for i in range(push.MAX_IDS + 1)], "ts": 1.0}])
    assert big["overflow"] and len(big["new"]) == push.MAX_IDS
