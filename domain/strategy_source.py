"""What a strategy's source declares, read with `ast`: user code is parsed here, never run."""

from __future__ import annotations

import ast
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from domain.errors import InvalidValue

# A literal a parameter may hold: what JSON and freqtrade's parameter files can carry.
Scalar = int | float | str | bool | None

KINDS = {
    "IntParameter": "int",
    "DecimalParameter": "decimal",
    "CategoricalParameter": "categorical",
    "BooleanParameter": "boolean",
}
# freqtrade puts a parameter without `space=` in the space its name starts with.
AUTO_SPACES = ("buy", "sell", "enter", "exit", "protection")
DEFAULT_DECIMALS = 3  # freqtrade's DecimalParameter default
# The parse of user code is bounded: its size (MAX_CODE_BYTES, checked by the version), its
# lines (the parser's time grows with them: 65,000 one-line statements took about a second),
# and the tree it makes (what later walks of it may recurse into). Real strategies have a few
# hundred lines, a few thousand nodes and a depth of a few dozen.
MAX_CODE_LINES = 10_000
MAX_TREE_NODES = 100_000
MAX_TREE_DEPTH = 100


@dataclass(frozen=True)
class ParameterSpec:
    """A hyperoptable parameter the strategy class declares: its range or choices, default."""

    name: str
    kind: str  # int, decimal, categorical, boolean
    space: str
    default: Scalar
    low: int | float | None = None
    high: int | float | None = None
    choices: tuple[Scalar, ...] | None = None
    decimals: int | None = None

    def as_dict(self) -> dict[str, Any]:
        record = asdict(self)
        record["choices"] = None if self.choices is None else list(self.choices)
        return record

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> ParameterSpec:
        choices = record.get("choices")
        return cls(**{**record, "choices": None if choices is None else tuple(choices)})


def read_strategy(code: str, class_name: str) -> tuple[ParameterSpec, ...]:
    """The parameters of class `class_name` in `code`; InvalidValue("code", ...) when the code
    does not parse, lacks that class, the class does not derive from IStrategy, or a
    parameter is not declared with literal values."""
    tree = _parse(code)
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    target = classes.get(class_name)
    if target is None:
        raise InvalidValue(
            "code",
            f"the source defines no top-level class named {class_name}: the class must be "
            "named like the strategy",
        )
    lineage = _lineage(target, classes)
    if lineage is None:
        raise InvalidValue(
            "code", f"line {target.lineno}: class {class_name} does not derive from IStrategy"
        )
    found: dict[str, ParameterSpec] = {}
    for cls in reversed(lineage):  # a subclass's declaration wins over its base's
        for spec in _parameters(cls):
            found.pop(spec.name, None)
            found[spec.name] = spec
    return tuple(found.values())


def _parse(code: str) -> ast.Module:
    """The module's tree, or InvalidValue("code", ...) when it does not parse or is beyond
    the bounds (too many lines, nodes or levels)."""
    lines = code.count("\n") + 1
    if lines > MAX_CODE_LINES:
        raise InvalidValue("code", f"{lines} lines: at most {MAX_CODE_LINES} are accepted")
    try:
        tree = ast.parse(code)
    except SyntaxError as error:
        raise InvalidValue("code", f"line {error.lineno}: {error.msg} (SyntaxError)") from None
    except (RecursionError, MemoryError):
        # CPython's parser gives up on deep expressions (`-` * 100000, 1+1+...+1) this way.
        raise InvalidValue(
            "code", "an expression is nested too deeply for the parser; split it up"
        ) from None
    _check_tree(tree)
    return tree


