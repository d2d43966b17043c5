"""The stored format is the library's: events written by the library's transcoder (and recorder)
read the same with ours, ours are read by the library's, and where orjson parses differently from
the stdlib the library's decoding decides."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.application import Application
from eventsourcing.persistence import (
    ApplicationRecorder,
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Transcoder,
    TranscodingNotRegisteredError,
    UUIDAsHex,
)
from hypothesis import given
from hypothesis import strategies as st

from aggregates.envelope import EnvelopeAsDict, Scope, ScopeAsDict, Source, envelope
from alphaengine.settings import Settings
from alphaengine.trading import Trading
from alphaengine.transcoding import OrjsonTranscoder
from projections.projector import Projector
from projections.replay import rebuild
from tests.core.story import drive_history
from tests.core.tables import snapshot


class LibraryTrading(Trading):
    """The application as it was: the library's JSON transcoder and its ORM recorder."""

    name = "Trading"  # the same tables

    def construct_recorder(self) -> ApplicationRecorder:
        return Application.construct_recorder(self)

    def construct_transcoder(self) -> Transcoder:
        transcoder = JSONTranscoder()
        self.register_transcodings(transcoder)
        return transcoder


def _registered(transcoder: JSONTranscoder) -> JSONTranscoder:
    # What Trading.register_transcodings registers (checked against the application below).
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO(), ScopeAsDict()):
        transcoder.register(transcoding)
    transcoder.register(EnvelopeAsDict())
    return transcoder


def library_transcoder() -> JSONTranscoder:
    return _registered(JSONTranscoder())


def ours() -> OrjsonTranscoder:
    transcoder = OrjsonTranscoder()
    _registered(transcoder)
    return transcoder


def test_the_application_decodes_with_ours_and_the_same_transcodings(trading: Trading) -> None:
    transcoder = trading.mapper.transcoder
    assert isinstance(transcoder, OrjsonTranscoder)
    assert set(transcoder.names) == set(library_transcoder().names)


def _events(app: Trading) -> list[dict[str, Any]]:
    notifications = app.recorder.select_notifications(1, 100_000)
    return [vars(app.mapper.to_domain_event(n)) for n in notifications]


def test_a_database_written_the_old_way_reads_the_same(
    trading: Trading, settings: Settings
) -> None:
    old = LibraryTrading(trading.scope, settings.database_url)
    try:
        drive_history(old)
        written_old = _events(old)
        position, account = old.position(), old.account()
        Projector.for_trading(old).catch_up(batch_size=7)
        projected_old = snapshot(old)
    finally:
        old.close()

    assert _events(trading) == written_old
    assert vars(trading.position()) == vars(position)
    assert vars(trading.account()) == vars(account)
    rebuild(trading, batch_size=5)
    assert snapshot(trading) == projected_old


def test_the_old_code_reads_what_is_written_now(trading: Trading, settings: Settings) -> None:
    drive_history(trading)
    written_now = _events(trading)
    old = LibraryTrading(trading.scope, settings.database_url)
    try:
        assert _events(old) == written_now
        assert vars(old.position()) == vars(trading.position())
    finally:
        old.close()


def test_encoding_is_byte_for_byte_the_library_s() -> None:
    state = {
        "timestamp": datetime(2026, 1, 5, 12, 0, 0, 5, tzinfo=UTC),
        "price": Decimal("60012.30"),
        "ids": [uuid4(), None],
        "envelope": envelope(Source.REST, Scope(), command_id=uuid4()),
        "nested": {"a": [1, 2.5, "é"], "b": True},
    }
    assert ours().encode(state) == library_transcoder().encode(state)


@pytest.mark.parametrize(
    "document",
    [
        b'{"x": NaN, "y": Infinity, "z": -Infinity}',
        b'{"big": 123456789012345678901234567890, "small": -98765432109876543210}',
        b'{"edge": 18446744073709551616, "fits": 9223372036854775807}',
        b'{"lone": "\\ud800"}',
        b'{"_type_": "decimal_str", "_data_": "1.5"}',
        b'[{"_type_": "uuid_hex", "_data_": "' + uuid4().hex.encode() + b'"}, [1, {"a": 2}]]',
        b'{"_type_": "decimal_str", "_data_": "1.5", "other": 1}',
        b'{"w": {"_type_": "scope", "_data_": {"exchange": "binance", "venue": "usdm", '
        b'"account": "main", "symbol": "ETHUSDT", "mode": "live"}}}',
        b'"text"',
        b"1e400",
        b"7",
    ],
)
def test_what_orjson_reads_differently_the_library_decides(document: bytes) -> None:
    expected = library_transcoder().decode(document)
    assert _same(ours().decode(document), expected)


