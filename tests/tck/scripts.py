"""What the connector under test must do for each TCK id (scripts/dsp-tck/EXPECTATIONS.md §3).

A script is the list of management actions the owner (fixture) takes, each when the process
reaches the state given with it. The connector itself runs in ``manual`` mode for these ids, so
nothing happens that a script does not say.
"""

from __future__ import annotations

# (state the process must be in, action) pairs, in order. Actions name management API calls.
Step = tuple[str, str]

PROVIDER_NEGOTIATIONS: dict[str, list[Step]] = {
    "ACN0101": [("REQUESTED", "offer")],
    "ACN0102": [("REQUESTED", "offer"), ("REQUESTED", "terminate")],  # 2nd: after counter-offer
    "ACN0103": [("REQUESTED", "offer"), ("ACCEPTED", "agree"), ("VERIFIED", "finalize")],
    "ACN0104": [("REQUESTED", "agree"), ("VERIFIED", "finalize")],
    "ACN0201": [("REQUESTED", "terminate")],
    "ACN0202": [],
    "ACN0203": [("REQUESTED", "agree")],
    "ACN0204": [("REQUESTED", "offer")],
    "ACN0205": [("REQUESTED", "offer"), ("OFFERED", "terminate")],
    "ACN0206": [("REQUESTED", "offer"), ("ACCEPTED", "terminate")],
    "ACN0207": [("REQUESTED", "agree"), ("VERIFIED", "terminate")],
    "ACN0301": [("REQUESTED", "agree"), ("VERIFIED", "finalize")],
    "ACN0302": [("REQUESTED", "offer")],
    "ACN0303": [("REQUESTED", "offer")],
    "ACN0304": [("REQUESTED", "offer")],
}

CONSUMER_NEGOTIATIONS: dict[str, list[Step]] = {
    "ACNC0101": [("OFFERED", "accept"), ("AGREED", "verify")],
    "ACNC0102": [("OFFERED", "request")],
    "ACNC0103": [("OFFERED", "terminate")],
    "ACNC0104": [("AGREED", "verify")],
    "ACNC0201": [],
    "ACNC0202": [("REQUESTED", "terminate")],
    "ACNC0203": [("AGREED", "terminate")],
    "ACNC0204": [],
    "ACNC0205": [("OFFERED", "accept")],
    "ACNC0206": [("AGREED", "verify")],
    "ACNC0301": [],
    "ACNC0302": [],
    "ACNC0303": [],
    "ACNC0304": [("OFFERED", "accept")],
    "ACNC0305": [("OFFERED", "accept")],
    "ACNC0306": [("OFFERED", "accept")],
}

PROVIDER_TRANSFERS: dict[str, list[Step]] = {
    "ATP0101": [("REQUESTED", "start"), ("STARTED", "terminate")],
    "ATP0102": [("REQUESTED", "start"), ("STARTED", "complete")],
    "ATP0103": [("REQUESTED", "start"), ("STARTED", "suspend"), ("SUSPENDED", "terminate")],
    "ATP0104": [("REQUESTED", "start"), ("STARTED", "suspend"), ("SUSPENDED", "start"),
                ("STARTED", "complete")],
    "ATP0105": [("REQUESTED", "terminate")],
    **{f"ATP020{n}": [("REQUESTED", "start")] for n in (1, 2, 3, 4)},
    "ATP0205": [],
    "ATP0301": [],
    "ATP0302": [],
    **{f"ATP030{n}": [("REQUESTED", "start")] for n in (3, 4, 5, 6)},
}

CONSUMER_TRANSFERS: dict[str, list[Step]] = {
    **{f"ATPC010{n}": [] for n in (1, 2, 3, 4)},
    "ATPC0201": [("STARTED", "terminate")],
    "ATPC0202": [("STARTED", "complete")],
    "ATPC0203": [("STARTED", "suspend"), ("SUSPENDED", "terminate")],
    "ATPC0204": [("STARTED", "suspend"), ("SUSPENDED", "start"), ("STARTED", "complete")],
    "ATPC0205": [("REQUESTED", "terminate")],
    **{f"ATPC030{n}": [] for n in range(1, 7)},
}

CATALOG_DATASETS = ("CAT0101", "CAT0102")
