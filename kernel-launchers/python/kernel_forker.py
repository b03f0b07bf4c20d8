"""Atrium's kernel forker: local ipykernels in tens of milliseconds instead of a few hundred.

Most of a new ipykernel's start is Python importing ipykernel, IPython, zmq and tornado (about 200 ms of
270 on a 2-core machine). This process imports them once and then forks: each child becomes a kernel
exactly as `python -m ipykernel_launcher <args>` would, in its own session (process group), with the
working directory, the environment and the arguments of the request, the standard signal dispositions
of a fresh interpreter, stdin and stdout on /dev/null and stderr on a pipe whose lines are relayed to
the portal. Nothing runs in this process after the imports but the loop below: no thread, no zmq
context, no event loop exists when it forks (checked at start: otherwise it refuses to serve).

The portal (server/kernels/launchers/kernel-forker.ts) talks to it in JSON lines.
  stdin:  {"op": "fork", "id": 1, "args": ["-f", "/run/kernel-x.json"], "env": {...}, "cwd": "/home/a"}
  stdout: {"event": "ready", "pid": 10, "watch": ["/venv/lib/python3.11/site-packages", ...]}
          {"event": "forked", "id": 1, "pid": 11}  |  {"event": "fork_failed", "id": 1, "error": "..."}
          {"event": "stderr", "pid": 11, "data": "..."}
          {"event": "exit", "pid": 11, "code": 0, "signal": null}
It ends when its stdin closes (the portal is gone); kernels it forked keep running, as spawned ones do.

Forked kernels share what an interpreter fixes as it starts: the str hash seed and the memory layout (ASLR) of
the forker. Local kernels already run as the portal's one OS user, able to read each other's memory, so this
separates analysts no less than spawning did; kernels that must be kept apart run on YARN or Kubernetes.
"""

import ctypes
import json
import runpy
import os
import selectors
import signal
import site
import sys
import threading
import traceback

# What a kernel imports as it starts; imported here once, before any fork. The debugger (debugpy's pydevd) is most
# of a kernel's own initialisation once the rest is imported; it starts no thread on import.
import ipykernel.debugger  # noqa: F401
import ipykernel.ipkernel  # noqa: F401
import ipykernel.kernelapp
import ipykernel.zmqshell  # noqa: F401

PROTOCOL_IN = 0
PROTOCOL_OUT = 1
READ_CHUNK = 65536
# The portal starts this script with a padding argument: room for each kernel's own command line (see set_command_line).
COMMAND_LINE_SPACE = (0, 0)
# The environment this process was given, and what its start and imports added to it (see kernel_environment).
STARTUP_GIVEN = {}
STARTUP_ADDED = {}


