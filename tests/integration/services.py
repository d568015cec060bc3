"""Services the registry tests put around the real registry: a CA made with
openssl, a token service the registry trusts, a fault-injecting proxy, and
a real forward proxy."""

import base64
import http.client
import json
import os
import re
import socket
import struct
import subprocess
import threading
import time
import urllib.parse
import uuid

import ritest
from ritest import ri_testdata


def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=60)


def make_ca(directory):
    """A CA and a certificate for 127.0.0.1 signed by it; returns paths."""
    if not os.path.exists("/usr/bin/openssl"):
        ritest.skip_or_fail("openssl is not installed")
    os.makedirs(directory, exist_ok=True)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
            "-days", "2", "-subj", "/CN=regindexer test CA", cwd=directory)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=127.0.0.1", cwd=directory)
    with open(os.path.join(directory, "san.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.pem", "-days", "2", "-extfile", "san.ext", cwd=directory)
    # A client certificate for registries that ask for one.
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "client.key", "-out", "client.csr",
            "-subj", "/CN=regindexer test client", cwd=directory)
    with open(os.path.join(directory, "client.ext"), "w") as f:
        f.write("extendedKeyUsage=clientAuth\n")
    openssl("x509", "-req", "-in", "client.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "client.pem", "-days", "2", "-extfile", "client.ext", cwd=directory)
    return {name: os.path.join(directory, name)
            for name in ("ca.pem", "server.pem", "server.key", "client.pem", "client.key")}


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenService(ritest.LoopbackServer):
    """Issues registry tokens (RS256 JWTs, key and certificate made with
    openssl, signed by `openssl dgst`) the way Distribution's token auth
    expects. Anonymous callers get pull access to repositories only;
    USERS (name → password) get everything they ask for."""

    SERVICE = "regindexer-test"
    ISSUER = "regindexer-test-issuer"

    def __init__(self, directory, users=None, lifetime=300):
        os.makedirs(directory, exist_ok=True)
        self.directory = directory
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "token.key", "-out", "token.pem",
                "-days", "2", "-subj", "/CN=regindexer test token signer", cwd=directory)
        self.key = os.path.join(directory, "token.key")
        self.certificate = os.path.join(directory, "token.pem")
        der = subprocess.run(["openssl", "x509", "-in", self.certificate, "-outform", "DER"],
                             stdout=subprocess.PIPE, check=True, timeout=60).stdout
        self.x5c = base64.b64encode(der).decode()
        self.users = users or {}
        self.lifetime = lifetime
        self.issued = []           # (user, scope) per token
        self.refused = 0
        self.expire_first = set()  # scopes whose first token is issued already expired
        self.lock = threading.Lock()
        service = self

        class Handler(ritest.QuietHandler):
            def do_GET(self):
                status, body = service.handle(self.path, self.headers.get("Authorization"))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        super().__init__(Handler)

    @property
    def realm(self):
        return "http://127.0.0.1:%d/token" % self.server.server_address[1]

    def registry_config(self):
        return ("auth:\n  token:\n    realm: %s\n    service: %s\n    issuer: %s\n    rootcertbundle: %s\n"
                % (self.realm, self.SERVICE, self.ISSUER, self.certificate))

    def sign(self, claims):
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]}
        signing_input = (b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())).encode()
        signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", self.key], input=signing_input,
                                   stdout=subprocess.PIPE, check=True, timeout=60).stdout
        return signing_input.decode() + "." + b64url(signature)

    def handle(self, path, authorization):
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
        user = ""
        if authorization:
            try:
                name, _, password = base64.b64decode(authorization.split(" ", 1)[1]).decode().partition(":")
            except Exception:
                name, password = None, None
            if self.users.get(name) != password or name is None:
                with self.lock:
                    self.refused += 1
                return 401, {"errors": [{"code": "UNAUTHORIZED", "message": "bad credentials"}]}
            user = name
        access = []
        scopes = query.get("scope", [])
        for scope in scopes:
            kind, name, actions = scope.split(":", 2) if scope.count(":") >= 2 else (scope, "", "")
            granted = actions.split(",") if user else [a for a in actions.split(",") if a == "pull"]
            if kind == "registry" and not user:
                granted = []
            if granted:
                access.append({"type": kind, "name": name, "actions": granted})
        now = int(time.time())
        scope_key = " ".join(scopes)
        with self.lock:
            expired = scope_key in self.expire_first
            self.expire_first.discard(scope_key)
            self.issued.append((user, scope_key))
        claims = {"iss": self.ISSUER, "sub": user, "aud": self.SERVICE, "exp": now - 60 if expired else now + self.lifetime,
                  "nbf": now - 120, "iat": now - 120, "jti": str(uuid.uuid4()), "access": access}
        return 200, {"token": self.sign(claims), "expires_in": self.lifetime, "issued_at": time.strftime(
            "%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))}


class FaultProxy(ritest.LoopbackServer):
    """An HTTP proxy in front of the real registry that misbehaves on
    request: each rule is (path regex, fault, count) and applies to that
    many matching requests (None: all of them). Faults:
      ("status", code, headers)  answer with that status instead
      ("stall",)                 send headers, then nothing until closed
      ("cut",)                   send half of the body, then close
      ("reset",)                 send half of the body, then reset the connection
      ("garbage",)               replace the body with junk of the same length
      ("redirect", url)          answer 307 to url + the request path
    Every request is recorded with its headers, and the connection it
    came on."""

    def __init__(self, upstream_port, upstream_headers=None, delay=0, tls=None):
        self.upstream_port = upstream_port
        self.upstream_headers = upstream_headers or {}
        self.delay = delay
        self.in_flight = 0
        self.max_in_flight = 0
        self.rules = []
        self.requests = []
        self.connections = set()  # client (address, port) of every request
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        proxy = self

        class Handler(ritest.QuietHandler):
            def handle_one(self):
                proxy.serve(self)

            do_GET = handle_one
            do_HEAD = handle_one

        super().__init__(Handler, tls=tls)

    def add(self, pattern, fault, count=1):
        with self.lock:
            self.rules.append([re.compile(pattern), fault, count])

    def fault_for(self, path):
        with self.lock:
            for rule in self.rules:
                if rule[0].search(path) and (rule[2] is None or rule[2] > 0):
                    if rule[2] is not None:
                        rule[2] -= 1
                    return rule[1]
        return None

    def count(self, pattern):
        return len([p for p, _ in self.requests if re.search(pattern, p)])

    def serve(self, handler):
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                time.sleep(self.delay)
            self.serve_one(handler)
        finally:
            with self.lock:
                self.in_flight -= 1

    def serve_one(self, handler):
        path = handler.path
        with self.lock:
            self.requests.append((path, dict(handler.headers)))
            self.connections.add(handler.client_address)
        fault = self.fault_for(path)
        if fault and fault[0] == "status":
            body = b'{"errors":[{"code":"INJECTED","message":"injected fault"}]}'
            handler.send_response(fault[1])
            for name, value in (fault[2] if len(fault) > 2 else {}).items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            if handler.command != "HEAD":
                handler.wfile.write(body)
            return
        if fault and fault[0] == "redirect":
            handler.send_response(307)
            handler.send_header("Location", fault[1] + path)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return

        upstream = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=30)
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in ("host", "connection")}
        headers.update(self.upstream_headers)
        upstream.request(handler.command, path, headers=headers)
        response = upstream.getresponse()
        body = response.read()
        upstream.close()

        handler.send_response(response.status)
        for name, value in response.getheaders():
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if handler.command == "HEAD":
            return
        try:
            if fault and fault[0] == "stall":
                self.stop_event.wait(120)
                handler.close_connection = True
                return
            if fault and fault[0] == "cut":
                handler.wfile.write(body[: len(body) // 2])
                handler.wfile.flush()
                handler.connection.shutdown(socket.SHUT_RDWR)
                handler.close_connection = True
                return
            if fault and fault[0] == "reset":
                handler.wfile.write(body[: len(body) // 2])
                handler.wfile.flush()
                # Linger 0: the close sends a RST, as a load balancer
                # dropping the connection does (no TLS close_notify).
                handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                os.close(handler.connection.detach())
                handler.close_connection = True
                return
            if fault and fault[0] == "garbage":
                body = b"x" * len(body)
            handler.wfile.write(body)
        except OSError:
            handler.close_connection = True

    def close(self):
        self.stop_event.set()
        super().close()


class TinyProxy:
    """Debian's tinyproxy on loopback: a real forward proxy, for plain
    requests in absolute form and CONNECT tunnels. With credentials, it
    asks for Basic authentication."""

    def __init__(self, directory, credentials=None, connect_ports=None):
        if not os.path.exists("/usr/bin/tinyproxy"):
            ritest.skip_or_fail("tinyproxy is not installed")
        self.directory = directory
        self.port = ri_testdata.free_port()
        self.log_path = os.path.join(directory, "tinyproxy.log")
        config = os.path.join(directory, "tinyproxy.conf")
        with open(config, "w") as f:
            f.write("Port %d\nListen 127.0.0.1\nTimeout 30\nMaxClients 50\nAllow 127.0.0.1\n"
                    "LogFile \"%s\"\nLogLevel Info\nDisableViaHeader Yes\n" % (self.port, self.log_path))
            if credentials:
                f.write("BasicAuth %s %s\n" % credentials)
            for port in connect_ports or ():
                f.write("ConnectPort %d\n" % port)
        self.process = subprocess.Popen(["/usr/bin/tinyproxy", "-d", "-c", config],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def listening():
            if self.process.poll() is not None:
                raise AssertionError("tinyproxy exited %d; see %s" % (self.process.returncode, self.log_path))
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", self.port)) == 0

        ritest.wait_for(listening, timeout=20, message="tinyproxy on port %d" % self.port)

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def close(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
