"""The main menu: what each role sees (the views it may open, admin settings to admins),
with links built once per role and mount point, the same as url_for builds them."""

import re

import pytest
from flask import url_for

from blueprints.web import MENU


def _menu(html: str) -> list[tuple[str, str]]:
    nav = html.split('<nav aria-label="Main"', 1)[1].split("</nav>", 1)[0]
    return re.findall(r'<li><a href="([^"]+)">([^<]+)</a></li>', nav)


@pytest.mark.parametrize("role, shown, hidden", [
    ("sales", {"Dashboard", "Customers", "Deals", "Quotes", "Follow-ups", "My password"},
     {"Journal", "Users", "Company", "Pipeline stages", "Vendor bills"}),
    ("finance", {"Invoices", "Payments", "Journal", "Chart of accounts", "Credit holds"},
     {"Users", "Company", "Pipeline stages"}),
    ("operations", {"Products", "Purchase orders", "Stock moves", "Stock locations"},
     {"Users", "Company", "Pipeline stages"}),
    ("admin", {"Users", "Company", "Pipeline stages", "Journal", "Deals", "Tax rates"}, set()),
])
def test_menu__each_role_sees_the_views_it_may_open(app, client, login, role, shown, hidden):
    """Does each role's menu list what it may open, in the menu's order, each link the
    one url_for builds, and nothing it may not open?"""
    login(role)
    for _ in range(2):  # built once, then served from the role's copy
        links = _menu(client.get("/").get_data(as_text=True))
        labels = [label for _, label in links]
        assert shown <= set(labels) and not hidden & set(labels)
        order = [label for _, label, _ in MENU]
        assert labels == sorted(labels, key=order.index)
        with app.test_request_context("/"):
            expected = {label: url_for(endpoint) for endpoint, label, _ in MENU}
        assert all(url == expected[label] for url, label in links)
    may = {endpoint for endpoint, view in app.view_functions.items()
           if role in (getattr(view, "roles", None) or ())}
    assert set(labels) == {label for endpoint, label, needs in MENU if needs is None
                           or (endpoint in may and (needs == "view" or role == "admin"))}
    for url, _ in links:  # every link opens for this role
        assert client.get(url).status_code == 200, url


def test_menu__links_follow_the_mount_point(app, client, login):
    """Under a mount prefix (a base URL with a path), do the menu's links carry it, even after the
    same role's menu was built without one?"""
    login("sales")
    plain = _menu(client.get("/").get_data(as_text=True))
    page = client.get("/", base_url="http://localhost/tandem/")
    assert page.status_code == 200
    mounted = _menu(page.get_data(as_text=True))
    assert [label for _, label in mounted] == [label for _, label in plain]
    assert all(url == "/tandem" + base for (url, _), (base, _) in zip(mounted, plain,
                                                                      strict=True))
