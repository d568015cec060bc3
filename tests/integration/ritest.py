"""Shared helpers of regindexer's integration tests.

Everything runs on loopback: a real docker-registry started per test class
in a temporary directory, filled with the project's test-data tool, and the
regindexer binaries from the build tree.
"""

import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import http.server

SOURCE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(SOURCE_DIR, "tools"))

import ri_testdata  # noqa: E402

BUILD_DIR = os.environ.get("REGINDEXER_BUILD_DIR", os.path.join(SOURCE_DIR, "build"))
CLI = os.environ.get("REGINDEXER_CLI", os.path.join(BUILD_DIR, "src", "cli", "regindexer"))
DAEMON = os.environ.get("REGINDEXER_DAEMON", os.path.join(BUILD_DIR, "src", "daemon", "regindexer-daemon"))
COMMAND_TIMEOUT = 120

# Each command gets a cache of its own unless a test hands one over: runs
# must not reuse what another test (or the developer's own runs) fetched.
_CACHE_ROOT = tempfile.mkdtemp(prefix="ri-test-caches-")
atexit.register(shutil.rmtree, _CACHE_ROOT, True)


def fresh_cache_dir():
    return tempfile.mkdtemp(dir=_CACHE_ROOT)


def skip_or_fail(reason):
    """The one way a test skips. CI sets REGINDEXER_TESTS_NO_SKIP=1: a
    missing dependency there is a broken CI set-up, never a silently
    skipped test."""
    if os.environ.get("REGINDEXER_TESTS_NO_SKIP"):
        raise RuntimeError(reason + " (and REGINDEXER_TESTS_NO_SKIP is set)")
    raise unittest.SkipTest(reason)


def require_root(reason):
    """For cases that need root (CI runs as root, so they run there)."""
    if os.geteuid() != 0:
        skip_or_fail("needs root: " + reason)


UNPRIVILEGED_USER = "nobody"