def _check_tree(tree: ast.Module) -> None:
    """Count the nodes and measure the depth without recursion (the tree may be deep)."""
    nodes = 0
    stack: list[tuple[ast.AST, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        nodes += 1
        if nodes > MAX_TREE_NODES:
            raise InvalidValue("code", f"more than {MAX_TREE_NODES} syntax nodes: simplify it")
        if depth > MAX_TREE_DEPTH:
            line = getattr(node, "lineno", "?")
            raise InvalidValue(
                "code", f"line {line}: nested more than {MAX_TREE_DEPTH} levels deep; split it up"
            )
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


def _lineage(
    cls: ast.ClassDef, classes: Mapping[str, ast.ClassDef], seen: frozenset[str] = frozenset()
) -> list[ast.ClassDef] | None:
    """`cls` and the classes of this module it derives from, down to one naming IStrategy
    (by name or attribute, as in `freqtrade.strategy.IStrategy`); None when none does."""
    for base in cls.bases:
        name = base.id if isinstance(base, ast.Name) else None
        if isinstance(base, ast.Attribute):
            name = base.attr
        if name == "IStrategy":
            return [cls]
        if isinstance(base, ast.Name) and base.id in classes and base.id not in seen:
            rest = _lineage(classes[base.id], classes, seen | {cls.name})
            if rest is not None:
                return [cls, *rest]
    return None


def _parameters(cls: ast.ClassDef) -> Iterable[ParameterSpec]:
    for statement in cls.body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target, value = statement.targets[0], statement.value
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            target, value = statement.target, statement.value
        else:
            continue
        if not isinstance(target, ast.Name) or not isinstance(value, ast.Call):
            continue
        func = value.func
        called = func.id if isinstance(func, ast.Name) else None
        if isinstance(func, ast.Attribute):
            called = func.attr
        if called in KINDS:
            yield _parameter(target.id, KINDS[called], value)


def _parameter(name: str, kind: str, call: ast.Call) -> ParameterSpec:
    where = f"line {call.lineno}: parameter {name}"

    def literal(node: ast.expr, what: str) -> Any:
        try:
            return ast.literal_eval(node)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            raise InvalidValue(
                "code", f"{where}: {what} must be a literal value, not {ast.unparse(node)!r}"
            ) from None

    if any(isinstance(a, ast.Starred) for a in call.args) or any(
        k.arg is None for k in call.keywords
    ):
        raise InvalidValue("code", f"{where}: *args and **kwargs cannot be read without running")
    wanted = {"int": 2, "decimal": 2, "categorical": 1, "boolean": 0}[kind]
    if len(call.args) > wanted:
        raise InvalidValue(
            "code", f"{where}: takes {wanted} positional argument(s), got {len(call.args)}"
        )
    positional = ("low", "high") if kind in ("int", "decimal") else ("categories",)
    args: dict[str, ast.expr] = dict(zip(positional, call.args, strict=False))
    for keyword in call.keywords:
        assert keyword.arg is not None
        if keyword.arg in args:
            raise InvalidValue("code", f"{where}: {keyword.arg} is given twice")
        args[keyword.arg] = keyword.value
    values = {
        key: literal(node, key)
        for key, node in args.items()
        if key in ("low", "high", "categories", "default", "decimals", "space")
    }
    space = values.get("space")
    if space is None:
        space = next((s for s in AUTO_SPACES if name.startswith(f"{s}_")), None)
    if not isinstance(space, str) or not space.isidentifier() or space in ("all", "default"):
        raise InvalidValue(
            "code",
            f'{where}: give it a space (space="buy", ...) or a name starting with '
            f"{', '.join(s + '_' for s in AUTO_SPACES)}",
        )
    if "default" not in values and kind in ("int", "decimal"):
        raise InvalidValue("code", f"{where}: a default= is required")
    default = values.get("default")
    if kind == "boolean":
        _check(isinstance(default, bool) or default is None, where, "default must be True/False")
        return ParameterSpec(name, kind, space, default, choices=(True, False))
    if kind == "categorical":
        choices = values.get("categories")
        _check(isinstance(choices, list | tuple) and len(choices) >= 2, where,
               "the categories are a list of at least two values")  # fmt: skip
        assert isinstance(choices, list | tuple)
        _check(all(_is_scalar(c) for c in choices), where,
               "categories must be numbers, strings, booleans or None")  # fmt: skip
        _check(default is None or _member(default, choices), where,
               "the default must be one of the categories")  # fmt: skip
        return ParameterSpec(name, kind, space, default, choices=tuple(choices))
    low: Any = values.get("low")
    high: Any = values.get("high")
    if isinstance(low, list | tuple):  # IntParameter((5, 30), default=12)
        _check(high is None and len(low) == 2, where, "the range is (low, high)")
        low, high = low
    number = _is_int if kind == "int" else _is_number
    _check(number(low) and number(high), where, f"low and high must be {kind} numbers")
    _check(low <= high, where, f"low {low} is above high {high}")
    _check(number(default), where, f"the default must be a{'n' * (kind == 'int')} {kind} number")
    assert isinstance(default, int | float)
    if kind == "int":
        return ParameterSpec(name, kind, space, default, low=low, high=high)
    decimals = values.get("decimals", DEFAULT_DECIMALS)
    _check(_is_int(decimals) and 0 <= decimals <= 12, where, "decimals is an integer 0..12")
    return ParameterSpec(
        name, kind, space, round(float(default), decimals), low=float(low), high=float(high),
        decimals=decimals,
    )  # fmt: skip


def _check(condition: bool, where: str, message: str) -> None:
    if not condition:
        raise InvalidValue("code", f"{where}: {message}")


def _is_scalar(value: object) -> bool:
    return value is None or isinstance(value, str | bool | int) or _is_number(value)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(float(value))  # type: ignore[arg-type]


def _member(value: object, choices: Iterable[object]) -> bool:
    """`value` is one of `choices`, type included (True is not 1, 1 is not 1.0)."""
    return any(type(c) is type(value) and c == value for c in choices)


def check_parameter_values(
    declared: Iterable[ParameterSpec], values: Mapping[str, Any], owner: str
) -> None:
    """Refuse a value for a parameter `owner` does not declare, of the wrong type, or outside
    its range or choices; the field is `parameters.<name>`."""
    by_name = {spec.name: spec for spec in declared}
    for name, value in values.items():
        field = f"parameters.{name}"
        spec = by_name.get(name)
        if spec is None:
            known = ", ".join(by_name) or "none"
            raise InvalidValue(field, f"{owner} declares no parameter {name!r} (it has: {known})")
        if spec.kind == "int":
            if not _is_int(value):
                raise InvalidValue(field, f"an integer is expected, got {value!r}")
        elif spec.kind == "decimal":
            if not _is_number(value):
                raise InvalidValue(field, f"a number is expected, got {value!r}")
            assert spec.decimals is not None
            if round(float(value), spec.decimals) != value:
                raise InvalidValue(field, f"{value!r} has more than {spec.decimals} decimals")
        elif spec.kind == "boolean":
            if not isinstance(value, bool):
                raise InvalidValue(field, f"true or false is expected, got {value!r}")
        elif not _member(value, spec.choices or ()):
            choices = ", ".join(repr(c) for c in spec.choices or ())
            raise InvalidValue(field, f"{value!r} is not one of {choices}")
        if spec.low is not None and spec.high is not None and not (spec.low <= value <= spec.high):
            raise InvalidValue(field, f"{value!r} is outside {spec.low}..{spec.high}")


def parameter_file(
    strategy: str, declared: Iterable[ParameterSpec], values: Mapping[str, Any]
) -> dict[str, Any]:
    """The content of freqtrade's `<Strategy>.json` parameter file for `values`, by space."""
    spaces = {spec.name: spec.space for spec in declared}
    params: dict[str, dict[str, Any]] = {}
    for name, value in values.items():
        params.setdefault(spaces[name], {})[name] = value
    return {"strategy_name": strategy, "params": params}
