"""``python -m gemini_live_trio``: the command line (``chat``, ``emulator``, ``models``).

Run ``python -m gemini_live_trio --help`` for the commands; see :mod:`gemini_live_trio._cli`.
"""

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())
