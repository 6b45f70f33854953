"""axe-core, vendored and pinned: the accessibility rules the browser test runs on every page it visits.

`axe.min.js` is axe-core 4.14.1 from the npm registry (https://registry.npmjs.org/axe-core/-/axe-core-4.14.1.tgz,
integrity sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ==),
the file `package/axe.min.js` unchanged, MPL-2.0 (its notice is at the top of the file). To update:
`npm pack axe-core@VERSION`, check the integrity npm prints, copy the file and change the digest below.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

AXE_VERSION = "4.14.1"
# SHA-256 of package/axe.min.js in the tarball above: a changed file is refused, not run.
AXE_SHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"
_AXE_FILE = Path(__file__).with_name("axe.min.js")

# WCAG 2.1 A and AA (colour contrast among them) and axe's best practices for landmarks and headings.
RUN_ONLY = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]


def axe_source() -> str:
    source = _AXE_FILE.read_bytes()
    digest = hashlib.sha256(source).hexdigest()
    if digest != AXE_SHA256:
        raise AssertionError(f"tests/support/axe/axe.min.js is not the pinned axe-core {AXE_VERSION} ({digest})")
    return source.decode("utf-8")


def axe_violations(driver: Any) -> list[dict[str, Any]]:
    """Run axe on the page the driver shows; its violations (empty when the page passes)."""
    if not driver.execute_script("return typeof window.axe !== 'undefined'"):
        driver.execute_script(axe_source())
    driver.set_script_timeout(60)
    result: dict[str, Any] = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}, resultTypes: ['violations']})"
        ".then(r => done({violations: r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.map(n => ({target: n.target.join(' '), summary: n.failureSummary}))}))}))"
        ".catch(e => done({error: String(e)}));",
        RUN_ONLY,
    )
    if "error" in result:
        raise AssertionError(f"axe failed: {result['error']}")
    violations: list[dict[str, Any]] = result["violations"]
    return violations


def described(violations: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"{violation['id']} ({violation['impact']}): {violation['help']}\n"
        + "\n".join(f"    {node['target']}: {node['summary']}" for node in violation["nodes"][:5])
        for violation in violations
    )
