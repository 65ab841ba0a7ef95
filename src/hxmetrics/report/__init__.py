"""The self-contained HTML report and the checks it passes before it is written.

:class:`Report` builds one HTML file (inline CSS, figures embedded as PNG data URIs,
no external reference of any kind) from sections of headline numbers, tables, figures
and notes. :func:`privacy_guard` refuses a document that contains an identifier from
the input or an external URL. :class:`Progress` reports long runs on stderr when a
person is watching. :func:`build_report` and :func:`run_report` are the main job: the
whole report on a roster-and-exhaust data set (the bundled sample by default).
"""

from hxmetrics.report.builder import Kpi, Report, Section, check_target, format_value
from hxmetrics.report.main import (
    build_report,
    default_as_of,
    input_identifiers,
    read_tables,
    run_report,
)
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
    "build_report",
    "check_no_external_urls",
    "check_target",
    "collect_identifiers",
    "default_as_of",
    "find_external_urls",
    "format_value",
    "input_identifiers",
    "privacy_guard",
    "read_tables",
    "run_report",
]
