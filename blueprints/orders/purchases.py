"""(being written)"""

from blueprints.orders import bp  # noqa: F401
