"""Owns where ``objstore get`` writes: :func:`plan_output` decides the target before the
download starts, and the helpers open, link and sync what it chose.

A regular file (symlinks followed; the link stays) is replaced only by a verified, fsync'ed
temp file renamed over it (``-n``: never replaced); a device, FIFO, socket or ``/dev``/``/proc``
path is written in place, never renamed over; an object name that could leave ``-o DIR/`` is
refused; binary data is not sent to a terminal unless ``-o -`` asks for it. Every refusal is a
:class:`~.runtime.CliError`. It must not download anything: ``commands/get.py`` does.
"""

from __future__ import annotations

import asyncio
import codecs
import errno
import os
import socket
import stat
from typing import Any, Optional

from .runtime import CliError, Ctx

__all__ = [
    "TEMP_SUFFIX", "Target", "object_file_name", "plan_output", "file_mode", "looks_binary",
    "open_through", "open_socket", "isatty", "link_no_replace", "fsync_dir",
]

TEMP_SUFFIX = ".objstore-part"  # get -o FILE writes ".<name>.<random>.objstore-part" beside FILE

# Paths that are the CLI's own standard output: written to fd 1, never opened or renamed.
_STDOUT_PATHS = frozenset({"/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"})
_FIFO_POLL = 0.1  # seconds between attempts to open a FIFO that has no reader yet


class Target:
    """Where ``get`` writes: ``kind`` is ``"stdout"``, ``"file"`` (a regular file, replaced by a
    verified rename), ``"through"`` (a device, FIFO or /dev, /proc path: written in place) or
    ``"socket"`` (a Unix stream socket: connected to and written)."""

    def __init__(self, kind: str, path: str = "", shown: str = "", explicit: bool = False, exists: bool = False) -> None:
        self.kind = kind
        self.path = path  # for "file": the real file (symlinks followed) that is replaced
        self.shown = shown or path  # the path as the user named it (messages, --json)
        self.explicit = explicit  # stdout asked for with '-o -' or '-o /dev/stdout'
        self.exists = exists


def object_file_name(name: str) -> str:
    """The file name ``get -o DIR/`` gives object ``name``: its last ``/``-separated part (as
    before). Refused (:class:`CliError`) when that could leave DIR or name DIR itself: a NUL
    byte, an absolute name, a ``..`` part, or a last part that is empty, ``.`` or ``..``."""
    why = ""
    if "\0" in name:
        why = "it contains a NUL byte"
    elif name.startswith("/"):
        why = "it is an absolute path"
    elif ".." in name.split("/"):
        why = "it has a '..' part"
    else:
        base = name.rstrip("/").rsplit("/", 1)[-1]
        if base in ("", ".", ".."):
            why = f"its last part {base!r} is not a file name"
        else:
            return base
    raise CliError(f"object name {name!r} cannot be used as a file name ({why}); give the file with -o FILE")


def _is_special_path(path: str) -> bool:
    # /dev and /proc entries (/dev/stderr, /dev/fd/N, /proc/self/fd/N, /dev/null ...) name open
    # files, pipes and devices: written in place, never resolved, replaced or created.
    p = os.path.abspath(path)
    return p.startswith("/dev/") or p.startswith("/proc/")


