"""`tradai strategy maintainers ...`: who besides a strategy's owner may register versions."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from app.cli_client import DEFAULT_URL, Token, Url, _api, _fail, console
from app.client import ApiError

maintainers_cli = typer.Typer(
    no_args_is_help=True,
    help="Who may register versions of a strategy: its owner, the maintainers, admins.",
)
Name = Annotated[str, typer.Argument(help="strategy name")]
User = Annotated[str, typer.Argument(help="user (the `sub` of their token)")]


def _print(answer: dict[str, Any]) -> None:
    others = ", ".join(answer["maintainers"]) or "none"
    console.print(
        f"{answer['name']}: owner {answer['owner']}; maintainers: {others}", highlight=False
    )


@maintainers_cli.command("list")
def list_maintainers(name: Name, url: Url = DEFAULT_URL, token: Token = None) -> None:
    """The owner and the maintainers of NAME."""
    try:
        strategy = _api(url, token).get(f"/strategies/{name}")
    except ApiError as error:
        _fail(error)
    _print({"name": name, "owner": strategy["created_by"], "maintainers": strategy["maintainers"]})


@maintainers_cli.command("add")
def add(name: Name, user: User, url: Url = DEFAULT_URL, token: Token = None) -> None:
    """Let USER register versions of NAME (the owner or an admin)."""
    try:
        _print(_api(url, token).post(f"/strategies/{name}/maintainers", {"user": user}).json())
    except ApiError as error:
        _fail(error)


@maintainers_cli.command("remove")
def remove(name: Name, user: User, url: Url = DEFAULT_URL, token: Token = None) -> None:
    """Take back USER's right to register versions of NAME (the owner or an admin)."""
    try:
        _print(_api(url, token).call("DELETE", f"/strategies/{name}/maintainers/{user}").json())
    except ApiError as error:
        _fail(error)
