"""What changes between OpenAI-compatible servers: ``data/openai_servers.csv``, read and checked.

The request body is the same everywhere; what differs is the base URL, what the ``model`` field
means, how concurrent requests are served and which extra fields are honoured. Every row names
the version it describes, the date it was checked and the documentation page it comes from:
servers change their fields between versions (vLLM 0.12 dropped its ``guided_*`` fields).
"""
import csv
from datetime import date

from helpers.course.paths import DATA_DIR

SERVERS_CSV = DATA_DIR / "openai_servers.csv"
COLUMNS = ("server", "describes", "checked", "default_base_url", "model_field", "concurrent_requests", "structured_output",
           "beyond_openai", "source")


def load_openai_servers(path=SERVERS_CSV) -> list[dict]:
    """The table as a list of rows; refuses a missing column, an empty cell, a source that is no URL or a
    ``checked`` date that is not YYYY-MM-DD."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    for number, row in enumerate(rows, start=2):
        missing = [c for c in COLUMNS if not (row.get(c) or "").strip()]
        if missing:
            raise ValueError(f"{path.name} line {number}: empty or missing {missing}")
        for column in ("default_base_url", "source"):
            if not row[column].startswith(("http://", "https://")):
                raise ValueError(f"{path.name} line {number}: {column} must be a URL, got {row[column]!r}")
        try:
            date.fromisoformat(row["checked"])
        except ValueError:
            raise ValueError(f"{path.name} line {number}: checked must be a date as YYYY-MM-DD, "
                             f"got {row['checked']!r}") from None
    return rows
