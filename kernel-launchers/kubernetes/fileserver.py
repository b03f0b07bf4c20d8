#!/usr/bin/env python3
"""Atrium's file server for one user's home volume (a PersistentVolumeClaim), run on demand in a pod.

Atrium reaches it only through the Kubernetes API server's pod proxy; every request must carry the pod's own
secret in `X-Atrium-Token` (the API server drops `Authorization` before proxying). It serves exactly one
folder, the mounted volume, with the same semantics as Atrium's local home store (server/storage/local-store.ts):
paths are confined to the folder (links that lead out are refused), writes are atomic (a temp file beside the
target, fsync, then a rename or a hard link that refuses to replace), `.atrium-tmp-*` names are hidden.
Atrium normalizes every path before sending it; this server checks the basics again and never trusts them.

Stdlib only, so any image with a Python 3.8+ can run it. Configuration by environment (set in the pod spec):
  ATRIUM_FILESERVER_TOKEN   the per-pod secret (required; at least 32 characters)
  ATRIUM_FILESERVER_ROOT    the mounted home volume (required)
  ATRIUM_FILESERVER_HOST    address to bind; default $POD_IP, else 0.0.0.0
  ATRIUM_FILESERVER_PORT    default 8080
  ATRIUM_FILESERVER_IDLE_SECONDS  exit 0 after this long without a request (default 900; 0 = never): a backstop
                            for when the portal that started the pod is gone. Atrium stops idle pods itself.

API (query values percent-encoded UTF-8; answers JSON unless noted; errors are
{"error": {"kind": ..., "errno": ..., "path": ...}} with a 4xx/5xx status):
  GET  /healthz                       {"ok": true}
  GET  /v1/stat?path=P                entry
  GET  /v1/list?path=P                {"entries": [entry...]} sorted by name
  GET  /v1/read?path=P                the bytes (Content-Length set; X-Atrium-Mtime-Ms)
  PUT  /v1/write?path=P[&overwrite=1][&expected_mtime_ms=N]   body = the bytes (length or chunked) -> entry
  POST /v1/mkdir?path=P[&parents=1]   entry
  POST /v1/rename?from=A&to=B[&overwrite=1]   entry
  POST /v1/delete?path=P[&recursive=1]        {"ok": true}
  POST /v1/ensure-home                entry of the root
entry = {"name", "path", "type": "file"|"directory", "size", "mtime_ms", "mode"}
"""

from __future__ import annotations

import errno as errno_mod
import hmac
import json
import os
import re
import secrets
import shutil
import signal
import socketserver
import stat
import sys
import threading
import time
import unicodedata
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator, Optional
from urllib.parse import parse_qs, urlsplit

TEMP_PREFIX = ".atrium-tmp-"
DRAIN_LIMIT = 16 * 1024 * 1024  # an upload refused before it was read is read this far, so proxies relay the refusal
DRAIN_SECONDS = 30
CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")
CHUNK = 1024 * 1024
MAX_SEGMENT_BYTES = 255
MAX_PATH_BYTES = 4096

ERRNO_STATUS = {
    "ENOENT": 404, "ENOTDIR": 409, "EISDIR": 409, "EEXIST": 409, "ENOTEMPTY": 409, "EACCES": 403, "EPERM": 403,
    "EROFS": 403, "ENOSPC": 507, "EDQUOT": 507, "EFBIG": 413, "ENAMETOOLONG": 400, "ELOOP": 400, "EINVAL": 400,
}
KIND_STATUS = {
    "bad_path": 400, "not_found": 404, "exists": 409, "is_dir": 409, "not_dir": 409, "not_regular": 400,
    "outside": 403, "dangling": 403, "changed": 409, "deleted": 409, "not_empty": 409, "unauthorized": 401,
    "bad_request": 400, "home": 503,
}


class Refused(Exception):
    """A request this server answers with an error: `kind` for Atrium to word, `path` it is about."""

    def __init__(self, kind: str, path: str = "", err: Optional[str] = None, **extra) -> None:
        super().__init__(kind)
        self.kind, self.path, self.errno, self.extra = kind, path, err, extra


