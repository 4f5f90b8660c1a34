"""The installed `tradai` command against a real server (memory executor: fast, real events)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.server import ServerProcess

TRADAI = str(Path(sys.executable).parent / "tradai")
SUBMIT = ["backtest", "submit", "--pair", "BTC/USDT", "--pair", "ETH/USDT", "--timeframe", "5m",
          "--timerange", "20240101-20240201"]  # fmt: skip


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path_factory.mktemp("cli"), {"BACKEND_EXECUTOR": "memory"})
    process.start()
    try:
        yield process
    finally:
        process.stop()


def tradai(
    server: ServerProcess, *args: str, token: str | None = None, url: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in server.env().items() if not k.startswith("TRADAI_")}
    env["TRADAI_URL"] = url or server.url
    if token is not None:
        env["TRADAI_TOKEN"] = token
    return subprocess.run(
        [TRADAI, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.fixture(scope="module")
def researcher(server: ServerProcess) -> str:
    return server.token("alice", "researcher")


def write_strategy(folder: Path, name: str, body: str = "x = 1") -> Path:
    path = folder / f"{name}.py"
    path.write_text(
        "from freqtrade.strategy import IStrategy\n\n\n"
        f"class {name}(IStrategy):\n    {body}\n    pass\n"
    )
    return path


def test_register_list_and_show_strategies(
    server: ServerProcess, researcher: str, tmp_path: Path
) -> None:
    done = tradai(
        server, "strategy", "register", str(write_strategy(tmp_path, "CliCross")), token=researcher
    )
    assert done.returncode == 0, done.stderr
    assert "registered CliCross version 1" in done.stdout
    assert (
        "registered CliCross version 2"
        in tradai(
            server,
            "strategy",
            "register",
            str(write_strategy(tmp_path, "CliCross", "y = 2")),
            token=researcher,
        ).stdout
    )
    listing = tradai(server, "strategy", "list", token=researcher)
    assert "CliCross" in listing.stdout
    shown = json.loads(
        tradai(server, "strategy", "show", "CliCross", "--json", token=researcher).stdout
    )
    assert [v["version"] for v in shown["versions"]] == [1, 2]


def test_the_owner_names_maintainers_from_the_cli(server: ServerProcess, tmp_path: Path) -> None:
    alice, bob = server.token("alice", "researcher"), server.token("bob", "researcher")
    code = str(write_strategy(tmp_path, "CliOwned"))
    assert tradai(server, "strategy", "register", code, token=alice).returncode == 0
    refused = tradai(server, "strategy", "register", code, token=bob)
    assert refused.returncode == 1 and "belongs to alice" in refused.stderr
    added = tradai(server, "strategy", "maintainers", "add", "CliOwned", "bob", token=alice)
    assert added.returncode == 0, added.stderr
    assert "owner alice; maintainers: bob" in added.stdout
    assert tradai(server, "strategy", "register", code, token=bob).returncode == 0
    shown = tradai(server, "strategy", "show", "CliOwned", token=bob)
    assert "owner alice; maintainers: bob" in shown.stdout
    gone = tradai(server, "strategy", "maintainers", "remove", "CliOwned", "bob", token=alice)
    assert "maintainers: none" in gone.stdout
    listed = tradai(server, "strategy", "maintainers", "list", "CliOwned", token=bob)
    assert "owner alice; maintainers: none" in listed.stdout


def test_submit_follow_then_result(server: ServerProcess, researcher: str, tmp_path: Path) -> None:
    tradai(
        server, "strategy", "register", str(write_strategy(tmp_path, "Followed")), token=researcher
    )
    done = tradai(server, *SUBMIT, "--strategy", "Followed", "--follow", token=researcher)
    assert done.returncode == 0, done.stderr
    assert "submitted " in done.stdout and "completed" in done.stdout
    assert "total_trades" in done.stdout and "per pair" in done.stdout
    job_id = done.stdout.split("submitted ", 1)[1].split(":", 1)[0]
    listing = json.loads(
        tradai(
            server, "backtest", "list", "--strategy", "Followed", "--json", token=researcher
        ).stdout
    )
    assert [j["id"] for j in listing["items"]] == [job_id]
    shown = tradai(server, "backtest", "show", job_id, token=researcher)
    assert job_id in shown.stdout and "completed" in shown.stdout
    result = json.loads(
        tradai(server, "backtest", "result", job_id, "--json", token=researcher).stdout
    )
    assert result["metrics"]["total_trades"] == 3


def test_a_failing_backtest_exits_non_zero_with_its_reason(
    server: ServerProcess, researcher: str, tmp_path: Path
) -> None:
    path = write_strategy(tmp_path, "Doomed", "# memory-run: fail no candles for ETH/USDT 5m")
    tradai(server, "strategy", "register", str(path), token=researcher)
    done = tradai(server, *SUBMIT, "--strategy", "Doomed", "--follow", token=researcher)
    assert done.returncode == 1
    assert "backtest failed: no candles for ETH/USDT 5m" in done.stderr


def test_cancel(server: ServerProcess, researcher: str, tmp_path: Path) -> None:
    tradai(
        server,
        "strategy",
        "register",
        str(write_strategy(tmp_path, "Held", "# memory-run: hold")),
        token=researcher,
    )
    submitted = tradai(server, *SUBMIT, "--strategy", "Held", token=researcher)
    job_id = submitted.stdout.split("submitted ", 1)[1].split(":", 1)[0]
    done = tradai(server, "backtest", "cancel", job_id, token=researcher)
    assert done.returncode == 0 and job_id in done.stdout
    again = tradai(server, "backtest", "cancel", job_id, token=researcher)
    assert again.returncode == 1 or "cancel requested" in again.stdout


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("refused", "cannot reach the TradAI API"),
        ("no-token", "no token: pass --token or set TRADAI_TOKEN"),
        ("bad-token", "not authenticated"),
        ("viewer", "forbidden: this needs the role researcher"),
        ("bad-pair", "pairs[0]: 'BTCUSDT' is not a pair"),
        ("unknown-job", "does not exist"),
    ],
)
def test_errors_are_plain_sentences(
    server: ServerProcess, researcher: str, case: str, expected: str
) -> None:
    if case == "refused":
        done = tradai(server, "backtest", "list", token=researcher, url="http://127.0.0.1:1")
    elif case == "no-token":
        done = tradai(server, "backtest", "list", token="")
    elif case == "bad-token":
        done = tradai(server, "backtest", "list", token="garbage")
    elif case == "viewer":
        done = tradai(server, *SUBMIT, "--strategy", "X", token=server.token("vic", "viewer"))
    elif case == "bad-pair":
        args = [
            "--strategy",
            "X",
            "--pair",
            "BTCUSDT",
            "--timeframe",
            "5m",
            "--timerange",
            "20240101-20240201",
        ]
        done = tradai(server, "backtest", "submit", *args, token=researcher)
    else:
        done = tradai(
            server, "backtest", "show", "6f1c1f3e-2b7a-4c55-9d0e-7a4f3b8e9c21", token=researcher
        )
    assert done.returncode == 1
    assert expected in done.stderr
    assert "Traceback" not in done.stderr
