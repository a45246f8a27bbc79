"""Campaigns: the sources deals are attributed to, with what each brought in."""

from flask import abort, flash, request, url_for

from blueprints.pipeline import bp
from blueprints.pipeline.campaign_forms import CampaignForm
from blueprints.web import ALL_ROLES, redirect_to, refuse, render, roles
from models import Campaign, CompanySettings, db
from models.errors import DomainError
from models.reports import CAMPAIGN_ROLES, campaign_performance, save_campaign


@bp.route("/campaigns")
@roles(*ALL_ROLES)
def campaigns():
    """Every campaign with its deals, open pipeline and won value."""
    if request.args:
        abort(400, "This list takes no filters.")
    return render("pipeline/campaigns.html", rows=campaign_performance(),
                  currency=CompanySettings.current().base_currency)


def _save(campaign: Campaign, form: CampaignForm):
    """Validate and save the form onto `campaign`; the page again on a refusal."""
    status = 200
    conflict = None
    currency = CompanySettings.current().base_currency
    form.budget.label.text = f"Budget ({currency})"
    if request.method == "POST":
        status = 422
        if form.validate():
            try:
                save_campaign(campaign, name=form.name.data, channel=form.channel.data,
                              starts_on=form.starts_on.data, ends_on=form.ends_on.data,
                              budget=form.budget.data, version=form.version.data)
            except DomainError as error:
                status, conflict = refuse(form, error)
            else:
                db.session.commit()
                flash(f"Campaign {campaign.name} is saved.", "success")
                return redirect_to(url_for("pipeline.campaigns"))
    return render("pipeline/campaign_form.html", form=form, campaign=campaign,
                  conflict=conflict, status=status)


@bp.route("/campaigns/new", methods=["GET", "POST"])
@roles(*CAMPAIGN_ROLES)
def new_campaign():
    """Add a campaign."""
    return _save(Campaign(), CampaignForm())


@bp.route("/campaigns/<int:campaign_id>/edit", methods=["GET", "POST"])
@roles(*CAMPAIGN_ROLES)
def edit_campaign(campaign_id: int):
    """Change a campaign (version-checked)."""
    campaign = db.session.get(Campaign, campaign_id) or abort(404)
    if request.method == "GET":
        form = CampaignForm(obj=campaign)
        form.version.data = campaign.version
    else:
        form = CampaignForm()
    return _save(campaign, form)
