"""A Binance USDⓈ-M Futures simulator on loopback: REST, WebSocket streams and fault injection."""

from .config import DEFAULT_API_KEY, DEFAULT_API_SECRET, SimulatorConfig, SymbolRules
from .faults import FaultRule
from .server import SimulatorServer, SimulatorThread, StateWriteError
from .statefile import (
    STATE_FILE_NAME,
    StateFileError,
    StateInUseError,
    StateLock,
    lock_file_for,
    state_file_for,
)

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_API_SECRET",
    "STATE_FILE_NAME",
    "FaultRule",
    "SimulatorConfig",
    "SimulatorServer",
    "SimulatorThread",
    "StateFileError",
    "StateInUseError",
    "StateLock",
    "StateWriteError",
    "SymbolRules",
    "lock_file_for",
    "state_file_for",
]
