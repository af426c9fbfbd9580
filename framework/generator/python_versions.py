"""Which Python versions a function app may target, and why the others are refused.

Azure Functions runs Python 3.11-3.14; 3.13 is the newest one tested here and what Flex Consumption
(the plan ``funnx infra bicep`` writes) runs by default. The package, the pipeline and the Bicep
take their version from ``--python`` so they always agree.
"""

from __future__ import annotations

#: Versions Azure Functions runs, oldest first.
SUPPORTED = ("3.11", "3.12", "3.13", "3.14")
#: Versions the test suite runs on (no 3.14 interpreter on the build machines yet).
TESTED = ("3.11", "3.12", "3.13")
DEFAULT = "3.13"
#: When Azure Functions stopped running the older versions.
ENDED = {"3.6": "September 2022", "3.7": "December 2023", "3.8": "October 2024", "3.9": "October 2025",
         "3.10": "October 2026"}  # fmt: skip


def problem(version: str) -> str | None:
    """Why ``version`` cannot be targeted, or None when it can."""
    if version in SUPPORTED:
        return None
    if version in ENDED:
        return (
            f"Python {version} is no longer supported on Azure Functions (support ended in {ENDED[version]}); "
            f"use {SUPPORTED[0]} to {SUPPORTED[-1]} (default {DEFAULT})"
        )
    return f"--python {version!r}: Azure Functions runs Python {', '.join(SUPPORTED)} (default {DEFAULT})"
