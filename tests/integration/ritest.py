"""Shared helpers of regindexer's integration tests.

Everything runs on loopback: a real docker-registry started per test class
in a temporary directory, filled with the project's test-data tool, and the
regindexer binaries from the build tree.
"""

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


def skip_or_fail(reason):
    """CI sets REGINDEXER_TESTS_NO_SKIP=1: a missing dependency there is a
    broken CI set-up, never a silently skipped test."""
    if os.environ.get("REGINDEXER_TESTS_NO_SKIP"):
        raise RuntimeError(reason + " (and REGINDEXER_TESTS_NO_SKIP is set)")
    raise unittest.SkipTest(reason)


def skip_unless_registry():
    if not os.path.exists("/usr/bin/docker-registry"):
        skip_or_fail("docker-registry is not installed")


def run_cli(*args, env=None, timeout=COMMAND_TIMEOUT, check=None):
    full_env = dict(os.environ)
    full_env.setdefault("LC_ALL", "C.UTF-8")
    # The daemon path is chosen only when asked; tests of the in-process
    # engine must never reach a daemon of the developer's session.
    full_env.setdefault("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")
    full_env.setdefault("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent")
    if env:
        full_env.update(env)
    result = subprocess.run([CLI] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
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


class StubServer:
    """An HTTP server on loopback whose answers a test chooses: for
    registries that misbehave in ways a real one won't."""

    def __init__(self, handler):
        outer = self
        self.requests = []

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

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

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.server.server_address[1]

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def closed_port_url():
    """A loopback URL nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return "http://127.0.0.1:%d" % port


def wait_for(predicate, timeout=30, interval=0.05, message="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("timed out after %ss waiting for %s" % (timeout, message))


def main():
    unittest.main(verbosity=2)