def from_os_error(exc: OSError, path: str) -> Refused:
    name = errno_mod.errorcode.get(exc.errno or 0, "EIO")
    return Refused("errno", path, name)


def parent_of(rel: str) -> str:
    return rel.rpartition("/")[0]


def name_of(rel: str) -> str:
    return rel.rpartition("/")[2]


def check_rel(rel: str) -> str:
    """A normalized user path ('' = the root). Atrium normalizes; this refuses anything that is not."""
    if rel == "":
        return rel
    if (
        "\x00" in rel or "\\" in rel or rel.startswith("/") or rel.endswith("/")
        or unicodedata.normalize("NFC", rel) != rel or len(rel.encode("utf-8")) > MAX_PATH_BYTES
    ):
        raise Refused("bad_path", rel)
    for segment in rel.split("/"):
        if segment in ("", ".", "..") or segment.startswith(TEMP_PREFIX) or len(segment.encode("utf-8")) > MAX_SEGMENT_BYTES:
            raise Refused("bad_path", rel)
        if any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in segment):
            raise Refused("bad_path", rel)
    return rel


class Home:
    """The confined folder: user paths in, host paths out (the same rules as local-confinement.ts)."""

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def real_home(self) -> str:
        real = os.path.realpath(self.root)
        if not os.path.isdir(real):
            raise Refused("home")
        return real

    @staticmethod
    def refuse_outside(home: str, real: str, rel: str) -> None:
        if real != home and not real.startswith(home.rstrip("/") + "/"):
            raise Refused("outside", rel)

    def resolve(self, rel: str) -> tuple[str, str]:
        """(real home, host path of rel) with every link in its existing part resolved and checked.

        The missing tail (for a write or mkdir) is appended as plain names, which cannot leave the folder.
        """
        home = self.real_home()
        segments = rel.split("/") if rel else []
        # An entry another request creates while this one resolves looks, for a moment, like a dangling link
        # (stat missed it, lstat then finds it; seen with concurrent creates of one name): resolve again, and
        # refuse only a link that stays unresolvable.
        for _attempt in range(3):
            resolved = self._resolve_once(home, segments, rel)
            if resolved is not None:
                return home, resolved
        raise Refused("dangling", rel)

    def _resolve_once(self, home: str, segments: list[str], rel: str) -> Optional[str]:
        """The host path of rel, or None when an entry realpath could not follow is there (see resolve)."""
        for existing in range(len(segments), -1, -1):
            real = os.path.realpath(os.path.join(home, *segments[:existing]))
            try:
                os.stat(real)
            except OSError:
                if existing == 0:
                    raise Refused("home") from None
                continue  # missing (or a file used as a folder): try the parent
            self.refuse_outside(home, real, rel)
            if existing < len(segments) and os.path.lexists(os.path.join(real, segments[existing])):
                # realpath could not follow it yet lstat finds it: a dangling link, or an entry made meanwhile.
                return None
            return os.path.join(real, *segments[existing:])
        raise Refused("home")

    def resolve_entry(self, rel: str) -> str:
        """The entry itself: its parent resolved and checked, its own name never followed."""
        if rel == "":
            return self.real_home()
        _, parent = self.resolve(parent_of(rel))
        return os.path.join(parent, name_of(rel))

    def lock(self, host_path: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(host_path, threading.Lock())


def entry_of(rel: str, st: os.stat_result) -> dict:
    if stat.S_ISREG(st.st_mode):
        kind = "file"
    elif stat.S_ISDIR(st.st_mode):
        kind = "directory"
    else:
        raise Refused("not_regular", rel)
    return {
        "name": name_of(rel), "path": rel, "type": kind, "size": st.st_size,
        "mtime_ms": st.st_mtime_ns // 1_000_000, "mode": stat.S_IMODE(st.st_mode) & 0o777,
    }


def lstat_or_none(host: str) -> Optional[os.stat_result]:
    try:
        return os.lstat(host)
    except (FileNotFoundError, NotADirectoryError):
        return None


def check_expected(rel: str, current: Optional[os.stat_result], expected_ms: int) -> None:
    if current is None:
        raise Refused("deleted", rel)
    if current.st_mtime_ns // 1_000_000 != expected_ms:
        raise Refused("changed", rel, mtime_ms=current.st_mtime_ns // 1_000_000)


def sync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems cannot fsync a folder; the data is safe anyway
    finally:
        os.close(fd)


class Operations:
    def __init__(self, home: Home) -> None:
        self.home = home

    def ensure_home(self) -> dict:
        home = self.home.real_home()
        st = os.stat(home)
        if not stat.S_ISDIR(st.st_mode) or not os.access(home, os.W_OK | os.X_OK):
            raise Refused("home")
        return entry_of("", st)

    def stat(self, rel: str) -> dict:
        _, host = self.home.resolve(rel)
        try:
            return entry_of(rel, os.lstat(host))
        except OSError as exc:
            raise from_os_error(exc, rel) from None

    def list(self, rel: str) -> list:
        home, host = self.home.resolve(rel)
        try:
            names = os.listdir(host)
        except OSError as exc:
            raise from_os_error(exc, rel) from None
        entries = []
        for name in names:
            if name.startswith(TEMP_PREFIX):
                continue
            child = f"{rel}/{name}" if rel else name
            path = os.path.join(host, name)
            try:
                st = os.lstat(path)
                if stat.S_ISLNK(st.st_mode):
                    real = os.path.realpath(path)
                    self.home.refuse_outside(home, real, child)
                    st = os.stat(real)
                if stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode):
                    entries.append(entry_of(child, st))
            except (OSError, Refused):
                continue  # links out of the home, dangling links, devices, races: left out, as locally
        entries.sort(key=lambda e: e["name"].encode("utf-16-be"))  # JavaScript's string order
        return entries

    def open_for_read(self, rel: str) -> tuple[int, os.stat_result]:
        _, host = self.home.resolve(rel)
        try:
            fd = os.open(host, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError as exc:
            raise from_os_error(exc, rel) from None
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode) or not stat.S_ISREG(st.st_mode):
            os.close(fd)
            raise Refused("is_dir" if stat.S_ISDIR(st.st_mode) else "not_regular", rel)
        return fd, st

    def prepare_write(self, rel: str, overwrite: bool, expected_ms: Optional[int]) -> tuple[str, Optional[os.stat_result]]:
        """Checks that can refuse before the body is read (a large upload is not consumed for nothing)."""
        if rel == "":
            raise Refused("is_dir", rel)
        _, host = self.home.resolve(rel)
        before = lstat_or_none(host)
        if before is not None and stat.S_ISDIR(before.st_mode):
            raise Refused("is_dir", rel)
        if before is not None and not overwrite:
            raise Refused("exists", rel)
        if expected_ms is not None:
            check_expected(rel, before, expected_ms)
        return host, before

    def write(self, rel: str, host: str, before: Optional[os.stat_result], overwrite: bool,
              expected_ms: Optional[int], body: Iterator[bytes]) -> dict:
        temp = os.path.join(os.path.dirname(host), TEMP_PREFIX + secrets.token_hex(8))
        mode = stat.S_IMODE(before.st_mode) & 0o777 if before is not None else 0o666
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
        except OSError as exc:
            raise from_os_error(exc, parent_of(rel) if exc.errno == errno_mod.ENOENT else rel) from None
        placed = False
        try:
            try:
                if before is not None:
                    os.fchmod(fd, mode)  # a replaced file keeps its bits (the umask would have cut them)
                for chunk in body:
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(fd, view):]
                os.fsync(fd)
            finally:
                os.close(fd)
            with self.home.lock(host):
                if expected_ms is not None:
                    check_expected(rel, lstat_or_none(host), expected_ms)
                if overwrite:
                    os.rename(temp, host)
                else:
                    try:
                        os.link(temp, host)  # fails atomically when the name is taken
                    except FileExistsError:
                        raise Refused("exists", rel) from None
                    os.unlink(temp)
                placed = True
            sync_dir(os.path.dirname(host))
            return entry_of(rel, os.lstat(host))
        except (ConnectionError, TimeoutError):
            raise  # the upload broke: nothing to answer about the file
        except OSError as exc:
            raise from_os_error(exc, rel) from None
        finally:
            if not placed:
                try:
                    os.unlink(temp)
                except OSError:
                    pass

    def mkdir(self, rel: str, parents: bool) -> dict:
        if rel == "":
            if parents:
                return self.stat("")
            raise Refused("exists", rel)
        _, host = self.home.resolve(rel)
        try:
            if parents:
                os.makedirs(host, exist_ok=True)
                if not os.path.isdir(host):
                    raise Refused("exists", rel)
            else:
                os.mkdir(host)
            return entry_of(rel, os.lstat(host))
        except FileNotFoundError as exc:
            raise from_os_error(exc, parent_of(rel)) from None
        except OSError as exc:
            raise from_os_error(exc, rel) from None

    def rename(self, source: str, target: str, overwrite: bool) -> dict:
        if source == "" or target == "":
            raise Refused("bad_path", source or target)
        if source == target:
            return self.stat(source)
        if target.startswith(source + "/"):
            raise Refused("bad_path", target)
        source_host = self.home.resolve_entry(source)
        target_host = self.home.resolve_entry(target)
        source_st = lstat_or_none(source_host)
        if source_st is None:
            raise Refused("not_found", source)
        try:
            with self.home.lock(target_host):
                if not overwrite:
                    existing = lstat_or_none(target_host)
                    same = existing is not None and (existing.st_ino, existing.st_dev) == (source_st.st_ino, source_st.st_dev)
                    if existing is not None and not same:
                        raise Refused("exists", target)
                os.rename(source_host, target_host)
        except FileNotFoundError as exc:
            raise from_os_error(exc, parent_of(target)) from None
        except OSError as exc:
            raise from_os_error(exc, target) from None
        sync_dir(os.path.dirname(target_host))
        st = os.lstat(target_host)
        if not stat.S_ISLNK(st.st_mode):
            return entry_of(target, st)
        try:
            return self.stat(target)
        except Refused:
            return {"name": name_of(target), "path": target, "type": "file", "size": 0,
                    "mtime_ms": st.st_mtime_ns // 1_000_000, "mode": 0o777}

    def delete(self, rel: str, recursive: bool) -> None:
        if rel == "":
            raise Refused("bad_path", rel)
        host = self.home.resolve_entry(rel)
        try:
            st = os.lstat(host)
            if not stat.S_ISDIR(st.st_mode):
                os.unlink(host)  # a link is removed, never what it points to
            elif recursive:
                shutil.rmtree(host)  # does not follow links inside the tree
            else:
                os.rmdir(host)
        except OSError as exc:
            if exc.errno in (errno_mod.ENOTEMPTY, errno_mod.EEXIST):
                raise Refused("not_empty", rel) from None
            raise from_os_error(exc, rel) from None


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, token: str, ops: Operations) -> None:
        super().__init__(address, Handler)
        self.token = token.encode("utf-8")
        self.ops = ops
        self.last_activity = time.monotonic()
        self.in_flight = 0
        self.activity_lock = threading.Lock()

    def server_bind(self) -> None:
        # HTTPServer.server_bind asks DNS for the host's FQDN (socket.getfqdn) only to fill server_name, which
        # nothing here reads. Where a pod's resolver is slow or unreachable, that lookup held the first listing
        # for the resolver's timeout (10 s on the test cluster, which has no cluster DNS): bind without it.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = port


