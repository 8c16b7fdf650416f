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

# Status codes carried in the NATS/1.0 header line.
STATUS_CONTROL = "100"  # idle heartbeat, flow control request
STATUS_NO_MESSAGES = "404"
STATUS_REQUEST_TIMEOUT = "408"
STATUS_CONFLICT = "409"
STATUS_NO_RESPONDERS = "503"
STATUS_EOB = "204"

# Pseudo-header names under which the status line is exposed (nats.go's convention).
STATUS_HDR = "Status"
DESCRIPTION_HDR = "Description"

INBOX_PREFIX = "_INBOX."
CLIENT_LANG = "python3"
CLIENT_VERSION = "0.1.0"
