"""Find a strategy class by short name (a module in strategies/) or by dotted path."""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from strategies.base import Strategy


class StrategyNotFound(Exception):
    pass


def _strategy_in(module_name: str, class_name: str | None) -> type[Strategy]:
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise StrategyNotFound(f"cannot import {module_name!r}: {exc}") from exc
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
    """`sma_cross` → strategies.sma_cross; `pkg.mod` or `pkg.mod:Class` → that module."""
    module_name, _, class_name = name.partition(":")
    if "." not in module_name:
        module_name = f"strategies.{module_name}"
    return _strategy_in(module_name, class_name or None)


def load_strategy(name: str, params: dict[str, Any]) -> Strategy:
    return load_strategy_class(name)(params)
