"""A first browser check: sign in and see the dashboard, accessible at both widths."""

from tests.browser.conftest import check_a11y, sign_in_as


def test_sign_in__lands_on_dashboard(page, viewport):
    """Can a person sign in and see an accessible dashboard?"""
    page.goto("/login")
    check_a11y(page)
    sign_in_as(page, "sales")
    assert page.locator("h1").inner_text().startswith("Good day")
    check_a11y(page)
