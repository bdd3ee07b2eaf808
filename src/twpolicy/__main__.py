"""``python -m twpolicy`` runs the ``twpolicy`` command."""

import sys

from twpolicy._cli import main

sys.exit(main())
