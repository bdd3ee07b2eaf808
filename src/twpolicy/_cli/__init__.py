"""The ``twpolicy`` command line."""

from twpolicy._cli._main import main

__all__ = ["main"]