def plan_output(output: Optional[str], name: str, no_clobber: bool = False) -> Target:
    """Decide where ``get -o OUTPUT`` writes object ``name``, before anything is downloaded.

    Every refusal (missing or unwritable directory, a directory target, a dangling symlink, an
    existing file with ``no_clobber``, an unusable object name) is a :class:`CliError` here."""
    if output is None or output == "-":
        return Target("stdout", explicit=output == "-")
    if output in _STDOUT_PATHS:
        return Target("stdout", shown=output, explicit=True)
    if output.endswith("/") or os.path.isdir(output):
        if not os.path.isdir(output):
            raise CliError(f"{output}: no such directory")
        target = os.path.join(output, object_file_name(name))
    else:
        target = output
    shown = target
    if _is_special_path(target):
        try:
            st = os.stat(target)
        except OSError as e:
            raise CliError(f"{target}: {e.strerror}") from None
        if stat.S_ISDIR(st.st_mode):
            raise CliError(f"{target}: is a directory")
        return Target("socket" if stat.S_ISSOCK(st.st_mode) else "through", target, shown, exists=True)
    if os.path.islink(target):
        if not os.path.exists(target):
            raise CliError(f"{target}: a dangling symlink; not writing through it (remove it or choose another path)")
        real = os.path.realpath(target)
        if _is_special_path(real):  # e.g. a link to /dev/null or /dev/stdout: open it in place
            lst = os.stat(target)
            return Target("socket" if stat.S_ISSOCK(lst.st_mode) else "through", target, shown, exists=True)
        target = real  # the link stays; the file it names is written
    try:
        st: Optional[os.stat_result] = os.stat(target)
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise CliError(f"{target}: {e.strerror}") from None
    if st is not None and not stat.S_ISREG(st.st_mode):
        if stat.S_ISDIR(st.st_mode):
            raise CliError(f"{shown}: is a directory")
        return Target("socket" if stat.S_ISSOCK(st.st_mode) else "through", target, shown, exists=True)
    if st is not None and no_clobber:
        raise CliError(f"{shown}: already exists (not replaced: -n/--no-clobber)")
    directory = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(directory):
        raise CliError(f"{directory}: no such directory")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise CliError(f"{directory}: not writable (the file is written there first, then renamed)")
    return Target("file", target, shown, exists=st is not None)


def file_mode(target: str) -> int:
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def looks_binary(chunk: bytes) -> bool:
    """curl's rule (a NUL byte), plus bytes that are not UTF-8 (a multi-byte character cut at the
    chunk's end is fine)."""
    if b"\0" in chunk:
        return True
    try:
        codecs.getincrementaldecoder("utf-8")().decode(chunk, final=False)
    except UnicodeDecodeError:
        return True
    return False


async def open_through(target: Target, ctx: Ctx) -> Any:
    """Open a device, FIFO or /dev path for writing in place: no O_CREAT, no O_TRUNC, never
    renamed over. A FIFO without a reader is retried (Ctrl-C stops the wait) instead of
    blocking the event loop in open(2)."""
    path = target.path
    st = os.stat(path)
    flags = os.O_WRONLY | os.O_CLOEXEC
    if stat.S_ISREG(st.st_mode):
        flags |= os.O_APPEND  # a file behind /dev/fd/N or /dev/stderr: add to it like the shell
    if stat.S_ISFIFO(st.st_mode):
        waited = False
        while True:
            try:
                fd = os.open(path, flags | os.O_NONBLOCK)
                break
            except OSError as e:
                if e.errno != errno.ENXIO:  # ENXIO: no process has the FIFO open for reading
                    raise
            if not waited:
                ctx.note(f"waiting for a reader on FIFO {target.shown}")
                waited = True
            ctx.check_interrupted()
            await asyncio.sleep(_FIFO_POLL)
        os.set_blocking(fd, True)
    else:
        fd = os.open(path, flags)
    return os.fdopen(fd, "wb", buffering=0)


def open_socket(target: Target) -> Any:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(target.path)
    except OSError:
        sock.close()
        raise
    return sock


def isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (OSError, ValueError, AttributeError):
        return False


def link_no_replace(tmp: str, path: str, shown: str) -> None:
    try:
        os.link(tmp, path)  # fails if the target appeared during the download
    except FileExistsError:
        raise CliError(f"{shown}: already exists (not replaced: -n/--no-clobber)") from None
    except OSError as e:
        if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
            raise
        if os.path.lexists(path):  # a file system without hard links: check, then rename
            raise CliError(f"{shown}: already exists (not replaced: -n/--no-clobber)") from None
        os.replace(tmp, path)
        return
    os.unlink(tmp)


def fsync_dir(directory: str) -> None:
    try:
        dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)
