"""A separate process writing to a SQLite store, for the writer-turn tests.

Run as ``python tests/sql_worker.py MODE PATH HOLD``:

- ``hog PATH HOLD``: prints ``ready`` once the store is open, then writes back to back,
  each write holding the write lock for HOLD seconds (a slow disk), until killed.
- ``hold PATH HOLD``: takes one write, prints ``holding``, and keeps it for HOLD seconds.
"""

from __future__ import annotations

import sys
import time

from twpolicy._stores._consent._sql_backend import SCHEMA
from twpolicy._stores._sql import open_database, parse_url


def main(mode: str, path: str, hold: float) -> None:
    database = open_database(parse_url(f"sqlite:///{path}?timeout=60"), SCHEMA)
    if mode == "hold":
        with database.write():
            sys.stdout.write("holding\n")
            sys.stdout.flush()
            time.sleep(hold)  # the write lock held, as by a stuck writer
        return
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    while True:
        with database.write():
            time.sleep(hold)  # a commit that takes this long to reach the disk


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]))
