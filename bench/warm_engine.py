"""freqtrade's engine alone, warm: one process loads the data and the strategy once, then times
`Backtesting.backtest_one_strategy` (indicators, signals, the simulation) on the same inputs as
the API's backtest. Prints the median seconds of `runs` runs after one warm-up run.

    .venv/bin/python -m bench.warm_engine WORKDIR DATADIR RUNS
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

from adapters.freqtrade import offline_markets


def main(workdir: Path, datadir: Path, runs: int) -> float:
    from freqtrade.commands.optimize_commands import setup_optimize_configuration
    from freqtrade.enums import RunMode
    from freqtrade.optimize.backtesting import Backtesting

    args = json.loads((workdir / "args.json").read_text())
    args["datadir"] = str(datadir)
    config_path = Path(args["config"][0])
    offline_markets.install()
    offline_markets.set_pairs(json.loads(config_path.read_text())["exchange"]["pair_whitelist"])
    config = setup_optimize_configuration(args, RunMode.BACKTEST)
    backtesting = Backtesting(config)
    data, timerange = backtesting.load_bt_data()
    strategy = backtesting.strategylist[0]
    backtesting.backtest_one_strategy(strategy, data, timerange)  # warm-up
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        backtesting.backtest_one_strategy(strategy, data, timerange)
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


if __name__ == "__main__":
    print(f"{main(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])):.4f}")