class Handler(BaseHTTPRequestHandler):
    server: Server
    protocol_version = "HTTP/1.1"
    server_version = "atrium-fileserver/1"
    # A client that stalls mid-request frees its thread after this long (socket timeout).
    timeout = 300

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        pass  # requests carry user paths: not logged; errors are answered, not printed

    # --- plumbing ---

    def _query(self) -> dict:
        parsed = urlsplit(self.path)
        query = parse_qs(parsed.query, keep_blank_values=True, strict_parsing=False, encoding="utf-8", errors="strict")
        return {k: v[-1] for k, v in query.items()}

    def _send_json(self, status: int, value, close: bool = False) -> None:
        data = json.dumps(value, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(data)

    def _refuse(self, refused: Refused, body_unread: bool) -> None:
        status = ERRNO_STATUS.get(refused.errno or "", 500) if refused.kind == "errno" else KIND_STATUS.get(refused.kind, 400)
        error = {"kind": refused.kind, "path": refused.path, **refused.extra}
        if refused.errno:
            error["errno"] = refused.errno
        # An unread upload cannot be skipped on a kept-alive connection: close it.
        self._send_json(status, {"error": error}, close=body_unread)

    def _body(self) -> Iterator[bytes]:
        self._body_started = True
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            while True:
                line = self.rfile.readline(1024)
                if not line:
                    raise ConnectionError("the upload ended early")
                size_text = line.split(b";")[0].strip()
                if not CHUNK_SIZE.fullmatch(size_text):
                    raise ValueError("malformed chunk size")  # int() would take "-1" or "+0x10"
                size = int(size_text, 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return
                remaining = size
                while remaining:
                    chunk = self.rfile.read(min(remaining, CHUNK))
                    if not chunk:
                        raise ConnectionError("the upload ended early")
                    remaining -= len(chunk)
                    yield chunk
                self.rfile.readline(16)
        else:
            remaining = int(self.headers.get("Content-Length") or 0)
            while remaining:
                chunk = self.rfile.read(min(remaining, CHUNK))
                if not chunk:
                    raise ConnectionError("the upload ended early")
                remaining -= len(chunk)
                yield chunk

    def _has_body(self) -> bool:
        return "chunked" in self.headers.get("Transfer-Encoding", "").lower() or int(self.headers.get("Content-Length") or 0) > 0

    def _body_unread_after_drain(self, refused: "Refused") -> bool:
        """Reads an upload refused before it was read (a stale write, a bad path), up to DRAIN_LIMIT bytes and
        DRAIN_SECONDS: a proxy in between (the API server's pod proxy) still sending it would otherwise see the
        connection close and answer 502/503 instead of the refusal. Never for a caller without the token. True when
        some of it is left unread (the connection must close)."""
        if not self._has_body():
            return False
        if self._body_started or refused.kind == "unauthorized":
            return True  # read in part (where it stands is unknown), or not worth a byte
        deadline = time.monotonic() + DRAIN_SECONDS
        previous_timeout = self.connection.gettimeout()
        self.connection.settimeout(DRAIN_SECONDS)  # each read too: a trickling client is not waited for
        try:
            read = 0
            for chunk in self._body():
                read += len(chunk)
                if read > DRAIN_LIMIT or time.monotonic() > deadline:
                    return True
            return False
        except (ConnectionError, TimeoutError, ValueError, OSError):
            return True
        finally:
            self.connection.settimeout(previous_timeout)

    def _handle(self, method: str) -> None:
        self._body_started = False  # per request: one connection carries several
        with self.server.activity_lock:
            self.server.in_flight += 1
        try:
            self._dispatch(method)
        except Refused as refused:
            try:
                self._refuse(refused, body_unread=self._body_unread_after_drain(refused))
            except OSError:
                self.close_connection = True
        except (ConnectionError, TimeoutError):
            self.close_connection = True
        except UnicodeDecodeError:
            self._refuse(Refused("bad_path"), body_unread=self._has_body())
        except ValueError:  # a malformed number or chunk size
            self._refuse(Refused("bad_request"), body_unread=self._has_body())
        except Exception as exc:  # a bug: answer 500 with its type, keep serving
            self._send_json(500, {"error": {"kind": "internal", "detail": type(exc).__name__}}, close=True)
        finally:
            with self.server.activity_lock:
                self.server.in_flight -= 1
                self.server.last_activity = time.monotonic()

    def _authorized(self) -> bool:
        given = self.headers.get("X-Atrium-Token", "").encode("utf-8")
        return hmac.compare_digest(given, self.server.token)

    def _dispatch(self, method: str) -> None:
        if not self._authorized():
            raise Refused("unauthorized")
        route = urlsplit(self.path).path
        q = self._query()
        ops = self.server.ops
        flag = lambda name: q.get(name) in ("1", "true")  # noqa: E731
        if method == "GET" and route == "/healthz":
            return self._send_json(200, {"ok": True})
        if method == "POST" and route == "/v1/ensure-home":
            return self._send_json(200, ops.ensure_home())
        if method == "GET" and route == "/v1/stat":
            return self._send_json(200, ops.stat(check_rel(q.get("path", ""))))
        if method == "GET" and route == "/v1/list":
            return self._send_json(200, {"entries": ops.list(check_rel(q.get("path", "")))})
        if method == "GET" and route == "/v1/read":
            rel = check_rel(q.get("path", ""))
            fd, st = ops.open_for_read(rel)
            with os.fdopen(fd, "rb") as f:
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(st.st_size))
                self.send_header("X-Atrium-Mtime-Ms", str(st.st_mtime_ns // 1_000_000))
                self.end_headers()
                remaining = st.st_size  # exactly what Content-Length promised, even if the file grows meanwhile
                while remaining:
                    chunk = f.read(min(remaining, CHUNK))
                    if not chunk:
                        self.close_connection = True  # it shrank: the client sees a short body and fails
                        return
                    self.wfile.write(chunk)
                    remaining -= len(chunk)
            return
        if method == "PUT" and route == "/v1/write":
            rel = check_rel(q.get("path", ""))
            expected = q.get("expected_mtime_ms")
            expected_ms = int(expected) if expected not in (None, "") else None
            overwrite = flag("overwrite") or expected_ms is not None
            host, before = ops.prepare_write(rel, overwrite, expected_ms)
            entry = ops.write(rel, host, before, overwrite, expected_ms, self._body())
            return self._send_json(200, entry)
        if method == "POST" and route == "/v1/mkdir":
            return self._send_json(200, ops.mkdir(check_rel(q.get("path", "")), flag("parents")))
        if method == "POST" and route == "/v1/rename":
            return self._send_json(200, ops.rename(check_rel(q.get("from", "")), check_rel(q.get("to", "")), flag("overwrite")))
        if method == "POST" and route == "/v1/delete":
            ops.delete(check_rel(q.get("path", "")), flag("recursive"))
            return self._send_json(200, {"ok": True})
        raise Refused("bad_request", "")

    def do_GET(self) -> None:  # noqa: N802 - the base class's names
        self._handle("GET")

    def do_PUT(self) -> None:  # noqa: N802
        self._handle("PUT")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")


def stop_when_idle(server: Server, idle_seconds: float) -> None:
    """Exits the server after `idle_seconds` without a request (none in flight)."""
    while True:
        time.sleep(min(idle_seconds / 4, 5.0))
        with server.activity_lock:
            idle = server.in_flight == 0 and time.monotonic() - server.last_activity >= idle_seconds
        if idle:
            server.shutdown()
            return


def main(environ=os.environ) -> int:
    token = environ.get("ATRIUM_FILESERVER_TOKEN", "")
    root = environ.get("ATRIUM_FILESERVER_ROOT", "")
    if len(token) < 32 or not root:
        print("atrium-fileserver: ATRIUM_FILESERVER_TOKEN (32+ characters) and ATRIUM_FILESERVER_ROOT are required", file=sys.stderr)
        return 2
    host = environ.get("ATRIUM_FILESERVER_HOST") or environ.get("POD_IP") or "0.0.0.0"
    port = int(environ.get("ATRIUM_FILESERVER_PORT") or 8080)
    idle = float(environ.get("ATRIUM_FILESERVER_IDLE_SECONDS") or 900)
    server = Server((host, port), token, Operations(Home(root)))
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    if idle > 0:
        threading.Thread(target=stop_when_idle, args=(server, idle), daemon=True).start()
    print(f"atrium-fileserver: serving on {host}:{port}", file=sys.stderr, flush=True)
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