def test_values_remembered_between_documents_keep_their_own_types() -> None:
    transcoder, library = ours(), library_transcoder()
    scope = b'{"s": {"_type_": "scope", "_data_": {"exchange": "binance", "venue": "usdm", '
    for mode in (b'"1"', b"1", b"true", b"1.0", b'"1"', b"[1]"):
        document = scope + b'"account": "main", "symbol": "BTCUSDT", "mode": ' + mode + b"}}}"
        decoded, expected = transcoder.decode(document), library.decode(document)
        assert decoded == expected
        assert type(decoded["s"].mode) is type(expected["s"].mode)


def test_an_unregistered_type_is_refused_as_the_library_refuses_it() -> None:
    document = b'{"a": {"_type_": "money", "_data_": "1"}}'
    with pytest.raises(TranscodingNotRegisteredError):
        library_transcoder().decode(document)
    with pytest.raises(TranscodingNotRegisteredError):
        ours().decode(document)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))])),
    st.uuids(),
    st.builds(Scope, symbol=st.text(min_size=1, max_size=8)),
)
# Keys of the wrappers' own shape would be wrappers of unknown types: refused by both.
keys = st.text().filter(lambda key: not key.startswith("_"))
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(keys, values, max_size=6))
def test_anything_the_library_writes_reads_the_same(state: dict[str, Any]) -> None:
    stored = library_transcoder().encode(state)
    assert _same(ours().decode(stored), library_transcoder().decode(stored))


def test_scopes_and_ids_shared_between_events_still_decode_to_equal_values() -> None:
    transcoder = ours()
    scope, other = Scope(symbol="ETHUSDT"), Scope(symbol="BTCUSDT")
    first_id, second_id = UUID(int=1), UUID(int=2)
    for _ in range(2):
        decoded = transcoder.decode(
            transcoder.encode({"s": [scope, other], "u": [first_id, second_id]})
        )
        assert decoded == {"s": [scope, other], "u": [first_id, second_id]}


@given(st.dictionaries(keys, values, max_size=6))
def test_what_we_write_is_the_library_s_bytes(state: dict[str, Any]) -> None:
    assert ours().encode(state) == library_transcoder().encode(state)


@pytest.mark.parametrize(
    "state",
    [
        {"float": 1e16, "nan": math.nan},
        {"big": 2**64, "negative": -(2**63) - 1},
        {1: "a key that is not text", None: "nor this"},
        {"subclass": type("Text", (str,), {})("x")},
        {"tuple": (1, ("a", Decimal("1.5")))},
        {"control": 'a\x00\x1f\t"\\\u2028é'},
    ],
)
def test_documents_orjson_might_write_differently_are_the_library_s_bytes_too(
    state: dict[Any, Any],
) -> None:
    assert ours().encode(state) == library_transcoder().encode(state)


@pytest.mark.parametrize(
    "state", [{"unregistered": object()}, {"lone surrogate": "\ud800"}, {"set": {1}}]
)
def test_what_the_library_cannot_encode_fails_as_it_fails(state: dict[str, Any]) -> None:
    with pytest.raises(Exception) as library_error:
        library_transcoder().encode(state)
    with pytest.raises(type(library_error.value)):
        ours().encode(state)


def test_an_envelope_shared_by_a_fill_s_events_is_written_whole_each_time() -> None:
    transcoder, library = ours(), library_transcoder()
    shared = envelope(Source.WEBSOCKET, Scope(), dedup_key="fill:BTCUSDT:1")
    for state in ({"envelope": shared, "n": 1}, {"envelope": shared, "n": 2}):
        assert transcoder.encode(state) == library.encode(state)
    other = envelope(Source.REST, Scope(symbol="ETHUSDT"))
    assert transcoder.encode({"envelope": other}) == library.encode({"envelope": other})


envelopes = st.builds(
    envelope,
    st.sampled_from(list(Source)),
    st.builds(Scope, symbol=st.text(min_size=1, max_size=8)),
    command_id=st.none() | st.uuids(),
    dedup_key=st.none() | st.text(max_size=12),
)


