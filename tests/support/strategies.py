"""Strategy sources for tests: a real crossover, and ones that fail in each way users manage."""

from __future__ import annotations

CROSS = """
from pandas import DataFrame
from freqtrade.strategy import IStrategy


class {name}(IStrategy):
    INTERFACE_VERSION = 3
    timeframe = "5m"
    minimal_roi = {{"0": 0.03}}
    stoploss = -0.03
    startup_candle_count = 50

    def populate_indicators(self, df: DataFrame, metadata: dict) -> DataFrame:
        {before}
        df["fast"] = df["close"].ewm(span=12, adjust=False).mean()
        df["slow"] = df["close"].ewm(span=48, adjust=False).mean()
        return df

    def populate_entry_trend(self, df: DataFrame, metadata: dict) -> DataFrame:
        up = (df["fast"] > df["slow"]) & (df["fast"].shift(1) <= df["slow"].shift(1))
        df.loc[up, "enter_long"] = 1
        return df

    def populate_exit_trend(self, df: DataFrame, metadata: dict) -> DataFrame:
        down = (df["fast"] < df["slow"]) & (df["fast"].shift(1) >= df["slow"].shift(1))
        df.loc[down, "exit_long"] = 1
        return df
"""


def crossover(name: str = "TestCross", before: str = "pass") -> str:
    """A working EMA crossover; `before` is one line run first in populate_indicators."""
    return CROSS.format(name=name, before=before)


def sleeper(name: str, seconds: float, pid_file: str = "") -> str:
    """Sleeps in populate_indicators (writing its pid first, if asked): a run to cancel or kill.

    With a pid file it sleeps only while the file does not exist yet, so a retry runs through.
    """
    if pid_file:
        line = (
            f"import os, pathlib, time; p = pathlib.Path({pid_file!r}); "
            f"first = not p.exists(); p.write_text(str(os.getpid())); "
            f"time.sleep({seconds} if first else 0)"
        )
    else:
        line = f"import time; time.sleep({seconds})"
    return crossover(name, line)


def raising(name: str = "Raiser") -> str:
    return crossover(name, "ratio = 1 / 0")


def memory_hog(name: str = "Hog", megabytes: int = 1500) -> str:
    return crossover(name, f"import time; hog = b'x' * ({megabytes} * 1024 * 1024); time.sleep(5)")


SYNTAX_ERROR = "class Broken(IStrategy:\n    pass\n"
