from blueprints.pipeline import bp  # noqa: F401