def unprivileged_command():
    """The argv prefix that runs a command without privileges: nothing when
    not root, setpriv to nobody when root (as in CI), so that cases about
    permissions run either way."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        skip_or_fail("setpriv is not installed (needed to drop root)")
    import pwd
    user = pwd.getpwnam(UNPRIVILEGED_USER)
    return [setpriv, "--reuid=%d" % user.pw_uid, "--regid=%d" % user.pw_gid, "--clear-groups",
            "--inh-caps=-all", "--bounding-set=-all", "--"]


def open_to_unprivileged(*paths):
    """Lets the unprivileged user reach PATHS (directories of a test's own):
    temporary directories are 0700."""
    for path in paths:
        os.chmod(path, os.stat(path).st_mode | 0o755)


def skip_unless_registry():
    if not os.path.exists("/usr/bin/docker-registry"):
        skip_or_fail("docker-registry is not installed")


def run_cli(*args, env=None, timeout=COMMAND_TIMEOUT, check=None, unprivileged=False):
    full_env = dict(os.environ)
    full_env.setdefault("LC_ALL", "C.UTF-8")
    # The daemon path is chosen only when asked; tests of the in-process
    # engine must never reach a daemon of the developer's session.
    full_env.setdefault("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")
    full_env.setdefault("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent")
    full_env["XDG_CACHE_HOME"] = fresh_cache_dir()
    if env:
        full_env.update(env)
    prefix = []
    if unprivileged:
        prefix = unprivileged_command()
        if prefix:
            open_to_unprivileged(_CACHE_ROOT)
            os.chmod(full_env["XDG_CACHE_HOME"], 0o777)
    result = subprocess.run(prefix + [CLI] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, env=full_env, timeout=timeout, text=True)
    if check is not None and result.returncode != check:
        raise AssertionError("regindexer %s exited %d, not %d\nstdout:\n%s\nstderr:\n%s" % (
            " ".join(args), result.returncode, check, result.stdout, result.stderr))
    return result


def python_layout(document):
    """The bytes the index format prescribes: what Python's json.dump
    (indent=4, sort_keys=True, ensure_ascii=False) gives, plus a newline."""
    return json.dumps(document, indent=4, sort_keys=True, ensure_ascii=False) + "\n"


class TempDirTestCase(unittest.TestCase):
    def setUp(self):
        super().setUp()
        self.tmp = tempfile.mkdtemp(prefix="ri-test-")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)

    def path(self, *parts):
        return os.path.join(self.tmp, *parts)

    def write_config(self, text, name="config.yaml"):
        path = self.path(name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def load(self, *parts):
        with open(self.path(*parts), "rb") as f:
            data = f.read()
        return json.loads(data), data.decode()


class RegistryTestCase(TempDirTestCase):
    """A test class with its own registry, started once for the class."""

    registry_extra_config = ""
    registry_access_log = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        skip_unless_registry()
        cls.registry_dir = tempfile.mkdtemp(prefix="ri-registry-")
        cls.registry = ri_testdata.Registry(cls.registry_dir, extra_config=cls.registry_extra_config,
                                            access_log=cls.registry_access_log)
        try:
            cls.registry.start()
        except Exception:
            shutil.rmtree(cls.registry_dir, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        cls.registry.stop()
        shutil.rmtree(cls.registry_dir, ignore_errors=True)
        super().tearDownClass()

    @classmethod
    def push(cls, entries):
        return ri_testdata.push(cls.registry.url, {"images": entries})["images"]


class LoopbackServer:
    """An HTTP server of the tests' own on 127.0.0.1, in a thread; with
    tls=(certificate, key), an HTTPS one."""

    def __init__(self, handler_class, tls=None):
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
        self.server.daemon_threads = True
        self.tls = tls
        if tls:
            import ssl
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return "%s://127.0.0.1:%d" % ("https" if self.tls else "http", self.server.server_address[1])

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


class QuietHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass


class StubServer(LoopbackServer):
    """Answers what a test chooses: for registries that misbehave in ways a
    real one won't."""

    def __init__(self, handler):
        outer = self
        self.requests = []

        class Handler(QuietHandler):
            def do_GET(self):
                outer.requests.append(self.path)
                status, headers, body = handler(self.path)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    try:
                        self.wfile.write(body)
                    except ConnectionError:
                        pass  # the client gave up on an oversized body

            do_HEAD = do_GET

        super().__init__(Handler)


def closed_port_url():
    """A loopback URL nothing listens on: a port reserved for this process
    (ri_testdata.free_port), so no parallel test starts a server there."""
    return "http://127.0.0.1:%d" % ri_testdata.free_port()


def wait_for(predicate, timeout=30, interval=0.05, message="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("timed out after %ss waiting for %s" % (timeout, message))


def _cases(suite):
    for test in suite:
        if isinstance(test, unittest.TestSuite):
            yield from _cases(test)
        else:
            yield test


def main():
    """Runs the cases named on the command line (Class.test_name), or all.
    --list prints the cases, one a line, for tests/meson.build (one meson
    test per case). Exits 77, meson's skip, when every case run skipped."""
    if sys.argv[1:] == ["--list"]:
        suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules["__main__"])
        for test in _cases(suite):
            print(test.id().split(".", 1)[1])
        return
    program = unittest.main(verbosity=2, exit=False)
    result = program.result
    if not result.wasSuccessful():
        sys.exit(1)
    # (A class skipped in setUpClass counts one skip and no case run.)
    if result.skipped and len(result.skipped) >= result.testsRun:
        sys.exit(77)


# --- D-Bus: a private bus, the daemon, and a client that records signals ---

def _gi():
    try:
        import gi
        gi.require_version("Gio", "2.0")
        from gi.repository import Gio, GLib
        return Gio, GLib
    except (ImportError, ValueError):
        skip_or_fail("python3-gi is not installed")


DBUS_NAME = "org.regindexer.Indexer"
DBUS_PATH = "/org/regindexer/Indexer"
DBUS_INTERFACE = "org.regindexer.Indexer"


class Bus:
    """A dbus-daemon of our own, on a socket in a temporary directory."""

    def __init__(self, directory, config_file=None):
        if not os.path.exists("/usr/bin/dbus-daemon"):
            skip_or_fail("dbus-daemon is not installed")
        os.makedirs(directory, exist_ok=True)
        args = ["/usr/bin/dbus-daemon", "--nofork", "--print-address=1"]
        if config_file:
            args.append("--config-file=" + config_file)
        else:
            args += ["--session", "--address=unix:dir=" + directory]
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                        stdin=subprocess.DEVNULL, text=True)
        self.address = self.process.stdout.readline().strip()
        if not self.address:
            self.process.wait(timeout=10)
            raise RuntimeError("dbus-daemon did not start (exit status %s)" % self.process.returncode)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process.stdout.close()


