#!/usr/bin/python3
"""Real registries: TLS with a private CA, Basic and token authentication,
faults from a proxy in front of the real registry, and registries whose
catalog is refused."""

import base64
import json
import os
import shutil
import signal
import subprocess
import threading
import time

import ritest
import services
from ritest import ri_testdata

IMAGES = [
    {"repository": "app", "tags": ["latest"], "labels": {"org.flatpak.ref": "app/org.example.App/x86_64/stable"}},
    {"repository": "team/tool", "tags": ["latest", "v1"], "labels": {"kind": "tool"}},
]


def names(document):
    return [r["Name"] for r in document["Results"]]


class AuthTestCase(ritest.TempDirTestCase):
    """A registry of the class's own, set up by the subclass."""

    registry = None

    @classmethod
    def start_registry(cls, extra_config="", tls=None):
        ritest.skip_unless_registry()
        cls.registry = ri_testdata.Registry(cls.class_dir("registry"), extra_config=extra_config, tls=tls)
        cls.registry.start()

    @classmethod
    def class_dir(cls, name):
        path = os.path.join(cls.tmp_class, name)
        os.makedirs(path, exist_ok=True)
        return path

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        import tempfile
        cls.tmp_class = tempfile.mkdtemp(prefix="ri-registries-")

    @classmethod
    def tearDownClass(cls):
        if cls.registry is not None:
            cls.registry.stop()
        shutil.rmtree(cls.tmp_class, ignore_errors=True)
        super().tearDownClass()

    def index(self, registry_settings="", url=None, check=0, extra_args=()):
        url = url or self.registry.url
        text = "indexes:\n  all:\n    output: out/all.json\n    registry: %s\n    tags: ['*']\n" % url
        if registry_settings:
            text += "registries:\n  %s:\n%s" % (url, registry_settings)
        config = self.write_config(text)
        return ritest.run_cli("-v", "-c", config, "index", *extra_args, check=check)

    def secret_file(self, name, content, mode=0o600):
        path = self.path(name)
        with open(path, "w") as f:
            f.write(content + "\n")
        os.chmod(path, mode)
        return path


