"""`hacd --config FILE`: the per-node daemon."""

from __future__ import annotations

import argparse
import sys

from reconciler.base.errors import ConfigError


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="hacd", description="hactl's node daemon")
    parser.add_argument("--config", required=True, help="the node's configuration file (YAML)")
    args = parser.parse_args(argv)
    from reconciler.daemon import config, server

    try:
        cfg = config.load(args.config)
    except ConfigError as e:
        print(f"hacd: {e}", file=sys.stderr)
        sys.exit(2)
    server.serve(cfg)


if __name__ == "__main__":
    main()
