"""A Binance USDⓈ-M Futures simulator on loopback: REST, WebSocket streams and fault injection."""

from .config import DEFAULT_API_KEY, DEFAULT_API_SECRET, SimulatorConfig, SymbolRules
from .faults import FaultRule
from .server import SimulatorServer, SimulatorThread

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_API_SECRET",
    "FaultRule",
    "SimulatorConfig",
    "SimulatorServer",
    "SimulatorThread",
    "SymbolRules",
]
