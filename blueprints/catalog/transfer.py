"""Moving a product's stock by hand: between locations that hold stock, a write-off to
the inventory adjustment, or a take-in from it, always with a reason
(`models.stock.manual_move`)."""

from flask import abort, current_app, flash, request, url_for
from flask_login import current_user
from sqlalchemy import select

from blueprints.catalog import bp
from blueprints.catalog.stock_forms import MoveForm
from blueprints.forms import choices
from blueprints.web import redirect_to, refuse, render, roles
from models import db
from models.catalog import Product
from models.errors import DomainError
from models.stock import STOCK_ROLES, Location, levels_for, manual_move, virtual_location

ADJUST = "adjust"   # the inventory adjustment location, whether or not it exists yet


def _internal_locations() -> list[Location]:
    """Active locations that hold stock (read only: never creates the defaults)."""
    return list(db.session.scalars(
        select(Location).where(Location.kind == "internal", Location.active.is_(True))
        .order_by(Location.code)))


def _location_choices(places: list[Location]):
    return choices([(str(place.id), place.label) for place in places]
                   + [(ADJUST, "Inventory adjustment (write-off / take-in)")])


def _chosen(value: str) -> Location:
    if value == ADJUST:
        return virtual_location("adjustment")
    return db.session.get(Location, int(value)) or abort(400, "Unknown location.")


def _after_move(product: Product) -> str:
    if "catalog.product" in current_app.view_functions:
        return url_for("catalog.product", product_id=product.id)
    return url_for("catalog.moves", product_id=product.id)


@bp.route("/products/<int:product_id>/move", methods=["GET", "POST"])
@roles(*STOCK_ROLES)
def move_product(product_id: int):
    """Move stock of one product: a transfer, a write-off or a take-in, with a reason."""
    product = db.session.get(Product, product_id) or abort(404)
    places = _internal_locations()
    form = MoveForm()
    form.from_location_id.choices = _location_choices(places)
    form.to_location_id.choices = _location_choices(places)
    form.quantity.whole = product.whole_units
    form.quantity.label.text = f"Quantity ({product.unit})"
    status, message = 200, None
    service = None if product.is_stocked else (
        f"{product.sku} is a service; services have no stock to move.")
    levels = levels_for(product.id)
    if request.method == "GET":
        if request.args:
            abort(400, "This page takes no filters.")
        # From where most of it is; to another location that holds stock, else a write-off.
        fullest = max((level for level in levels if level.location.is_internal
                       and level.location.active), key=lambda level: level.on_hand,
                      default=None)
        source = fullest.location if fullest else (places[0] if places else None)
        form.from_location_id.data = str(source.id) if source else ADJUST
        target = next((place for place in places if place is not source), None)
        form.to_location_id.data = str(target.id) if target else ADJUST
    else:
        status = 422
        if service:
            message = service
        elif form.validate():
            source = _chosen(form.from_location_id.data)
            target = _chosen(form.to_location_id.data)
            quantity = form.quantity.quantity
            try:
                manual_move(product, quantity, source, target, reason=form.reason.data,
                            by=current_user)
                db.session.commit()
            except DomainError as error:
                status, message = refuse(form, error)
                levels = levels_for(product.id)
            else:
                flash(f"Moved {quantity.normalize():f} {product.unit} of {product.sku} from "
                      f"{source.code} to {target.code}.", "success")
                return redirect_to(_after_move(product))
    return render("catalog/move_form.html", form=form, product=product, levels=levels,
                  has_places=bool(places), service=service, conflict=message,
                  status=status)
