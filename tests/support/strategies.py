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


def sleeper(name: str, seconds: float) -> str:
    """Sleeps in populate_indicators: a run to cancel or kill."""
    return crossover(name, f"import time; time.sleep({seconds})")


def raising(name: str = "Raiser") -> str:
    return crossover(name, "ratio = 1 / 0")


def memory_hog(name: str = "Hog", megabytes: int = 1500) -> str:
    return crossover(name, f"import time; hog = b'x' * ({megabytes} * 1024 * 1024); time.sleep(5)")


SYNTAX_ERROR = "class Broken(IStrategy:\n    pass\n"


def minimal(name: str, marker: int = 0) -> str:
    """The smallest source registration accepts: a class `name` deriving from IStrategy (it
    never trades); `marker` makes versions of different code."""
    return (
        "from freqtrade.strategy import IStrategy\n\n\n"
        f"class {name}(IStrategy):\n"
        f"    marker = {marker}\n"
        '    minimal_roi = {"0": 0.05}\n'
        "    stoploss = -0.10\n"
    )


# Hostile strategies: each tries one way out of the sandbox in populate_indicators, then raises
# with what it found, so whatever leaked would show in the job's error.
def hostile(name: str, attempt: str) -> str:
    body = "\n        ".join(attempt.strip().splitlines())
    return CROSS.format(name=name, before="<attempt>").replace("<attempt>", body)


READ_ENVIRONMENT = """
import os
raise RuntimeError("environment: " + repr(dict(os.environ)))
"""


def read_files(*paths: str) -> str:
    return f"""
found = []
for path in {list(paths)!r}:
    try:
        with open(path, "rb") as f:
            found.append((path, f.read(200)))
    except OSError as error:
        found.append((path, repr(error)))
raise RuntimeError("files: " + repr(found))
"""


def connect(port: int) -> str:
    return f"""
import socket
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=3).close()
    outcome = "connected"
except OSError as error:
    outcome = repr(error)
raise RuntimeError("connect: " + outcome)
"""


def write_files(*paths: str) -> str:
    return f"""
outcomes = []
for path in {list(paths)!r}:
    try:
        with open(path, "w") as f:
            f.write("pwned")
        outcomes.append((path, "written"))
    except OSError as error:
        outcomes.append((path, repr(error)))
raise RuntimeError("writes: " + repr(outcomes))
"""


FORK_LOOP = """
import os, time
children = 0
try:
    while True:
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
        children += 1
except OSError as error:
    raise RuntimeError(f"fork stopped after {children} children: {error!r}")
"""

ALLOCATE_FOREVER = """
hoard = []
while True:
    hoard.append(bytearray(50 * 1024 * 1024))
"""


def forge_result(secret_path: str) -> str:
    """Speaks the worker protocol itself: claims a symlink to the secret is its result."""
    return f"""
import os
from multiprocessing.connection import Connection
os.symlink({secret_path!r}, "stolen")
message = b'{{"type": "done", "summary": {{}}, "files": {{"result": "stolen"}}}}'
for fd in range(3, 256):
    try:
        Connection(fd).send_bytes(message)
    except OSError:
        pass
os._exit(0)
"""
