"""Remedies that can be run as written: the shell command, with the store it acts on.

A refusal's remedy is copied into a terminal by the person who reads it, so it must run as
printed: every required flag present (placeholders in capitals where only the operator knows
the value), and the store named the way the command line names it, by an absolute URL. A
store only this process can see (``memory://``) gets the Python form alone.
"""

from __future__ import annotations

import os
import shlex

__all__ = ["shell_store"]


def _absolute(url: str) -> str:
    """A relative SQLite path is relative to this process; a shell may be elsewhere."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/"):
        path, sep, query = url[len(prefix) :].partition("?")
        return f"sqlite:///{os.path.abspath(path)}{sep}{query}"  # noqa: PTH100  # the text of a path
    return url


def shell_store(ledger: object, option: str, env: str) -> str | None:
    """The flag naming ``ledger`` for the command line (`` --quota-db URL``), or ``None``.

    ``None`` when no command can reach the ledger (``memory://``, or no URL known). A URL
    with a hidden password is left to the environment variable instead.
    """
    url = getattr(ledger, "url", None)
    if not isinstance(url, str) or not url or url.partition(":")[0] == "memory":
        return None
    if ":***@" in url:
        return f' {option} "${env}"'
    return f" {option} {shlex.quote(_absolute(url))}"
