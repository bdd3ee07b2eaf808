"""Export a search as a dataset another team can use: Tweet IDs only.

The Developer Policy (I.F.2) lets an application give third parties Tweet, User and DM IDs,
not the Tweets themselves; the recipients hydrate the IDs with their own access, so deleted
and protected Tweets stay out of their hands. This exporter searches, keeps the IDs, asks the
guard whether the export may leave (an ``export`` action naming the recipient, counted
against the recipient's quota), and only then writes one ID per line.

    python exporter.py "open data" dataset.txt --recipient university-lab
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import tweepy

import twpolicy


def collect_ids(client: tweepy.Client, query: str, *, limit: int = 1000) -> list[str]:
    """The IDs of the most recent tweets matching ``query`` (at most ``limit``), newest first."""
    found: list[str] = []
    pages = tweepy.Paginator(client.search_recent_tweets, query, max_results=100)
    for page in pages:
        found.extend(str(tweet.id) for tweet in page.data or ())
        if len(found) >= limit:
            break
    return found[:limit]


def export_ids(
    ids: list[str], path: Path, *, recipient: str, guard: twpolicy.Guard | None = None
) -> twpolicy.Decision:
    """Write ``ids`` to ``path``, one per line, once the guard lets them go to ``recipient``.

    Raises:
        twpolicy.PolicyViolation: the guard refused the export; nothing was written.
    """
    guard = guard or twpolicy.get_default_guard()
    decision = guard.enforce(
        twpolicy.Action(
            kind="export",
            operation="export tweet ids",
            recipient=recipient,
            count=len(ids),
            facts={"content": "tweet_ids"},
            payload=ids,
        )
    )
    temporary = path.with_suffix(path.suffix + ".partial")
    temporary.write_text("".join(f"{tweet_id}\n" for tweet_id in ids), encoding="ascii")
    temporary.replace(path)  # all or nothing: a reader never sees half a dataset
    return decision


def main() -> None:  # pragma: no cover  # needs real credentials
    """Search and export, with credentials from the environment."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("query")
    parser.add_argument("output", type=Path)
    parser.add_argument("--recipient", required=True)
    parser.add_argument("--limit", type=int, default=1000)
    arguments = parser.parse_args()
    client = twpolicy.Client(bearer_token=os.environ["TWITTER_BEARER_TOKEN"])
    ids = collect_ids(client, arguments.query, limit=arguments.limit)
    export_ids(ids, arguments.output, recipient=arguments.recipient)
    print(f"wrote {len(ids)} Tweet IDs to {arguments.output}")


if __name__ == "__main__":  # pragma: no cover
    main()
