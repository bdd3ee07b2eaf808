"""``python -m twpolicy`` runs the ``twpolicy`` command."""

import sys

from twpolicy._cli._main import main

sys.exit(main())
