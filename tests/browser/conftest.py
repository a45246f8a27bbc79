"""Browser fixtures: the app served on loopback by a real server thread, and Debian's
Chromium driven by Playwright at desk (1280x800) and phone (390x844) sizes.

Every page a browser test visits is also checked with axe (`check_a11y`).
"""

import os
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.conftest import PASSWORD, make_test_app

CHROMIUM = os.environ.get("TANDEM_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[1] / "screenshots"
VIEWPORTS = {"desk": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


def pytest_collection_modifyitems(items):
    for item in items:
        if "/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def live_app(database_url):
    """The Flask app the live server serves: a test may change its config (mail relay)
    with monkeypatch.setitem, which puts it back afterwards."""
    return make_test_app(keep=True)


@pytest.fixture(scope="session")
def live_server(live_app):
    """The app on 127.0.0.1 at a free port, for the whole run."""
    server = make_server("127.0.0.1", 0, live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"],
        )
        yield chromium
        chromium.close()


@pytest.fixture(params=list(VIEWPORTS))
def viewport(request):
    """Run the test at desk width and at phone width."""
    return request.param


@pytest.fixture
def page(browser, live_server, app, users, viewport):
    context = browser.new_context(viewport=VIEWPORTS[viewport], base_url=live_server)
    context.set_default_timeout(10_000)
    pg = context.new_page()
    errors = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.on("console", lambda msg: errors.append(msg.text) if msg.type == "error"
          and "status of 4" not in msg.text else None)
    pg.js_errors = errors
    yield pg
    context.close()
    assert not errors, f"JavaScript errors or CSP violations: {errors}"


def sign_in_as(page, role: str) -> None:
    page.goto("/login")
    page.fill("#email", f"{role}@example.test")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/")


def check_a11y(page) -> None:
    """No axe violations on the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    violations = results.response["violations"]
    assert not violations, results.generate_report()


def screenshot(page, name: str, viewport: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    # caret="initial": Playwright otherwise hides the caret with an inline style that
    # stays on inputs, and our CSP (rightly) blocks copying it during htmx swaps.
    page.screenshot(path=str(SCREENSHOTS / f"{name}-{viewport}.png"), full_page=True,
                    caret="initial")
