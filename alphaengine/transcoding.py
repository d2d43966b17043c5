"""The event store's JSON through orjson: the library's format, written and read in less time.

What is stored does not change: the bytes are those of the library's `JSONTranscoder` (the
stdlib encoder with its `{"_type_": name, "_data_": ...}` wrappers), so a database written by
either transcoder is read by the other. Encoding puts the wrappers in first, in one walk, and
serializes with orjson; a document holding anything orjson might write differently (a float,
an integer beyond 64 bits, a key that is not text, an unregistered type) is encoded by the
library's encoder instead. Decoding parses with orjson, then revives the wrapped values in one
bottom-up walk, as the library's object hook does (inner values first, so an envelope's
`_data_` already holds its scope and ids when the envelope is made).

Events end with their envelope, and the events of one fact or Command carry the same one: its
text is looked up in a small memo before anything is parsed, and a known envelope is neither
parsed nor revived again (`_EnvelopeMemo`).

Where orjson and the stdlib parser disagree, the stdlib decides: a document orjson refuses
(NaN, Infinity, lone surrogates) and one holding an integer beyond 64 bits (which orjson reads
as a float) are decoded again by the library's decoder.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import MISSING, fields
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Transcoding,
    TranscodingNotRegisteredError,
    UUIDAsHex,
)

from aggregates.envelope import Envelope, EnvelopeAsDict, Scope, ScopeAsDict

# orjson reads integers beyond 64 bits as floats; a float this large may have been one.
_INTEGER_LIMIT = float(2**63)
# Decoded immutable values kept for reuse: one fill's events share their scope and ids.
MEMO_SIZE = 4096

Reviver = Callable[[Any], Any]
Wrapper = Callable[[Any], Any]
# What orjson writes exactly as the library's encoder does (floats excepted: their text
# differs, e.g. 1e+16 and 1e16).
_NATIVE = frozenset({str, int, bool, type(None)})
# Values that cannot change once made, all the way down: their wrapped form may be reused.
_IMMUTABLE = frozenset({Envelope, Scope})
_UNKNOWN = object()
# How an event's last key starts in the library's compact JSON.
_ENVELOPE_KEY = b',"envelope":'


class _BeyondOrjson(Exception):
    """The parsed document may differ from what the stdlib parser reads."""


class _Memo:
    """Revives immutable values once per distinct encoded form (bounded: cleared when full).

    Only text is remembered (an id's hex, a scope's fields): 1, 1.0 and true are equal keys
    of different values, text never equals anything but text."""

    def __init__(self, revive: Reviver, size: int = MEMO_SIZE) -> None:
        self.revive = revive
        self.size = size
        self.values: dict[Hashable, Any] = {}

    def known(self, data: dict[str, Any]) -> Any:
        """The value already revived from this encoded form, or _UNKNOWN (walk it first)."""
        try:
            return self.values[tuple(data.items())]
        except (KeyError, TypeError):
            return _UNKNOWN

    def __call__(self, data: Any) -> Any:
        if type(data) is str:
            key: Any = data
        elif type(data) is dict and all(type(value) is str for value in data.values()):
            key = tuple(data.items())
        else:
            return self.revive(data)
        value = self.values.get(key, _UNKNOWN)
        if value is _UNKNOWN:
            value = self.revive(data)
            if len(self.values) >= self.size:
                self.values.clear()
            self.values[key] = value
        return value


class _EnvelopeMemo:
    """Envelopes already revived, by their exact encoded text (bounded: cleared when full).

    An event document is split before its last `,"envelope":`. The split is taken only when
    the text before it, closed with `}`, parses as an object on its own: then the key is at
    the document's top level (inside a string it would be escaped, and inside a nested value
    the braces would not balance), it is the document's last key, and the rest of the text is
    exactly its value. Equal text revives to equal values, and an envelope is immutable, so
    one object serves every event that carries it."""

    def __init__(self, size: int = MEMO_SIZE) -> None:
        self.size = size
        self.values: dict[bytes, Any] = {}

    def get(self, text: bytes) -> Any:
        return self.values.get(text, _UNKNOWN)

    def put(self, text: bytes, envelope: Any) -> None:
        if len(self.values) >= self.size:
            self.values.clear()
        self.values[text] = envelope


class _FrozenFields:
    """`cls(**data)` for a plain frozen dataclass, without `__init__` when `data` holds its
    fields in their order, all of them or all but trailing ones with a plain default (an
    envelope stored without an exchange time): the instance dictionary is filled directly, as
    `__init__` fills it. Any other `data` goes through `__init__`."""

    def __init__(self, cls: type[Any]) -> None:
        self.cls = cls
        declared = fields(cls)
        names = tuple(f.name for f in declared)
        defaults = {f.name: f.default for f in declared if f.default is not MISSING}
        # For each prefix of the fields whose rest all have plain defaults: those defaults.
        self.rest: dict[tuple[str, ...], dict[str, Any]] = {}
        if not hasattr(cls, "__post_init__"):  # then `__init__` does more than assign
            for given in range(len(names), -1, -1):
                if not all(name in defaults for name in names[given:]):
                    break
                self.rest[names[:given]] = {name: defaults[name] for name in names[given:]}

    def __call__(self, data: dict[str, Any]) -> Any:
        rest = self.rest.get(tuple(data))
        if rest is None:
            return self.cls(**data)
        value = object.__new__(self.cls)
        attributes = value.__dict__
        attributes.update(data)
        if rest:
            attributes.update(rest)
        return value


def reviver(transcoding: Transcoding) -> Reviver:
    """The fastest equivalent of `transcoding.decode` (the library's own scalars inline)."""
    kind = type(transcoding)
    if kind is DecimalAsStr:
        return Decimal
    if kind is DatetimeAsISO:
        return datetime.fromisoformat
    if kind is UUIDAsHex:
        return _Memo(UUID)
    if kind is ScopeAsDict:
        return _Memo(transcoding.decode)
    if kind is EnvelopeAsDict:
        return _FrozenFields(Envelope)
    return transcoding.decode


def wrapper(transcoding: Transcoding) -> Wrapper:
    """The fastest equivalent of `transcoding.encode` (the library's own scalars inline)."""
    kind = type(transcoding)
    if kind is DecimalAsStr:
        return str
    if kind is DatetimeAsISO:
        return datetime.isoformat
    if kind is UUIDAsHex:
        return _uuid_hex
    return transcoding.encode


def _uuid_hex(value: UUID) -> str:
    return value.hex


class OrjsonTranscoder(JSONTranscoder):
    def __init__(self) -> None:
        super().__init__()
        self.revivers: dict[str, Reviver] = {}
        self.wrappers: dict[type, tuple[str, Wrapper]] = {}
        self._last: tuple[Any, Any] = (_UNKNOWN, None)
        self._envelopes = _EnvelopeMemo()

    def register(self, transcoding: Transcoding) -> None:
        super().register(transcoding)
        self.revivers[transcoding.name] = reviver(transcoding)
        self.wrappers[transcoding.type] = (transcoding.name, wrapper(transcoding))

    def encode(self, obj: Any) -> bytes:
        """The library's bytes: its wrappers put in first, then serialized by orjson. A value
        the two serializers might write differently (a float, an integer beyond 64 bits, a
        key that is not text, a container's subclass) sends the whole document through the
        library's encoder, which also raises its own errors for what it cannot encode."""
        try:
            return orjson.dumps(self._wrapped(obj))
        except (_BeyondOrjson, orjson.JSONEncodeError, RecursionError):
            return super().encode(obj)

    def _wrapped(self, value: Any) -> Any:
        kind = type(value)
        if kind in _NATIVE:
            return value
        wrapped = self._wrapped
        if kind is dict:
            return {
                key: item if type(item) in _NATIVE else wrapped(item) for key, item in value.items()
            }
        if kind is list or kind is tuple:
            return [item if type(item) in _NATIVE else wrapped(item) for item in value]
        last = self._last  # one read: another thread may replace it
        if value is last[0]:
            return last[1]
        try:
            name, encode = self.wrappers[kind]
        except KeyError:
            raise _BeyondOrjson from None
        result = {"_type_": name, "_data_": wrapped(encode(value))}
        if kind in _IMMUTABLE:
            # One fill's events carry the same envelope object: wrapped once.
            self._last = (value, result)
        return result

    def decode(self, data: bytes) -> Any:
        split = data.rfind(_ENVELOPE_KEY)
        if split > 0 and data[-1:] == b"}":
            event = self._decode_split(data, split)
            if event is not _UNKNOWN:
                return event
        return self._decode_whole(data)

    def _decode_split(self, data: bytes, split: int) -> Any:
        """An event decoded as its fields and its envelope (see `_EnvelopeMemo`), or _UNKNOWN
        when the document does not split so."""
        try:
            fields = orjson.loads(data[:split] + b"}")
        except orjson.JSONDecodeError:
            return _UNKNOWN
        if type(fields) is not dict or (len(fields) == 2 and "_type_" in fields):
            # Not an object, or the document would be one wrapper with an envelope beside it.
            return _UNKNOWN
        text = data[split + len(_ENVELOPE_KEY) : -1]
        envelope = self._envelopes.get(text)
        if envelope is _UNKNOWN:
            envelope = self._decode_whole(text)
            if type(envelope) not in _IMMUTABLE:
                return _UNKNOWN
            self._envelopes.put(text, envelope)
        try:
            event = self._revive_dict(fields)
        except _BeyondOrjson:
            return _UNKNOWN
        event["envelope"] = envelope
        return event

    def _decode_whole(self, data: bytes) -> Any:
        try:
            parsed = orjson.loads(data)
            kind = type(parsed)
            if kind is dict:
                return self._revive_dict(parsed)
            if kind is list:
                return self._revive_list(parsed)
            if kind is float and not -_INTEGER_LIMIT < parsed < _INTEGER_LIMIT:
                raise _BeyondOrjson
            return parsed
        except (orjson.JSONDecodeError, _BeyondOrjson):
            return super().decode(data)

    def _revive_dict(self, obj: dict[str, Any]) -> Any:
        revivers = self.revivers
        for key, value in obj.items():
            kind = type(value)
            if kind is dict:
                data = value.get("_data_")
                if type(data) is str and len(value) == 2 and "_type_" in value:
                    # A wrapped scalar (a decimal, a time, an id), most of what events hold:
                    # revived here, without a call for the wrapper.
                    try:
                        revive = revivers[value["_type_"]]
                    except (KeyError, TypeError):
                        revive = self._reviver(value["_type_"])  # raises the library's error
                    obj[key] = revive(data)
                else:
                    obj[key] = self._revive_child(value)
            elif kind is list:
                self._revive_list(value)
            elif kind is float and not -_INTEGER_LIMIT < value < _INTEGER_LIMIT:
                raise _BeyondOrjson
        if len(obj) == 2 and "_type_" in obj and "_data_" in obj:
            return self._revive_wrapper(obj["_type_"], obj["_data_"])
        return obj

    def _revive_child(self, obj: dict[str, Any]) -> Any:
        # A wrapper is revived here, its data first, without walking the wrapper itself.
        if len(obj) == 2 and "_type_" in obj and "_data_" in obj:
            revive = self._reviver(obj["_type_"])
            data = obj["_data_"]
            kind = type(data)
            if kind is dict:
                if type(revive) is _Memo:
                    known = revive.known(data)
                    if known is not _UNKNOWN:
                        return known
                data = self._revive_dict(data)
            elif kind is list:
                self._revive_list(data)
            elif kind is float and not -_INTEGER_LIMIT < data < _INTEGER_LIMIT:
                raise _BeyondOrjson
            return revive(data)
        return self._revive_dict(obj)

    def _revive_wrapper(self, name: Any, data: Any) -> Any:
        return self._reviver(name)(data)

    def _reviver(self, name: Any) -> Reviver:
        try:
            return self.revivers[name]
        except (KeyError, TypeError):
            raise TranscodingNotRegisteredError(
                f"Data serialized with name '{name}' is not deserializable. Please "
                "register a custom transcoding for this type."
            ) from None

    def _revive_list(self, items: list[Any]) -> list[Any]:
        for index, value in enumerate(items):
            kind = type(value)
            if kind is dict:
                items[index] = self._revive_child(value)
            elif kind is list:
                self._revive_list(value)
            elif kind is float and not -_INTEGER_LIMIT < value < _INTEGER_LIMIT:
                raise _BeyondOrjson
        return items
