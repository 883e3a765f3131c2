"""`hacd`: the per-node daemon. Wired up in reconciler.daemon."""

from __future__ import annotations

import sys


def main() -> None:
    print("hacd: the node daemon is not built yet", file=sys.stderr)
    sys.exit(1)
