"""The CRM side: the deal board and deals, activities and follow-ups, support cases,
campaigns, contracts and renewals, pipeline reports. One module of views per area."""

from flask import Blueprint

bp = Blueprint("pipeline", __name__, url_prefix="/pipeline")

from blueprints.pipeline import (  # noqa: E402,F401
    activities,
    board,
    campaigns,
    cases,
    contracts,
    reports,
)
