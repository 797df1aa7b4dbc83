"""The staff fixtures (accounts per role, logged-in clients) for the weekly report's downloads."""
from tests.app.staff.conftest import as_user, staff_app  # noqa: F401  fixtures
