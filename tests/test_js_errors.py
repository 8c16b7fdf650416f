"""jetstream.errors: the err_code registry, api_error_from_json, raise_for_api_response."""

from __future__ import annotations

import pickle

import pytest

from jetstream import errors as E
from protocol.errors import NatsError, NatsTimeoutError

EXPECTED = {
    10059: E.StreamNotFoundError,
    10014: E.ConsumerNotFoundError,
    10037: E.MessageNotFoundError,
    10058: E.StreamNameInUseError,
    10071: E.WrongLastSequenceError,
    10164: E.WrongLastSequenceError,
    10070: E.WrongLastMsgIdError,
    10060: E.ExpectedStreamMismatchError,
    10054: E.MessageSizeExceedsError,
    10097: E.HeaderSizeExceedsError,
    10109: E.StreamSealedError,
    10110: E.PurgeFailedError,
    10111: E.RollupFailedError,
    10077: E.StoreFailedError,
    10023: E.InsufficientResourcesError,
    10008: E.JetStreamUnavailableError,
    10076: E.JetStreamNotEnabledError,
    10039: E.JetStreamNotEnabledError,
    10025: E.InvalidJSONError,
    10003: E.BadRequestError,
    10056: E.StreamNameMismatchError,
    10013: E.ConsumerNameInUseError,
    10148: E.ConsumerExistsError,
    10105: E.ConsumerExistsError,
    10149: E.ConsumerDoesNotExistError,
    10158: E.DuplicateMsgIdInProcessError,
    10167: E.TooManyRequestsError,
    10083: E.ConsumerHeartbeatTooSmallError,
    10108: E.ConsumerFlowControlNeedsHeartbeatError,
    10131: E.ConsumerFilterMismatchError,
    10205: E.BatchPublishDisabledError,
}


def test_registry_is_exactly_the_table() -> None:
    assert E.ERR_CODE_TO_CLASS == EXPECTED


@pytest.mark.parametrize("err_code,cls", sorted(EXPECTED.items()), ids=lambda v: str(v))
def test_every_code_maps_to_its_class(err_code: int, cls: type) -> None:
    exc = E.api_error_from_json({"code": 400, "err_code": err_code, "description": "text from server"})
    assert type(exc) is cls
    assert isinstance(exc, E.APIError) and isinstance(exc, E.JetStreamError) and isinstance(exc, NatsError)
    assert exc.err_code == err_code
    assert exc.code == 400
    assert exc.description == "text from server"
    declared = cls.__dict__["err_code"]
    assert err_code in (declared if isinstance(declared, tuple) else (declared,))


def test_message_is_readable() -> None:
    exc = E.api_error_from_json({"code": 404, "err_code": 10059, "description": "stream not found"})
    assert str(exc) == "stream not found (code=404, err_code=10059)"
    assert isinstance(exc, E.NotFoundError)


def test_unknown_code_gives_plain_api_error() -> None:
    exc = E.api_error_from_json({"code": 418, "err_code": 19999, "description": "teapot"})
    assert type(exc) is E.APIError
    assert (exc.code, exc.err_code, exc.description) == (418, 19999, "teapot")
    assert str(exc) == "teapot (code=418, err_code=19999)"


@pytest.mark.parametrize(
    "obj,expected",
    [
        ({"code": 503, "description": "old server"}, (503, 0, "old server")),
        ({"code": "404", "err_code": "10059", "description": "x"}, (404, 10059, "x")),
        ({}, (0, 0, "")),
        ({"code": None, "err_code": True, "description": 5}, (0, 0, "5")),
    ],
)
def test_tolerates_odd_error_objects(obj: dict, expected: tuple) -> None:
    exc = E.api_error_from_json(obj)
    assert (exc.code, exc.err_code, exc.description) == expected


def test_string_codes_still_select_the_class() -> None:
    assert type(E.api_error_from_json({"code": "404", "err_code": "10059"})) is E.StreamNotFoundError


def test_non_mapping_error_object() -> None:
    exc = E.api_error_from_json("boom")  # type: ignore[arg-type]
    assert type(exc) is E.APIError
    assert "boom" in exc.description


