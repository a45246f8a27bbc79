"""(being written)"""

from blueprints.catalog import bp  # noqa: F401
