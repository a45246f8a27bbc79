"""The supply side in the browser: creating a product, receiving part of a purchase order
and seeing on hand change, the reorder screen making a draft purchase order, and a rep
on a phone looking a product up to see what is available.

Every page or state a test reaches is checked by axe.
"""

from decimal import Decimal

from playwright.sync_api import expect
from sqlalchemy import select

from tests.browser.conftest import check_a11y, screenshot, sign_in_as
from tests.orders.factories import make_po, make_product, make_supplier


def _stock_totals(page):
    return page.locator("dl.stock-totals")


def test_create_product__from_the_form_to_its_page(page, viewport, users, db):
    """Can operations add a product through the form, fix a refused price, and land on
    its page with nothing in stock yet?"""
    make_supplier("Northern Steel Ltd")
    sign_in_as(page, "operations")
    page.goto("/catalog/products")
    page.get_by_role("link", name="New product").first.click()
    page.fill("#sku", "TRL-900")
    page.fill("#name", "Workshop trolley 900 kg")
    page.fill("#list_price", "-5")
    page.fill("#cost", "298.00")
    page.select_option("#unit", "pc")
    page.fill("#reorder_point", "2")
    page.fill("#reorder_qty", "5")
    page.select_option("#preferred_supplier_id", label="Northern Steel Ltd")
    page.get_by_role("button", name="Add product").click()
    expect(page.locator("#list_price-error")).to_be_visible()
    check_a11y(page)
    page.fill("#list_price", "540.00")
    page.get_by_role("button", name="Add product").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Workshop trolley 900 kg")
    expect(page.locator("main")).to_contain_text("TRL-900")
    expect(page.locator("main")).to_contain_text("Nothing in stock at any location.")
    check_a11y(page)
    screenshot(page, "product-new", viewport)
    from models.catalog import Product

    db.session.rollback()
    saved = db.session.scalar(select(Product).where(Product.sku_key == "TRL-900"))
    assert saved.list_price == Decimal("540.00") and saved.preferred_supplier.name == \
        "Northern Steel Ltd"


def test_receive_part_of_a_purchase_order__on_hand_follows(page, viewport, users, db):
    """Does receiving 4 of 10 mark the order partly received and put 4 on hand on the
    product's page, and refuse 7 more without the over-receipt tick?"""
    product = make_product("SHF-180", name="Steel shelving unit", cost="142.50")
    order = make_po(lines=[(product, "10", "142.50")], status="sent")
    sign_in_as(page, "operations")
    page.goto(f"/orders/purchases/{order.id}")
    page.get_by_role("link", name="Receive goods").first.click()
    line = order.lines[0]
    page.fill(f"#qty-{line.id}", "4")
    page.get_by_role("button", name="Receive", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Partially received")
    check_a11y(page)
    page.goto(f"/catalog/products/{product.id}")
    expect(_stock_totals(page)).to_contain_text("4 pc")
    screenshot(page, "product-after-receipt", viewport)

    page.goto(f"/orders/purchases/{order.id}/receive")
    page.fill(f"#qty-{line.id}", "7")
    page.get_by_role("button", name="Receive", exact=True).click()
    expect(page.locator(f"#qty-{line.id}-error")).to_contain_text("more than ordered")
    check_a11y(page)
    page.goto(f"/catalog/products/{product.id}")
    expect(_stock_totals(page)).to_contain_text("4 pc")


def test_reorder_screen__makes_a_draft_purchase_order(page, viewport, users, db):
    """Does the reorder screen list what runs low and turn it into a draft purchase order
    for the preferred supplier in one click?"""
    supplier = make_supplier("Nordic Paper AB")
    make_product("PAP-A4", name="Copier paper A4", cost="11.90", reorder_point=Decimal(40),
                 reorder_qty=Decimal(100), preferred_supplier=supplier)
    make_product("PAP-OK", name="Plenty of this", cost="5.00")
    sign_in_as(page, "operations")
    page.goto("/catalog/reorder")
    expect(page.locator("main")).to_contain_text("PAP-A4")
    expect(page.locator("main")).not_to_contain_text("PAP-OK")
    check_a11y(page)
    page.get_by_role("button", name="Create draft purchase orders").click()
    expect(page.locator("main")).to_contain_text("Draft purchase order")
    from models.purchasing import PurchaseOrder

    db.session.rollback()
    order = db.session.scalar(select(PurchaseOrder))
    assert order.status == "draft" and order.supplier.name == "Nordic Paper AB"
    assert [(line.product.sku, line.quantity) for line in order.lines] == \
        [("PAP-A4", Decimal("100.000"))]
    expect(page.locator("main")).to_contain_text(order.number)
    check_a11y(page)


def test_phone__rep_looks_a_product_up_and_sees_availability(page, viewport, users, db):
    """On a phone, can a rep find a product by typing and see on hand, reserved and
    available?"""
    if viewport != "phone":
        return  # the phone flow; the desk list is covered by the product list tests
    from models import db as models_db
    from models.stock import receive_stock, reserve_stock

    espresso = make_product("ESP-200", name="Espresso machine, two groups", cost="1380.00")
    make_product("GRD-60", name="Coffee grinder", cost="355.00")
    receive_stock(espresso, Decimal(5), Decimal("1380.00"))
    reserve_stock(espresso, Decimal(2), source_type="test", source_id=None)
    models_db.session.commit()
    sign_in_as(page, "sales")
    page.goto("/catalog/products")
    page.fill("#q", "espresso")
    rows = page.locator("#results tbody tr")
    expect(rows).to_have_count(1)
    row = rows.first
    expect(row.locator('[data-label="Available"]')).to_contain_text("3")
    expect(row.locator('[data-label="On hand"]')).to_contain_text("5")
    check_a11y(page)
    screenshot(page, "product-lookup", viewport)
    row.get_by_role("link", name="ESP-200").click()
    expect(_stock_totals(page)).to_contain_text("3 pc")
    expect(page.locator("main")).not_to_contain_text("Stock value")  # sales see no cost
    check_a11y(page)