class Daemon:
    """regindexer-daemon from the build tree, logging to a file."""

    def __init__(self, bus, config, log_path, extra_args=(), extra_env=None):
        env = dict(os.environ)
        env.update({"DBUS_SESSION_BUS_ADDRESS": bus.address, "G_DEBUG": "fatal-criticals",
                    "G_MESSAGES_DEBUG": "all", "LC_ALL": "C.UTF-8", "XDG_CACHE_HOME": fresh_cache_dir(),
                    # Nor restore the models another test's daemon saved.
                    "XDG_STATE_HOME": fresh_cache_dir()})
        env.update(extra_env or {})
        self.log_path = log_path
        self.log = open(log_path, "ab")
        self.process = subprocess.Popen([DAEMON, "--session", "-c", config] + list(extra_args),
                                        stdout=self.log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, env=env)

    def stop(self, timeout=30):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
                raise AssertionError("regindexer-daemon did not stop within %ss of SIGTERM" % timeout)
        self.log.close()
        return self.process.returncode

    def output(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()


class Client:
    """A connection to the bus that calls the daemon and records its signals."""

    def __init__(self, address):
        self.Gio, self.GLib = _gi()
        Gio = self.Gio
        self.connection = Gio.DBusConnection.new_for_address_sync(
            address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
            Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
        self.signals = []
        self.subscription = self.connection.signal_subscribe(
            DBUS_NAME, None, None, DBUS_PATH, None, Gio.DBusSignalFlags.NONE, self._on_signal)

    def _on_signal(self, connection, sender, path, interface, name, parameters):
        self.signals.append((interface, name, parameters.unpack()))

    def close(self):
        self.connection.signal_unsubscribe(self.subscription)
        self.connection.close_sync(None)

    def iterate_until(self, predicate, timeout=60, message="condition"):
        context = self.GLib.MainContext.default()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = predicate()
            if result:
                return result
            context.iteration(False) or time.sleep(0.01)
        raise AssertionError("timed out after %ss waiting for %s" % (timeout, message))

    def call(self, method, signature=None, args=None, interface=DBUS_INTERFACE):
        GLib = self.GLib
        parameters = GLib.Variant(signature, args) if signature else None
        result = self.connection.call_sync(DBUS_NAME, DBUS_PATH, interface, method, parameters,
                                           None, self.Gio.DBusCallFlags.NONE, 30000, None)
        return result.unpack() if result is not None else None

    def call_error(self, method, signature=None, args=None):
        """Calls METHOD expecting an error; returns (D-Bus error name, message)."""
        try:
            self.call(method, signature, args)
        except self.GLib.Error as e:
            return self.Gio.DBusError.get_remote_error(e), e.message
        raise AssertionError("%s succeeded" % method)

    def reindex(self, indexes=()):
        return self.call("Reindex", "(asa{sv})", (list(indexes), {}))[0]

    def status(self):
        return self.call("GetStatus")[0]

    def wait_for_name(self, timeout=30):
        def owned():
            result = self.connection.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus",
                                               "org.freedesktop.DBus", "NameHasOwner",
                                               self.GLib.Variant("(s)", (DBUS_NAME,)), None,
                                               self.Gio.DBusCallFlags.NONE, 5000, None)
            return result.unpack()[0]
        self.iterate_until(owned, timeout, "the daemon to own its name")

    def finished(self, job):
        for interface, name, args in self.signals:
            if name == "ReindexFinished" and args[0] == job:
                return args
        return None

    def wait_finished(self, job, timeout=60):
        return self.iterate_until(lambda: self.finished(job), timeout, "ReindexFinished(%d)" % job)

    def wait_idle(self, timeout=60):
        """Waits until nothing runs or is queued, then handles every signal
        the daemon sent before saying so: the bus delivers a connection's
        messages in order, so after a reply, what came before it is queued
        here already."""
        def idle():
            status = self.status()
            return status if status["state"] == "idle" and status["pending-job"] == 0 else None
        self.iterate_until(idle, timeout, "the daemon to be idle")
        self.status()
        context = self.GLib.MainContext.default()
        while context.iteration(False):
            pass


class DaemonMixin:
    """A bus, a daemon and a client for each test."""

    def start_daemon(self, config_text, extra_args=(), wait=True, extra_env=None):
        self.config_path = self.write_config(config_text)
        self.bus = Bus(self.path("bus"))
        self.addCleanup(self.bus.stop)
        # Subscribed before the daemon starts, so that no signal is missed.
        self.client = Client(self.bus.address)
        self.addCleanup(self.client.close)
        self.daemon = Daemon(self.bus, self.config_path, self.path("daemon.log"), extra_args, extra_env)
        self.addCleanup(self._stop_daemon)
        if wait:
            self.client.wait_for_name()
            self.client.wait_idle()
        return self.daemon

    def _stop_daemon(self):
        status = self.daemon.stop()
        output = self.daemon.output()
        # Criticals abort the daemon (G_DEBUG=fatal-criticals); say so.
        if "CRITICAL" in output or status not in (0, None):
            raise AssertionError("regindexer-daemon exited %s:\n%s" % (status, output))


class DaemonTestCase(DaemonMixin, RegistryTestCase):
    """A registry for the class; a bus, a daemon and a client for each test."""


class BareDaemonTestCase(DaemonMixin, TempDirTestCase):
    """A bus, a daemon and a client for each test, and no registry: the
    test brings its own (one that is down at first, say)."""
