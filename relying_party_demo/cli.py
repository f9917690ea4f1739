"""``rp-demo``: the relying-party demo portal's command.

The portal itself arrives with the OpenID Connect core; until then the command says so plainly
instead of pretending to start something.
"""

from __future__ import annotations

import sys


def main() -> None:
    sys.stderr.write("Error: the relying-party demo portal is not available yet in this version.\n")
    raise SystemExit(1)
