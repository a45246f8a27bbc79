"""PDF documents (purchase orders, quotes, packing slips; invoices later), drawn
by WeasyPrint in-process from the same Jinja templates as the pages.

WeasyPrint fetches what a document links to (images, stylesheets, attachments). Ours
must never reach beyond what the template put there: `SafeFetcher` serves `data:` URIs
and files inside our own `static/` folder, follows no redirect, and refuses everything
else (http, other files), so a note typed as `<img src="file:///etc/passwd">` — already
shown as text by autoescaping — could not fetch anything even if it became markup. The
stylesheet is passed as a string, parsed once per process with one FontConfiguration;
fonts are the machine's own (no web fonts).
"""

import atexit
import base64
import gc
import threading
import warnings
from decimal import Decimal
from pathlib import Path
from urllib.parse import unquote, urlsplit

from flask import Response, current_app, render_template

from models.company import currency_places
from models.types import round_money

# WeasyPrint warns at import when the system lacks libharfbuzz-subset (an optional
# library it will require later); PDFs render without it, and the test suite turns
# warnings into errors, so that one notice is silenced here.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="HarfBuzz-Subset will be required",
                            category=DeprecationWarning)
    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration
    from weasyprint.urls import URLFetcher

_lock = threading.Lock()
_shared: dict = {}


@atexit.register
def _release() -> None:
    """Free the font configuration (a Pango font map behind cffi) while the interpreter
    is whole: left to the final garbage collection, its finalizer runs after the GLib
    types are gone and the process dies with a segmentation fault on exit."""
    with _lock:
        _shared.clear()
    gc.collect()


class SafeFetcher(URLFetcher):
    """A URL fetcher limited to data: URIs and our own static files; no redirects."""

    def __init__(self, static_folder: str):
        super().__init__(allowed_protocols={"data", "file"}, allow_redirects=False,
                         timeout=2)
        self.static_root = Path(static_folder).resolve()
        self.refused: list[str] = []

    def fetch(self, url, headers=None):
        parts = urlsplit(url)
        if parts.scheme == "data":
            return super().fetch(url, headers)
        if parts.scheme == "file" and parts.netloc in ("", "localhost"):
            path = Path(unquote(parts.path)).resolve()
            if path.is_relative_to(self.static_root) and path.is_file():
                return super().fetch(url, headers)
        self.refused.append(url)
        raise ValueError(f"Refused to fetch {url!r}: documents load only their own files.")


def _resources():
    """The font configuration and parsed stylesheet, made once per process."""
    with _lock:
        if "css" not in _shared:
            fonts = FontConfiguration()
            css_path = Path(current_app.static_folder) / "css" / "pdf.css"
            _shared["fonts"] = fonts
            _shared["css"] = CSS(string=css_path.read_text(encoding="utf-8"),
                                 font_config=fonts)
        return _shared["fonts"], _shared["css"]


def render_pdf(template: str, **context) -> bytes:
    """Render a Jinja template to PDF bytes through the safe fetcher."""
    html = render_template(template, **context)
    fonts, css = _resources()
    fetcher = SafeFetcher(current_app.static_folder)
    base_url = Path(current_app.static_folder).resolve().as_uri() + "/"
    document = HTML(string=html, base_url=base_url, url_fetcher=fetcher)
    return document.write_pdf(stylesheets=[css], font_config=fonts)


LOGO_MEDIA = ("image/png", "image/jpeg")


def logo_uri(company) -> str | None:
    """The company logo as a data: URI (a document fetches nothing else), or None."""
    if company.logo_type not in LOGO_MEDIA:
        return None
    data = company.logo
    if not data:
        return None
    return f"data:{company.logo_type};base64,{base64.b64encode(data).decode('ascii')}"


def currency_amount(value, currency: str) -> str:
    """An amount to the currency's unit with thousands separators: 1,250.00, or 125,000
    for the yen. A template filter: `{{ quote.total|currency_amount(quote.currency) }}`."""
    if value is None:
        return ""
    places = currency_places(currency)
    return f"{round_money(Decimal(value), places):,.{places}f}"


def pdf_response(data: bytes, filename: str, *, download: bool = False) -> Response:
    """The PDF as a response: shown in the browser (or saved, with `download`)."""
    disposition = "attachment" if download else "inline"
    response = Response(data, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
