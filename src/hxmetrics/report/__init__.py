"""The self-contained HTML report and the checks it passes before it is written.

:class:`Report` builds one HTML file (inline CSS, figures embedded as PNG data URIs,
no external reference of any kind) from sections of headline numbers, tables, figures
and notes. :func:`privacy_guard` refuses a document that contains an identifier from
the input or an external URL. :class:`Progress` reports long runs on stderr when a
person is watching.
"""

from hxmetrics.report.builder import Kpi, Report, Section, format_value
from hxmetrics.report.privacy import (
    PrivacyError,
    check_no_external_urls,
    collect_identifiers,
    find_external_urls,
    privacy_guard,
)
from hxmetrics.report.progress import Progress

__all__ = [
    "Kpi",
    "PrivacyError",
    "Progress",
    "Report",
    "Section",
    "check_no_external_urls",
    "collect_identifiers",
    "find_external_urls",
    "format_value",
    "privacy_guard",
]
