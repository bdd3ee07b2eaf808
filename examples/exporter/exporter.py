"""Export a search as a dataset another team can use: Tweet IDs only.

The Developer Policy (I.F.2) lets an application give third parties Tweet, User and DM IDs,
not the Tweets themselves; the recipients hydrate the IDs with their own access, so deleted
and protected Tweets stay out of their hands. This exporter searches, keeps the IDs
(`twpolicy.dehydrate`), and releases them through a function decorated with
`twpolicy.ids_only`: the guard checks that nothing but IDs leaves and counts them against the
recipient's 30-day quota before one line is written.

    python exporter.py "open data" dataset.txt --recipient university-lab
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import tweepy

import twpolicy


@dataclass(frozen=True)
class Dataset:
    """Tweet IDs meant for one recipient."""

    ids: list[str]
    recipient: str


def collect_ids(client: tweepy.Client, query: str, *, limit: int = 1000) -> list[str]:
    """The IDs of the most recent tweets matching ``query`` (at most ``limit``), newest first."""

    def pages() -> Iterator[tweepy.Response]:
        seen = 0
        for page in tweepy.Paginator(client.search_recent_tweets, query, max_results=100):
            yield page
            seen += page.meta["result_count"]
            if seen >= limit:
                return

    return twpolicy.dehydrate(pages())[:limit]


@twpolicy.ids_only(recipient=lambda dataset: dataset.recipient, strict=True)
def release(dataset: Dataset) -> list[str]:
    """The IDs that leave, once the guard has checked and counted them."""
    return dataset.ids


def export(dataset: Dataset, path: Path) -> int:
    """Write the dataset's IDs to ``path``, one per line; return how many.

    Raises:
        twpolicy.RedistributionError: something other than Tweet IDs was about to leave, or
            the recipient's quota would be exceeded (`twpolicy.QuotaExceeded`); nothing was
            written.
    """
    ids = release(dataset)
    temporary = path.with_suffix(path.suffix + ".partial")
    temporary.write_text("".join(f"{tweet_id}\n" for tweet_id in ids), encoding="ascii")
    temporary.replace(path)  # all or nothing: a reader never sees half a dataset
    return len(ids)


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
    written = export(Dataset(ids, arguments.recipient), arguments.output)
    print(f"wrote {written} Tweet IDs to {arguments.output}")


if __name__ == "__main__":  # pragma: no cover
    main()
