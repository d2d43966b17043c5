"""Find a strategy class by name: a module of the `strategies` package, optionally `:Class`.

Only modules under `strategies.` are loadable: the name comes from the runtime config, which a
person edits in the dashboard, so it must never name an arbitrary importable module.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import pkgutil
import re
from typing import Any

import strategies
from strategies.base import Strategy

PACKAGE = "strategies"
NOT_STRATEGIES = frozenset({"base", "loader"})
_NAME = re.compile(
    r"^(?:strategies\.)?([a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)*)(?::([A-Za-z_]\w*))?$"
)


class StrategyNotFound(Exception):
    pass


def registered_names() -> list[str]:
    """The strategy modules shipped in (or added to) the strategies package."""
    return sorted(
        m.name
        for m in pkgutil.iter_modules(strategies.__path__)
        if not m.ispkg and m.name not in NOT_STRATEGIES
    )


def check_strategy_name(name: str) -> tuple[str, str | None]:
    """`sma_cross`, `sma_cross:SmaCross`, `strategies.my_pkg.mod` → (module, class or None).

    Raises StrategyNotFound for anything outside the strategies package or not present there;
    nothing is imported.
    """
    match = _NAME.match(name)
    if match is None:
        raise StrategyNotFound(
            f"{name!r} is not a strategy name: use a module of strategies/ "
            f"({', '.join(registered_names())}), optionally module:Class"
        )
    relative, class_name = match.group(1), match.group(2)
    if relative in NOT_STRATEGIES:
        raise StrategyNotFound(f"{name!r} is not a strategy module")
    module_name = f"{PACKAGE}.{relative}"
    try:
        spec = importlib.util.find_spec(module_name)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        raise StrategyNotFound(
            f"no strategy module {module_name!r}; registered: {', '.join(registered_names())}"
        )
    return module_name, class_name


def _strategy_in(module_name: str, class_name: str | None) -> type[Strategy]:
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise StrategyNotFound(f"cannot import {module_name!r}: {exc!r}") from exc
    if class_name is not None:
        found = getattr(module, class_name, None)
        if inspect.isclass(found) and issubclass(found, Strategy):
            return found
        raise StrategyNotFound(f"{module_name}.{class_name} is not a Strategy subclass")
    candidates = [
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj)
        and issubclass(obj, Strategy)
        and obj is not Strategy
        and obj.__module__ == module.__name__
    ]
    if len(candidates) != 1:
        raise StrategyNotFound(
            f"{module_name} defines {len(candidates)} Strategy classes; name one as module:Class"
        )
    return candidates[0]


def load_strategy_class(name: str) -> type[Strategy]:
    return _strategy_in(*check_strategy_name(name))


def load_strategy(name: str, params: dict[str, Any]) -> Strategy:
    """The strategy, constructed; StrategyNotFound (or the strategy's own error) otherwise."""
    return load_strategy_class(name)(params)
