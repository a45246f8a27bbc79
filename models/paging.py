"""Keyset pagination: pages stay fast however deep the user goes.

A page is fetched with `WHERE (sort_key, id) > (last_key, last_id)` in the sort order,
never with OFFSET and never with a count over the whole table. The cursor handed to the
browser is an opaque, URL-safe encoding of that pair; a tampered cursor is a ValueError
that the view turns into a 400.
"""

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import literal, tuple_
from sqlalchemy.types import TypeDecorator

from models import db


def encode_cursor(key, ident: int) -> str:
    if isinstance(key, Decimal):
        key = ["d", str(key)]
    elif isinstance(key, datetime):
        key = ["t", key.isoformat()]
    raw = json.dumps([key, ident], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str):
    """(key, id) from a cursor, or ValueError."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key, ident = json.loads(raw)
    except (ValueError, TypeError) as exc:
        raise ValueError("That page link is broken; start from the first page.") from exc
    try:
        if isinstance(key, list) and len(key) == 2 and key[0] == "d":
            key = Decimal(str(key[1]))
        elif isinstance(key, list) and len(key) == 2 and key[0] == "t":
            key = datetime.fromisoformat(str(key[1]))
    except (ArithmeticError, ValueError) as exc:
        raise ValueError("That page link is broken; start from the first page.") from exc
    if not isinstance(ident, int) or isinstance(key, list | dict):
        raise ValueError("That page link is broken; start from the first page.")
    return key, ident


@dataclass
class Page:
    """One page of rows and the cursors around it (None where there is no such page)."""

    items: list
    next_cursor: str | None
    prev_cursor: str | None


def keyset_page(query, key_col, id_col, *, descending: bool, after: str | None = None,
                before: str | None = None, per_page: int = 25, key_of=None,
                params: dict | None = None) -> Page:
    """Run `query` for one page ordered by (key_col, id_col).

    `key_of(row)` gives the sort key of a result row (default: getattr by column key);
    `params` binds the query's own bindparams.
    """
    key_of = key_of or (lambda row: getattr(row, key_col.key))
    pair = tuple_(key_col, id_col)
    backwards = before is not None

    def bound(cursor):
        # Bind the key with the column's own type (Money stores cents, not the Decimal).
        key, ident = decode_cursor(cursor)
        if not isinstance(key, key_col.type.python_type) or isinstance(key, bool):
            raise ValueError("That page link is broken; start from the first page.")
        if isinstance(key_col.type, TypeDecorator):
            try:
                key_col.type.process_bind_param(key, None)
            except (TypeError, ValueError):
                raise ValueError("That page link is broken; start from the first page.") from None
        return tuple_(literal(key, key_col.type), literal(ident, id_col.type))

    if after is not None:
        query = query.where(pair < bound(after) if descending else pair > bound(after))
    elif before is not None:
        query = query.where(pair > bound(before) if descending else pair < bound(before))
    ascending_now = descending == backwards
    order = (key_col.asc(), id_col.asc()) if ascending_now else (key_col.desc(), id_col.desc())
    rows = list(db.session.scalars(query.order_by(*order).limit(per_page + 1), params).unique())
    more = len(rows) > per_page
    rows = rows[:per_page]
    if backwards:
        rows.reverse()
    has_next = more if not backwards else True
    has_prev = (after is not None) if not backwards else more
    if not rows:
        return Page([], None, None)
    return Page(
        rows,
        encode_cursor(key_of(rows[-1]), rows[-1].id) if has_next else None,
        encode_cursor(key_of(rows[0]), rows[0].id) if has_prev else None,
    )
