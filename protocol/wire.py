"""Protocol constants: op names, separators, default limits and status codes.

Rule: this is the only module where the protocol's magic bytes live. It imports nothing.
"""

CRLF = b"\r\n"
HEADER_LINE = b"NATS/1.0"
HEADER_LINE_LEN = len(HEADER_LINE)

PING = b"PING\r\n"
PONG = b"PONG\r\n"

# Server defaults (nats-server const.go): the control line limit applies to what we receive.
MAX_CONTROL_LINE = 4096
DEFAULT_MAX_PAYLOAD = 1024 * 1024

# Status codes carried in the NATS/1.0 header line (spec/wire.md "Status codes seen by clients":
# nats.go consts, nats-server client.go/consumer.go/stream.go). The one home of these literals:
# jetstream and objstore import them from ``protocol``.
STATUS_CONTROL = "100"  # idle heartbeat or flow control request (ADR-9)
STATUS_NO_MESSAGES = "404"  # pull request with no_wait: nothing to deliver
STATUS_REQUEST_TIMEOUT = "408"  # pull request expired
STATUS_CONFLICT = "409"  # consumer deleted, leadership change, max waiting... (pull)
STATUS_NO_RESPONDERS = "503"  # no subscriber for a request, no_responders on (ADR-40)
STATUS_EOB = "204"  # end of a batched direct get (ADR-31)

# Pseudo-header names under which the status line is exposed (nats.go's convention).
STATUS_HDR = "Status"
DESCRIPTION_HDR = "Description"

INBOX_PREFIX = "_INBOX."
CLIENT_LANG = "python3"
CLIENT_VERSION = "0.1.0"