class TlsTest(AuthTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ca = services.make_ca(cls.class_dir("ca"))
        cls.start_registry(tls=(cls.ca["server.pem"], cls.ca["server.key"]))
        ri_testdata.push(cls.registry.url, {"images": [dict(i) for i in IMAGES]}, cafile=cls.ca["ca.pem"])

    def test_private_ca(self):
        self.assertTrue(self.registry.url.startswith("https://"))
        self.index("    ca_certificate: %s\n" % self.ca["ca.pem"])
        document, _ = self.load("out", "all.json")
        self.assertEqual(names(document), ["app", "team/tool"])

    def test_unknown_ca_fails_clearly(self):
        result = self.index(check=1)
        self.assertIn(self.registry.url + "/v2/_catalog?n=1000: TLS:", result.stderr)
        self.assertIn("set ca_certificate for %s under 'registries:'" % self.registry.url, result.stderr)
        self.assertFalse(os.path.exists(self.path("out", "all.json")))

    def test_verification_off_is_loud(self):
        result = self.index("    tls_verify: false\n")
        self.assertIn("TLS certificates of %s are NOT verified" % self.registry.url, result.stderr)
        document, _ = self.load("out", "all.json")
        self.assertEqual(names(document), ["app", "team/tool"])

    def test_missing_ca_file(self):
        result = self.index("    ca_certificate: nope.pem\n", check=2)
        self.assertIn("'ca_certificate' names '%s', which is not a readable file" % self.path("nope.pem"),
                      result.stderr)


class ClientCertificateTest(AuthTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ca = services.make_ca(cls.class_dir("ca"))
        ritest.skip_unless_registry()
        cls.registry = ri_testdata.Registry(cls.class_dir("registry"),
                                            tls=(cls.ca["server.pem"], cls.ca["server.key"], cls.ca["ca.pem"]))
        cls.registry.probe_client_cert = (cls.ca["client.pem"], cls.ca["client.key"])
        cls.registry.start()
        ri_testdata.push(cls.registry.url, {"images": [dict(i) for i in IMAGES]}, cafile=cls.ca["ca.pem"],
                         client_cert=(cls.ca["client.pem"], cls.ca["client.key"]))

    def test_with_client_certificate(self):
        self.index("    ca_certificate: %s\n    client_certificate: %s\n    client_key: %s\n"
                   % (self.ca["ca.pem"], self.ca["client.pem"], self.ca["client.key"]))
        document, _ = self.load("out", "all.json")
        self.assertEqual(names(document), ["app", "team/tool"])

    def test_without_client_certificate(self):
        result = self.index("    ca_certificate: %s\n" % self.ca["ca.pem"], check=1)
        self.assertIn(self.registry.url + "/v2/_catalog?n=1000: TLS:", result.stderr)
        self.assertIn("does the registry want a client_certificate?", result.stderr)

    def test_key_without_certificate(self):
        result = self.index("    client_key: %s\n" % self.ca["client.key"], check=2)
        self.assertIn("'client_certificate' and 'client_key' go together", result.stderr)


class BasicAuthTest(AuthTestCase):
    USER, PASSWORD = "alice", "s3cret-basic-pw"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not shutil.which("htpasswd"):
            ritest.skip_or_fail("htpasswd (apache2-utils) is not installed")
        htpasswd = os.path.join(cls.class_dir("auth"), "htpasswd")
        line = subprocess.run(["htpasswd", "-Bbn", cls.USER, cls.PASSWORD], stdout=subprocess.PIPE, text=True,
                              check=True, timeout=60).stdout
        with open(htpasswd, "w") as f:
            f.write(line)
        cls.start_registry("auth:\n  htpasswd:\n    realm: regindexer-test\n    path: %s\n" % htpasswd)
        ri_testdata.push(cls.registry.url, {"images": [dict(i) for i in IMAGES]},
                         username=cls.USER, password=cls.PASSWORD)

    def assert_no_secret(self, result):
        self.assertNotIn(self.PASSWORD, result.stdout + result.stderr)
        self.assertNotIn(base64.b64encode(("%s:%s" % (self.USER, self.PASSWORD)).encode()).decode(),
                         result.stdout + result.stderr)

    def test_password_file(self):
        secret = self.secret_file("password", self.PASSWORD)
        result = self.index("    username: %s\n    password_file: %s\n" % (self.USER, secret))
        self.assert_no_secret(result)
        document, _ = self.load("out", "all.json")
        self.assertEqual(names(document), ["app", "team/tool"])
        self.assertNotIn("other users may read it", result.stderr)

    def test_auth_file(self):
        auth = {"auths": {self.registry.url.split("//")[1]: {
            "auth": base64.b64encode(("%s:%s" % (self.USER, self.PASSWORD)).encode()).decode()}}}
        path = self.secret_file("auth.json", json.dumps(auth))
        result = self.index("    auth_file: %s\n" % path)
        self.assert_no_secret(result)
        document, _ = self.load("out", "all.json")
        self.assertEqual(names(document), ["app", "team/tool"])

    def test_default_auth_file(self):
        auth = {"auths": {self.registry.url.split("//")[1]: {
            "auth": base64.b64encode(("%s:%s" % (self.USER, self.PASSWORD)).encode()).decode()}}}
        path = self.secret_file("containers-auth.json", json.dumps(auth))
        config = self.write_config("indexes:\n  all:\n    output: out/all.json\n    registry: %s\n"
                                   "    tags: ['*']\n" % self.registry.url)
        result = ritest.run_cli("-c", config, "index", check=0, env={"REGISTRY_AUTH_FILE": path})
        self.assert_no_secret(result)

    def test_wrong_password(self):
        secret = self.secret_file("password", "not-the-password")
        result = self.index("    username: %s\n    password_file: %s\n" % (self.USER, secret), check=1)
        self.assertIn("401 unauthorized: the registry refused the credentials for user 'alice'", result.stderr)
        self.assertIn(self.registry.url + "/v2/_catalog", result.stderr)
        self.assertNotIn("not-the-password", result.stderr + result.stdout)

    def test_no_credentials(self):
        result = self.index(check=1, extra_args=())
        self.assertIn("the registry asks for a user and password, and none is configured", result.stderr)

    def test_exposed_password_file(self):
        secret = self.secret_file("password", self.PASSWORD, mode=0o644)
        result = self.index("    username: %s\n    password_file: %s\n" % (self.USER, secret))
        self.assertIn("'%s' holds a secret but other users may read it" % secret, result.stderr)


class TokenAuthTest(AuthTestCase):
    USER, PASSWORD = "bob", "t0ken-pw"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tokens = services.TokenService(cls.class_dir("tokens"), users={cls.USER: cls.PASSWORD})
        try:
            cls.start_registry(cls.tokens.registry_config())
            ri_testdata.push(cls.registry.url, {"images": [dict(i) for i in IMAGES]},
                             username=cls.USER, password=cls.PASSWORD)
        except Exception:
            cls.tokens.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.tokens.close()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        with self.tokens.lock:
            self.tokens.issued.clear()
            self.tokens.refused = 0

    def credentials(self):
        return "    username: %s\n    password_file: %s\n" % (self.USER, self.secret_file("pw", self.PASSWORD))

    def test_credentialed_tokens_are_reused_per_scope(self):
        result = self.index(self.credentials())
        document, _ = self.load("out", "all.json")
        self.assertEqual(names(document), ["app", "team/tool"])
        scopes = sorted(scope for user, scope in self.tokens.issued)
        self.assertEqual(scopes, ["registry:catalog:*", "repository:app:pull", "repository:team/tool:pull"])
        self.assertTrue(all(user == self.USER for user, _ in self.tokens.issued))
        self.assertNotIn(self.PASSWORD, result.stdout + result.stderr)

    def test_anonymous_pull_with_named_repositories(self):
        self.index("    repositories: ['app', 'team/tool']\n")
        document, _ = self.load("out", "all.json")
        self.assertEqual(names(document), ["app", "team/tool"])
        self.assertNotIn("registry:catalog:*", [scope for _, scope in self.tokens.issued])

    def test_anonymous_catalog_is_refused(self):
        result = self.index(check=1)
        self.assertIn(self.registry.url + "/v2/_catalog", result.stderr)
        self.assertIn("401 unauthorized: the registry refused the token for anonymous access", result.stderr)

    def test_refused_catalog_falls_back_to_literal_names(self):
        result = self.index("    repositories: ['app', 'team/*']\n")
        self.assertIn("indexing only the repositories named literally", result.stderr)
        document, _ = self.load("out", "all.json")
        self.assertEqual(names(document), ["app"])

    def test_wrong_password(self):
        result = self.index("    username: %s\n    password_file: %s\n" % (self.USER, self.secret_file("pw", "wrong")),
                            check=1)
        self.assertIn("the token realm refused for user 'bob'", result.stderr)
        self.assertIn("getting a token from %s" % self.tokens.realm, result.stderr)
        self.assertGreater(self.tokens.refused, 0)

    def test_expired_token_is_renewed(self):
        with self.tokens.lock:
            self.tokens.expire_first.add("repository:app:pull")
        self.index(self.credentials())
        document, _ = self.load("out", "all.json")
        self.assertEqual(names(document), ["app", "team/tool"])
        self.assertEqual([scope for _, scope in self.tokens.issued].count("repository:app:pull"), 2)


class FaultTest(AuthTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.start_registry()
        ri_testdata.push(cls.registry.url, {"images": [dict(i) for i in IMAGES]})

    def setUp(self):
        super().setUp()
        self.proxy = services.FaultProxy(self.registry.port)
        self.addCleanup(self.proxy.close)

    def run_through_proxy(self, settings="    timeout: 2\n    retries: 2\n", check=0):
        return self.index(settings, url=self.proxy.url, check=check)

    def assert_complete(self):
        document, _ = self.load("out", "all.json")
        self.assertEqual(names(document), ["app", "team/tool"])
        self.assertEqual(document["Registry"], self.proxy.url + "/")

    def test_server_error_then_success(self):
        self.proxy.add(r"/manifests/latest$", ("status", 500), count=1)
        self.run_through_proxy()
        self.assert_complete()
        self.assertEqual(self.proxy.count(r"/v2/app/manifests/latest$") + self.proxy.count(r"/v2/team/tool/manifests/latest$"), 3)

    def test_rate_limit_with_retry_after(self):
        self.proxy.add(r"/v2/app/tags/list", ("status", 429, {"Retry-After": "1"}), count=1)
        result = self.run_through_proxy()
        self.assertIn("HTTP 429 Too Many Requests; retrying in 1000 ms", result.stderr)
        self.assertEqual(self.proxy.count(r"/v2/app/tags/list"), 2)
        self.assert_complete()

    def test_sigterm_ends_a_long_back_off(self):
        # Every catalog request is refused with a back-off of 50 s; the
        # daemon, told to stop while it waits, must not sit it out.
        self.proxy.add(r"/v2/_catalog", ("status", 429, {"Retry-After": "50"}), count=None)
        config = self.write_config("indexes:\n  all:\n    output: out/all.json\n    registry: %s\n    tags: ['*']\n"
                                   "registries:\n  %s:\n    retries: 3\n" % (self.proxy.url, self.proxy.url))
        bus = ritest.Bus(self.path("bus"))
        self.addCleanup(bus.stop)
        daemon = ritest.Daemon(bus, config, self.path("daemon.log"))
        self.addCleanup(daemon.stop)
        ritest.wait_for(lambda: "retrying in 50000 ms" in daemon.output(), timeout=60,
                        message="the daemon to back off")
        start = time.monotonic()
        daemon.process.send_signal(signal.SIGTERM)
        try:
            status = daemon.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.fail("regindexer-daemon still waits %.0f s after SIGTERM:\n%s"
                      % (time.monotonic() - start, daemon.output()))
        self.assertEqual(status, 0, daemon.output())
        # It stopped waiting rather than retrying, and wrote nothing.
        self.assertEqual(self.proxy.count(r"/v2/_catalog"), 1)
        self.assertFalse(os.path.exists(self.path("out", "all.json")))

    def test_retry_after_too_long(self):
        self.proxy.add(r"/v2/_catalog", ("status", 429, {"Retry-After": "3600"}), count=None)
        result = self.run_through_proxy(check=1)
        self.assertIn("retry after 3600 s, more than the 60 s we wait", result.stderr)

    def test_stalled_response_times_out(self):
        self.proxy.add(r"/blobs/", ("stall",), count=None)
        result = self.run_through_proxy("    timeout: 1\n    retries: 1\n", check=1)
        self.assertIn("/blobs/sha256:", result.stderr)
        self.assertIn("retrying in", result.stderr)
        self.assertFalse(os.path.exists(self.path("out", "all.json")))

    def test_connection_cut_mid_body_is_retried(self):
        self.proxy.add(r"/v2/app/manifests/latest$", ("cut",), count=1)
        self.run_through_proxy()
        self.assert_complete()

    def test_tls_connection_reset_mid_body_is_retried(self):
        # Over TLS, OpenSSL reports a dropped connection as an "SSL_read"
        # failure: still a dropped connection, retried, not a TLS refusal.
        ca = services.make_ca(self.path("ca"))
        proxy = services.FaultProxy(self.registry.port, tls=(ca["server.pem"], ca["server.key"]))
        self.addCleanup(proxy.close)
        proxy.add(r"/v2/app/manifests/latest$", ("reset",), count=1)
        result = self.index("    ca_certificate: %s\n    timeout: 2\n    retries: 2\n" % ca["ca.pem"],
                            url=proxy.url)
        self.assertNotIn("TLS:", result.stderr)
        self.assertIn("retrying", result.stderr)
        self.assertEqual(proxy.count(r"/v2/app/manifests/latest$"), 2)
        document, _ = self.load("out", "all.json")
        self.assertEqual(names(document), ["app", "team/tool"])

    def test_connection_cut_every_time(self):
        self.proxy.add(r"/v2/app/manifests/latest$", ("cut",), count=None)
        result = self.run_through_proxy(check=1)
        self.assertIn(self.proxy.url + "/v2/app/manifests/latest", result.stderr)
        self.assertEqual(self.proxy.count(r"/v2/app/manifests/latest$"), 3)

    def test_body_that_does_not_match_its_digest(self):
        self.proxy.add(r"/blobs/", ("garbage",), count=None)
        result = self.run_through_proxy(check=1)
        self.assertIn("the blob's digest is", result.stderr)

    def test_catalog_refused_with_named_repositories(self):
        self.proxy.add(r"/v2/_catalog", ("status", 401), count=None)
        self.run_through_proxy("    repositories: ['app', 'team/tool', 'missing/repo']\n")
        self.assert_complete()
        self.assertEqual(self.proxy.count(r"/v2/_catalog"), 0)

    def test_catalog_filtered_by_patterns(self):
        self.run_through_proxy("    repositories: ['team/*']\n")
        document, _ = self.load("out", "all.json")
        self.assertEqual(names(document), ["team/tool"])
        self.assertEqual(self.proxy.count(r"/v2/app/"), 0)

    def test_redirect_to_another_host_drops_credentials(self):
        other = services.FaultProxy(self.registry.port)
        self.addCleanup(other.close)
        other_url = other.url.replace("127.0.0.1", "localhost")
        self.proxy.add(r"/blobs/", ("redirect", other_url), count=None)
        # The registry asks for Basic credentials (answered by the proxy).
        self.proxy.add(r"^/v2/_catalog", ("status", 401, {"WWW-Authenticate": 'Basic realm="test"'}), count=1)
        secret = self.secret_file("pw", "redirect-pw")
        self.run_through_proxy("    username: carol\n    password_file: %s\n" % secret)
        self.assert_complete()
        blob_requests = [headers for path, headers in other.requests if "/blobs/" in path]
        self.assertEqual(len(blob_requests), 2)
        self.assertTrue(all("Authorization" not in h for h in blob_requests), blob_requests)
        # The registry itself did get them.
        self.assertTrue(any("Authorization" in h for p, h in self.proxy.requests if "/manifests/" in p))


class ProxyTest(AuthTestCase):
    """Through Debian's tinyproxy, chosen from the environment as curl
    chooses: plain requests in absolute form, https through CONNECT."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.start_registry()
        ri_testdata.push(cls.registry.url, {"images": [dict(i) for i in IMAGES]})
        cls.ca = services.make_ca(cls.class_dir("ca"))
        cls.tls_registry = ri_testdata.Registry(cls.class_dir("tls-registry"),
                                                tls=(cls.ca["server.pem"], cls.ca["server.key"]))
        cls.tls_registry.start()
        ri_testdata.push(cls.tls_registry.url, {"images": [dict(i) for i in IMAGES]}, cafile=cls.ca["ca.pem"])

    @classmethod
    def tearDownClass(cls):
        cls.tls_registry.stop()
        super().tearDownClass()

    def start_proxy(self, **kwargs):
        proxy = services.TinyProxy(self.path(), **kwargs)
        self.addCleanup(proxy.close)
        return proxy

    def proxy_env(self, **variables):
        # None of the developer's own proxy settings may leak in.
        env = {name: "" for name in ("http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
                                     "no_proxy", "NO_PROXY")}
        env.update(variables)
        return env

    def index_with(self, env, url=None, settings="", check=0):
        url = url or self.registry.url
        text = "indexes:\n  all:\n    output: out/all.json\n    registry: %s\n    tags: ['*']\n" % url
        text += "registries:\n  %s:\n    timeout: 5\n    retries: 1\n%s" % (url, settings)
        return ritest.run_cli("-v", "-c", self.write_config(text), "index", env=env, check=check)

    def assert_indexed(self):
        document, _ = self.load("out", "all.json")
        self.assertEqual(names(document), ["app", "team/tool"])

    def test_plain_registry_through_the_proxy(self):
        proxy = self.start_proxy()
        self.index_with(self.proxy_env(http_proxy=proxy.url))
        self.assert_indexed()
        self.assertIn("GET %s/v2/_catalog?n=1000 HTTP/1.1" % self.registry.url, proxy.log())
        self.assertIn("GET %s/v2/team/tool/manifests/" % self.registry.url, proxy.log())

    def test_proxy_without_a_scheme_or_in_all_proxy(self):
        proxy = self.start_proxy()
        self.index_with(self.proxy_env(all_proxy="127.0.0.1:%d" % proxy.port))
        self.assert_indexed()
        self.assertIn("GET %s/v2/_catalog?n=1000 HTTP/1.1" % self.registry.url, proxy.log())

    def test_upper_case_http_proxy_is_ignored(self):
        # As curl does: a CGI program's HTTP_PROXY comes from a client's
        # "Proxy:" header.
        proxy = self.start_proxy()
        self.index_with(self.proxy_env(HTTP_PROXY=proxy.url))
        self.assert_indexed()
        self.assertNotIn("/v2/_catalog", proxy.log())

    def test_no_proxy_goes_direct(self):
        proxy = self.start_proxy()
        for exempt in ("127.0.0.1", "127.0.0.0/8", "*", "example.org, 127.0.0.1"):
            self.index_with(self.proxy_env(http_proxy=proxy.url, no_proxy=exempt))
            self.assert_indexed()
        self.index_with(self.proxy_env(http_proxy=proxy.url, NO_PROXY="10.0.0.0/8"))
        self.assertEqual(proxy.log().count("GET %s/v2/_catalog" % self.registry.url), 1)

    def test_tls_registry_through_a_tunnel(self):
        proxy = self.start_proxy(connect_ports=[self.tls_registry.port])
        self.index_with(self.proxy_env(https_proxy=proxy.url), url=self.tls_registry.url,
                        settings="    ca_certificate: %s\n" % self.ca["ca.pem"])
        self.assert_indexed()
        self.assertIn("CONNECT 127.0.0.1:%d HTTP/1.1" % self.tls_registry.port, proxy.log())

    def test_refused_tunnel_fails_clearly(self):
        # tinyproxy refuses CONNECT to ports it was not told of.
        proxy = self.start_proxy(connect_ports=[1])
        result = self.index_with(self.proxy_env(https_proxy=proxy.url), url=self.tls_registry.url,
                                 settings="    ca_certificate: %s\n" % self.ca["ca.pem"], check=1)
        self.assertIn("the proxy 127.0.0.1:%d refused a tunnel to 127.0.0.1:%d: HTTP 403"
                      % (proxy.port, self.tls_registry.port), result.stderr)
        self.assertFalse(os.path.exists(self.path("out", "all.json")))

    def test_proxy_credentials_are_sent_and_never_shown(self):
        proxy = self.start_proxy(credentials=("proxyuser", "s3cr3t-pw"))
        result = self.index_with(self.proxy_env(http_proxy="http://127.0.0.1:%d" % proxy.port), check=1)
        self.assertIn("407", result.stderr)
        result = self.index_with(self.proxy_env(http_proxy="http://proxyuser:s3cr3t-pw@127.0.0.1:%d" % proxy.port))
        self.assert_indexed()
        self.assertNotIn("s3cr3t-pw", result.stderr + result.stdout)

    def test_proxy_that_is_down(self):
        result = self.index_with(self.proxy_env(http_proxy=ritest.closed_port_url()), check=1)
        self.assertIn("the proxy 127.0.0.1:", result.stderr)
        self.assertIn("Connection refused", result.stderr)

    def test_unsupported_proxy_fails_clearly(self):
        result = self.index_with(self.proxy_env(all_proxy="socks5://user:pw@127.0.0.1:1"), check=1)
        self.assertIn("the proxy for http:// in the environment is a socks5:// one; only http:// proxies are "
                      "supported", result.stderr)
        self.assertNotIn("user:pw", result.stderr)


class CancellationTest(ritest.TempDirTestCase):
    """SIGTERM ends the daemon's waits, whatever the registry does."""

    def test_sigterm_ends_a_wait_for_a_token(self):
        released = threading.Event()
        self.addCleanup(released.set)

        def realm(path):
            # A token service that never answers (until the test is over).
            released.wait(60)
            return 500, {}, b""

        token_service = ritest.StubServer(realm)
        self.addCleanup(token_service.close)

        def registry(path):
            return 401, {"WWW-Authenticate": 'Bearer realm="%s/token",service="stub"' % token_service.url}, b""

        stub = ritest.StubServer(registry)
        self.addCleanup(stub.close)
        config = self.write_config("indexes:\n  all:\n    output: out/all.json\n    registry: %s\n    tags: ['*']\n"
                                   "registries:\n  %s:\n    timeout: 50\n" % (stub.url, stub.url))
        bus = ritest.Bus(self.path("bus"))
        self.addCleanup(bus.stop)
        daemon = ritest.Daemon(bus, config, self.path("daemon.log"))
        self.addCleanup(daemon.stop)
        ritest.wait_for(lambda: any(p.startswith("/token") for p in token_service.requests), timeout=60,
                        message="the daemon to ask for a token")
        daemon.process.send_signal(signal.SIGTERM)
        try:
            status = daemon.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.fail("regindexer-daemon still waits for its token after SIGTERM:\n" + daemon.output())
        self.assertEqual(status, 0, daemon.output())
        self.assertFalse(released.is_set())
        self.assertFalse(os.path.exists(self.path("out", "all.json")))


if __name__ == "__main__":
    ritest.main()