def test_raise_for_api_response_with_pub_ack_error() -> None:
    resp = {
        "error": {"code": 400, "err_code": 10071, "description": "wrong last sequence: 5"},
        "stream": "OBJ_b",
        "seq": 0,
    }
    with pytest.raises(E.WrongLastSequenceError) as info:
        E.raise_for_api_response(resp)
    assert info.value.stream == "OBJ_b"
    assert info.value.seq == 0
    assert info.value.last_seq == 5


def test_raise_for_api_response_passes_success_through() -> None:
    ok = {"stream": "OBJ_b", "seq": 3}
    assert E.raise_for_api_response(ok) is ok
    assert E.raise_for_api_response({"error": None, "success": True}) == {"error": None, "success": True}


def test_raise_for_api_response_does_not_mutate() -> None:
    resp = {"type": "x", "error": {"code": 404, "err_code": 10037, "description": "no message found"}}
    snapshot = repr(resp)
    with pytest.raises(E.MessageNotFoundError):
        E.raise_for_api_response(resp)
    assert repr(resp) == snapshot


def test_last_seq_absent() -> None:
    assert E.WrongLastSequenceError(400, 10164, "wrong last sequence").last_seq is None


def test_defaults_from_class() -> None:
    exc = E.StreamNotFoundError()
    assert (exc.code, exc.err_code, exc.description) == (404, 10059, "stream not found")
    assert str(exc) == "stream not found (code=404, err_code=10059)"
    assert E.ConsumerExistsError().err_code == 10148
    assert E.JetStreamNotEnabledError().err_code == 10076
    assert str(E.APIError()) == "JetStream API error (code=0, err_code=0)"


def test_duplicate_code_is_rejected() -> None:
    before = dict(E.ERR_CODE_TO_CLASS)
    with pytest.raises(TypeError, match="already registered"):

        class Dup(E.APIError):
            err_code = 10059

    with pytest.raises(TypeError, match="already registered"):

        class PartDup(E.APIError):
            err_code = (19998, 10037)

    assert E.ERR_CODE_TO_CLASS == before


def test_bad_err_code_declaration() -> None:
    with pytest.raises(TypeError):

        class Bad(E.APIError):
            err_code = "10059"  # type: ignore[assignment]


def test_new_subclass_registers_and_inheritance_does_not() -> None:
    try:

        class Custom(E.APIError):
            err_code = 19997

        class Child(Custom):  # inherits the code: must not register again
            pass

        assert E.ERR_CODE_TO_CLASS[19997] is Custom
        assert type(E.api_error_from_json({"code": 400, "err_code": 19997})) is Custom
    finally:
        E.ERR_CODE_TO_CLASS.pop(19997, None)


def test_pickle_round_trip() -> None:
    exc = E.api_error_from_json({"code": 400, "err_code": 10071, "description": "wrong last sequence: 2"})
    exc.stream = "S"
    back = pickle.loads(pickle.dumps(exc))
    assert type(back) is E.WrongLastSequenceError
    assert (back.code, back.err_code, back.description, back.stream) == (400, 10071, "wrong last sequence: 2", "S")
    assert str(back) == str(exc)


def test_non_api_errors() -> None:
    exc = E.NoStreamResponseError()
    assert str(exc) == "no stream matches this subject"
    assert str(E.NoStreamResponseError(subject="a.b")) == "no stream matches this subject: a.b"
    assert isinstance(exc, E.JetStreamError)
    t = E.JetStreamTimeoutError("api timeout")
    assert isinstance(t, NatsTimeoutError) and isinstance(t, TimeoutError) and isinstance(t, E.JetStreamError)
    for cls in (E.InvalidNameError, E.InvalidArgumentError, E.InvalidAckSubjectError, E.CodecError):
        assert issubclass(cls, ValueError) and issubclass(cls, E.JetStreamError)
    assert issubclass(E.ConsumerStalledError, E.JetStreamError)
    assert issubclass(E.OrderedConsumerError, E.JetStreamError)


def test_all_is_complete() -> None:
    for name in E.__all__:
        assert hasattr(E, name), name
    for cls in set(EXPECTED.values()):
        assert cls.__name__ in E.__all__
