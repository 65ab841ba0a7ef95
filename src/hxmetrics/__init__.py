"""hxmetrics: human-experience analytics on a unified stakeholder model."""

from hxmetrics.errors import HxError, InputTableError, ParameterError
from hxmetrics.tables import validate

__version__ = "0.1.0"

__all__ = ["HxError", "InputTableError", "ParameterError", "__version__", "validate"]