class Forker:
    def __init__(self):
        self.selector = selectors.DefaultSelector()
        self.wake_read, self.wake_write = os.pipe()
        os.set_blocking(self.wake_read, False)
        os.set_blocking(self.wake_write, False)
        self.stderr_of = {}  # pid -> read end of the kernel's stderr pipe
        self.request_buffer = b""

    def send(self, event):
        data = (json.dumps(event) + "\n").encode()
        while data:
            written = os.write(PROTOCOL_OUT, data)
            data = data[written:]

    def run(self):
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a ^C in the portal's terminal ends the portal; stdin then closes
        signal.set_wakeup_fd(self.wake_write, warn_on_full_buffer=False)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # the wakeup fd carries it to the loop
        self.selector.register(PROTOCOL_IN, selectors.EVENT_READ, "requests")
        self.selector.register(self.wake_read, selectors.EVENT_READ, "wake")
        self.send({"event": "ready", "pid": os.getpid(), "watch": site_packages()})
        while True:
            for key, _ in self.selector.select():
                # One event that goes wrong must not end the forker every kernel start relies on: said, and served on.
                try:
                    if key.data == "requests":
                        if not self.read_requests():
                            return
                    elif key.data == "wake":
                        drain(self.wake_read)
                        self.reap()
                    else:
                        self.relay_stderr(key.data)
                except Exception:  # noqa: BLE001 - see above
                    traceback.print_exc()

    def read_requests(self):
        chunk = os.read(PROTOCOL_IN, READ_CHUNK)
        if not chunk:
            return False
        self.request_buffer += chunk
        while b"\n" in self.request_buffer:
            line, self.request_buffer = self.request_buffer.split(b"\n", 1)
            if line.strip():
                self.handle(line)
        return True

    def handle(self, line):
        try:
            request = json.loads(line)
            request_id = request["id"]
        except (ValueError, KeyError, TypeError) as error:
            self.send({"event": "bad_request", "error": str(error)})
            return
        # fork_failed promises that nothing was forked: only what comes before os.fork() may fail with it.
        try:
            args = [str(arg) for arg in request["args"]]
            title = command_line([sys.executable, "-m", "ipykernel_launcher", *args])
            if len(title) >= COMMAND_LINE_SPACE[1] - COMMAND_LINE_SPACE[0]:
                raise ValueError("the kernel's command line is longer than the space the forker reserved for it")
            env = kernel_environment({str(k): str(v) for k, v in request["env"].items()})
            cwd = request.get("cwd") or None
            stderr_read, stderr_write = os.pipe()
            pid = os.fork()
        except Exception as error:  # noqa: BLE001 - any failure goes back to the request
            self.send({"event": "fork_failed", "id": request_id, "error": f"{type(error).__name__}: {error}"})
            return
        if pid == 0:
            os.close(stderr_read)
            self.become_kernel(args, env, cwd, stderr_write, title)  # never returns
        self.send({"event": "forked", "id": request_id, "pid": pid})
        os.close(stderr_write)
        os.set_blocking(stderr_read, False)
        self.stderr_of[pid] = stderr_read
        self.selector.register(stderr_read, selectors.EVENT_READ, pid)

    def become_kernel(self, args, env, cwd, stderr_write, title):
        """In the child: shed the forker, then run ipykernel as `python -m ipykernel_launcher` would.

        Never returns into the loop: the kernel's end leaves as SystemExit through main(), so the interpreter
        exits as a spawned kernel's would (threads joined, atexit hooks run, streams flushed).
        """
        try:
            os.setsid()
            signal.set_wakeup_fd(-1)
            for number in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
                signal.signal(number, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            self.selector.close()
            for fd in [self.wake_read, self.wake_write, *self.stderr_of.values()]:
                os.close(fd)
            null = os.open(os.devnull, os.O_RDWR)
            os.dup2(null, 0)
            os.dup2(null, 1)
            os.dup2(stderr_write, 2)
            os.close(null)
            os.close(stderr_write)
            if cwd:
                os.chdir(cwd)
            os.environ.clear()
            os.environ.update(env)
            # As `-m` leaves them before the module runs: the working directory first on the path (ipykernel_launcher
            # itself takes it off again), the arguments after the module's name.
            sys.path[0] = os.getcwd()
            sys.argv = ["-m", *args]
            sys.orig_argv = [sys.executable, "-m", "ipykernel_launcher", *args]
            # What `ps` shows and the portal's orphan sweep reads: the command line a spawned kernel would have.
            set_command_line(title)
        except BaseException:  # noqa: BLE001 - nothing of a kernel to finish yet
            traceback.print_exc()
            os._exit(1)
        try:
            runpy.run_module("ipykernel_launcher", run_name="__main__", alter_sys=True)
        except SystemExit:
            raise
        except BaseException:  # noqa: BLE001 - as an uncaught exception ends an interpreter
            traceback.print_exc()
            raise SystemExit(1) from None
        raise SystemExit(0)

    def relay_stderr(self, pid):
        fd = self.stderr_of.get(pid)
        if fd is None:
            return
        try:
            data = os.read(fd, READ_CHUNK)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            self.send({"event": "stderr", "pid": pid, "data": data.decode("utf-8", "replace")})
            return
        self.close_stderr(pid)

    def close_stderr(self, pid):
        fd = self.stderr_of.pop(pid, None)
        if fd is not None:
            self.selector.unregister(fd)
            os.close(fd)

    def reap(self):
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if os.WIFSIGNALED(status):
                event = {"event": "exit", "pid": pid, "code": None, "signal": signal_name(os.WTERMSIG(status))}
            else:
                event = {"event": "exit", "pid": pid, "code": os.waitstatus_to_exitcode(status), "signal": None}
            # What it wrote last is sent before its exit; a grandchild may hold the pipe open, so only what is there now.
            fd = self.stderr_of.get(pid)
            if fd is not None:
                while True:
                    try:
                        data = os.read(fd, READ_CHUNK)
                    except (BlockingIOError, OSError):
                        break
                    if not data:
                        break
                    self.send({"event": "stderr", "pid": pid, "data": data.decode("utf-8", "replace")})
            self.close_stderr(pid)
            self.send(event)


def signal_name(number):
    """SIGKILL, SIGSEGV...; the real-time signals, which Python's Signals does not name, as Linux's kill -l does."""
    try:
        return signal.Signals(number).name
    except ValueError:
        low, high = getattr(signal, "SIGRTMIN", 0), getattr(signal, "SIGRTMAX", -1)
        return f"SIGRTMIN+{number - low}" if low <= number <= high else f"signal {number}"


def kernel_environment(requested):
    """The request's environment, plus what this interpreter's own start and imports added to the one it was given
    (locale coercion's LC_CTYPE, debugpy's settings): a spawned kernel, started with the same startup variables
    (the portal checks them), would have added the same. A variable the request sets otherwise keeps its value."""
    env = dict(requested)
    for name, value in STARTUP_ADDED.items():
        if env.get(name) == STARTUP_GIVEN.get(name):
            env[name] = value
    return env


def command_line_area():
    """Where this process's argv strings live (/proc/self/stat fields 48 and 49: arg_start, arg_end)."""
    with open("/proc/self/stat", "rb") as stat:
        text = stat.read()
    fields = text[text.rindex(b")") + 2 :].split()  # fields from the third (state) on
    return int(fields[45]), int(fields[46])


def command_line(words):
    return " ".join(words).encode()


def set_command_line(title):
    """Rewrites /proc/self/cmdline in place, as setproctitle(3) does: the title, then NULs, and a last byte that is
    not NUL, by which Linux reads the area as one title up to its first NUL (so it shows no padding). One string with
    spaces, as `ps` shows it; the portal's orphan sweep finds the connection file in it either way."""
    start, end = COMMAND_LINE_SPACE
    if len(title) >= end - start:
        raise ValueError("command line longer than the reserved space")
    ctypes.memmove(start, title + b"\0" * (end - start - len(title) - 1) + b" ", end - start)


def drain(fd):
    try:
        while os.read(fd, READ_CHUNK):
            pass
    except BlockingIOError:
        pass


def site_packages():
    """Where installed packages live: the portal starts a new forker when one of these changes (pip install), or
    appears (the user's site-packages, made by a first `pip install --user`)."""
    paths = [*site.getsitepackages()]
    if site.ENABLE_USER_SITE:
        paths.append(site.getusersitepackages())
    return paths


def main():
    global COMMAND_LINE_SPACE, STARTUP_GIVEN, STARTUP_ADDED
    COMMAND_LINE_SPACE = command_line_area()
    set_command_line(command_line([sys.executable, os.path.abspath(sys.argv[0])]))
    with open("/proc/self/environ", "rb") as given:  # the environment as exec'd, before Python's start changed it
        STARTUP_GIVEN = dict(entry.decode("utf-8", "surrogateescape").split("=", 1) for entry in given.read().split(b"\0") if b"=" in entry)
    STARTUP_ADDED = {name: value for name, value in os.environ.items() if STARTUP_GIVEN.get(name) != value}
    threads = len(os.listdir("/proc/self/task"))  # Python's threads and any a C extension started
    if threading.active_count() != 1 or threads != 1:
        sys.stderr.write(f"kernel forker: {threads} threads after imports; forking is unsafe, not serving\n")
        return 2
    Forker().run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
