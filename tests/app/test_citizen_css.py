"""The citizen screens' share of Bootstrap (app/citizen_css.py) is current and keeps what they use."""
from app import citizen_css


def test_the_committed_share_is_what_the_sources_use_now():
    assert citizen_css.OUTPUT.read_text(encoding="utf-8") == citizen_css.citizen_css(), \
        "run: python -m app.citizen_css"


def test_only_rules_whose_classes_are_used_are_kept(tmp_path):
    theme = tmp_path / "theme.css"
    theme.write_text(":root{--bs-blue:#375a7f}body{margin:0}.btn{padding:1px}.btn-check:checked+.btn{color:red}"
                     ".carousel{x:1}@media (min-width:576px){.col-sm-6{width:50%}.btn-lg{padding:2px}}")
    css = citizen_css.citizen_css(theme, words={"btn", "btn-lg"})
    assert ":root{--bs-blue:#375a7f}" in css and "body{margin:0}" in css and ".btn{padding:1px}" in css
    assert "carousel" not in css and "btn-check" not in css and "col-sm-6" not in css
    assert "@media (min-width:576px){.btn-lg{padding:2px}}" in css
