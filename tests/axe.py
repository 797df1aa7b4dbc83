"""axe-core (from npm, `npm ci --prefix tests`) injected into a Playwright page: WCAG 2.1 AA checks."""
import pathlib

import pytest

AXE_JS = pathlib.Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"


def axe_violations(page, impacts=("critical", "serious"), tags=("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")):
    """Run axe on the page as it stands; return the violations with one of `impacts`.

    Each violation is axe's own dict (id, impact, help, nodes[...].target), so a failing assertion
    names the rule and the elements."""
    if not AXE_JS.exists():
        pytest.fail(f"{AXE_JS} missing: run `npm ci --prefix tests` (.ci/run does)")
    # Evaluated through the DevTools protocol, not added as a <script> tag: the app's CSP allows
    # no inline script it did not hash, and a page's CSP does not apply to the test's own code.
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE_JS.read_text() + "\n;0")
    result = page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        list(tags))
    return [v for v in result["violations"] if v.get("impact") in impacts]


def describe(violations) -> str:
    """One line per violation and its first elements, for an assertion message."""
    lines = []
    for v in violations:
        targets = ", ".join(str(n.get("target")) for n in v["nodes"][:5])
        lines.append(f"{v['impact']} {v['id']}: {v['help']} ({len(v['nodes'])} nodes: {targets})")
    return "\n".join(lines)