@given(st.lists(st.tuples(st.dictionaries(keys, values, max_size=4), envelopes), max_size=4))
def test_events_that_end_with_an_envelope_read_as_the_library_reads_them(
    events: list[tuple[dict[str, Any], Any]],
) -> None:
    # One transcoder for all: the second event of an envelope takes it from the memo.
    transcoder, library = ours(), library_transcoder()
    for fields, shared in events * 2:
        stored = library.encode({**fields, "envelope": shared})
        assert _same(transcoder.decode(stored), library.decode(stored))


ENVELOPE = (
    b'{"_type_":"envelope","_data_":{"source":"REST","scope":{"_type_":"scope","_data_":'
    b'{"exchange":"binance","venue":"usdm","account":"main","symbol":"BTCUSDT","mode":"paper"}},'
    b'"correlation_id":{"_type_":"uuid_hex","_data_":"7aeccdf94b8f4e51a303f3c97719694d"},'
    b'"causation_id":null,"command_id":null,"dedup_key":"fill:BTCUSDT:1"}}'
)


@pytest.mark.parametrize(
    "document",
    [
        # The key inside the last value, not at the top: not a split.
        b'{"n":1,"inner":{"x":1,"envelope":' + ENVELOPE + b"}}",
        b'{"n":1,"inner":[{"envelope":' + ENVELOPE + b"}]}",
        # Not the last key.
        b'{"envelope":' + ENVELOPE + b',"n":1}',
        # Twice at the top: the last one counts, where the first one was.
        b'{"envelope":{"_type_":"decimal_str","_data_":"1"},"n":1,"envelope":' + ENVELOPE + b"}",
        # Fields that alone would be one wrapper.
        b'{"_type_":"decimal_str","_data_":"1.5","envelope":' + ENVELOPE + b"}",
        # An envelope key holding something else.
        b'{"n":1,"envelope":{"_type_":"decimal_str","_data_":"2"}}',
        b'{"n":1,"envelope":null}',
        b'{"n":1,"envelope":[1,2]}',
        b'{"n":1,"envelope":{"a":1}}',
        # Numbers orjson reads differently, before and inside the envelope.
        b'{"big":123456789012345678901234567890,"envelope":' + ENVELOPE + b"}",
        b'{"n":1,"envelope":{"_type_":"envelope","_data_":{"x":NaN}}}',
        # Not JSON that splits: the library decides.
        b'{"n":1,"envelope":' + ENVELOPE + b"} ",
        b'["envelope",{"n":1,"envelope":' + ENVELOPE + b"}]",
    ],
)
def test_documents_that_do_not_split_as_events_read_as_the_library_reads_them(
    document: bytes,
) -> None:
    transcoder = ours()
    for _ in range(2):  # again, with whatever the first decode remembered
        try:
            expected = library_transcoder().decode(document)
        except Exception as error:
            with pytest.raises(type(error)):
                transcoder.decode(document)
        else:
            assert _same(transcoder.decode(document), expected)


def test_an_envelope_stored_before_exchange_times_is_what_its_init_makes() -> None:
    decoded, expected = ours().decode(ENVELOPE), library_transcoder().decode(ENVELOPE)
    assert decoded == expected
    assert decoded.exchange_time is None
    assert list(vars(decoded).items()) == list(vars(expected).items())


def test_an_envelope_missing_a_field_without_a_plain_default_goes_through_its_init() -> None:
    # No correlation id: its default is made by a factory, as __init__ makes it.
    document = b'{"_type_":"envelope","_data_":{"source":"REST","scope":null}}'
    decoded = ours().decode(document)
    assert isinstance(decoded.correlation_id, UUID)
    assert decoded.correlation_id != ours().decode(document).correlation_id


def test_events_that_share_an_envelope_share_the_one_object_decoded_for_it() -> None:
    # A known envelope is neither parsed nor revived again: the memo hands back the first.
    transcoder, library = ours(), library_transcoder()
    shared = envelope(Source.WEBSOCKET, Scope(), dedup_key="fill:BTCUSDT:7")
    first, second = (
        transcoder.decode(library.encode({"n": n, "envelope": shared})) for n in (1, 2)
    )
    assert first["envelope"] is second["envelope"]
    assert first["envelope"] == shared
