"""Freqtrade's own command line, with only the offline market loader put in first.

`python -m adapters.freqtrade.offline_cli backtesting --config c.json ...` runs the bare
freqtrade CLI on a machine that cannot reach the exchange: markets for the config's
pair_whitelist are generated locally, exactly as the workers do. Used to check the service's
numbers against freqtrade's and to compare wall times.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from adapters.freqtrade import offline_markets


def main(argv: list[str]) -> int:
    config_path = Path(argv[argv.index("--config") + 1])
    pairs = json.loads(config_path.read_text())["exchange"]["pair_whitelist"]
    offline_markets.install()
    offline_markets.set_pairs(pairs)
    from freqtrade.main import main as freqtrade_main

    try:
        freqtrade_main(argv)
    except SystemExit as done:
        return int(done.code or 0)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
