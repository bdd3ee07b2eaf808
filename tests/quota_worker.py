"""A separate process reserving from a shared quota ledger, for the multi-process tests.

Run as ``python tests/quota_worker.py MODE URL RECIPIENT [ARGS]``:

- ``race URL RECIPIENT TRIES AMOUNT``: tries TRIES reservations of AMOUNT hydrated objects;
  prints how many were granted.
- ``forever URL RECIPIENT AMOUNT``: reserves AMOUNT Tweet IDs in a loop, printing ``ok`` once
  each reservation has returned (so the parent knows it was committed); the parent kills it.
"""

from __future__ import annotations

import sys

import twpolicy


def main() -> None:
    """Run the mode named on the command line."""
    mode, url, recipient, *rest = sys.argv[1:]
    ledger = twpolicy.open_quotas(url)
    if mode == "race":
        tries, amount = map(int, rest)
        granted = sum(
            ledger.reserve(recipient, hydrated_objects=amount).granted for _ in range(tries)
        )
        sys.stdout.write(f"{granted}\n")
        sys.stdout.flush()
    else:
        (amount,) = map(int, rest)
        while True:
            ledger.reserve(recipient, tweet_ids=amount)
            sys.stdout.write("ok\n")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
