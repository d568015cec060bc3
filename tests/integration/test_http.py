#!/usr/bin/python3
"""The daemon's HTTP listener answering the index protocol live.

A real registry, a real daemon on a private bus, and plain HTTP requests:
every query parameter form, OR within a key and AND across keys, ETag and
304, gzip, HEAD, icons, and the errors.
"""

import gzip
import http.client
import json
import os
import re
import threading
import urllib.parse

import ritest
from ritest import ri_testdata

FLATPAK_QUERY = "label:org.flatpak.ref:exists=1&architecture=amd64&os=linux&tag=latest"


def names(document):
    return [repository["Name"] for repository in document["Results"]]


class HttpClient:
    def __init__(self, port):
        self.port = port

    def request(self, method, path, headers=None, body=None, chunked=False):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=headers or {}, encode_chunked=chunked)
            response = connection.getresponse()
            data = response.read()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, data
        finally:
            connection.close()

    def get(self, path, headers=None):
        return self.request("GET", path, headers)

    def query(self, query, path="/index/static"):
        status, headers, body = self.get(path + ("?" + query if query else ""))
        if status != 200:
            raise AssertionError("%s?%s answered %d: %s" % (path, query, status, body))
        return json.loads(body)


class HttpTestCase(ritest.DaemonTestCase):
    """A daemon answering HTTP on a port of its own for each test."""

    def start_http_daemon(self, indexes_yaml, serve_yaml, extra_http="", top="", extra_env=None):
        self.port = ri_testdata.free_port()
        config = top + "indexes:\n" + indexes_yaml + (
            "daemon:\n  coalesce_delay: 50\n  http:\n    listen: [\"127.0.0.1:%d\"]\n    serve:\n%s%s" %
            (self.port, serve_yaml, extra_http))
        self.start_daemon(config, extra_env=extra_env)
        self.http = HttpClient(self.port)
        return self.http


class QueryTest(HttpTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        icon = ri_testdata.png(64, 64, (1, 2, 3))
        cls.pushed = cls.push([
            {"repository": "org.example.alpha", "tags": ["latest", "1.0"], "architecture": "amd64",
             "annotations": {"org.example.channel": "stable"},
             "labels": dict(ri_testdata.flatpak_labels("org.example.Alpha", "amd64", icon))},
            {"repository": "org.example.beta", "tags": ["latest"],
             "list": [{"architecture": "amd64", "annotations": {"org.example.channel": "beta"},
                       "labels": ri_testdata.flatpak_labels("org.example.Beta", "amd64")},
                      {"architecture": "arm64", "annotations": {"org.example.channel": "beta"},
                       "labels": ri_testdata.flatpak_labels("org.example.Beta", "arm64")}]},
            {"repository": "org.example.gamma", "tags": ["testing"], "architecture": "arm64",
             "annotations": {"org.example.channel": "stable"},
             "labels": ri_testdata.flatpak_labels("org.example.Gamma", "arm64")},
            {"repository": "tools/base", "tags": ["latest"], "architecture": "amd64",
             "labels": {"org.example.kind": "runtime"}},
            {"repository": "tools/secret", "tags": ["internal"], "architecture": "amd64",
             "labels": {"org.example.kind": "private"}},
        ])

    def setUp(self):
        super().setUp()
        url = self.registry.url
        self.start_http_daemon(
            "  live:\n    registry: %s\n    tags: [latest, testing, '1.*']\n    extract_icons: true\n"
            "  files:\n    registry: %s\n    output: %s\n" % (url, url, self.path("out", "files.json")),
            "      /: live\n      /files/: files\n",
            top="icons_dir: %s\nicons_uri: icons/\n" % self.path("icons"))

    def test_an_unfiltered_answer_is_the_file(self):
        status, headers, body = self.http.get("/files/index/static")
        self.assertEqual(status, 200)
        with open(self.path("out", "files.json"), "rb") as f:
            self.assertEqual(body, f.read())
        self.assertEqual(headers["content-type"], "application/json")

    def test_each_parameter(self):
        q = self.http.query
        self.assertEqual(names(q("repository=tools/base")), ["tools/base"])
        self.assertEqual(names(q("repository=tools%2Fbase")), ["tools/base"])
        self.assertEqual(names(q("tag=testing")), ["org.example.gamma"])
        self.assertEqual(names(q("tag=1.0")), ["org.example.alpha"])
        self.assertEqual(names(q("os=linux")),
                         ["org.example.alpha", "org.example.beta", "org.example.gamma", "tools/base"])
        self.assertEqual(names(q("os=windows")), [])
        self.assertEqual(names(q("architecture=arm64")), ["org.example.beta", "org.example.gamma"])
        self.assertEqual(names(q("annotation:org.example.channel=beta")), ["org.example.beta"])
        self.assertEqual(names(q("annotation:org.example.channel:exists=1")),
                         ["org.example.alpha", "org.example.beta", "org.example.gamma"])
        self.assertEqual(names(q("label:org.example.kind=runtime")), ["tools/base"])
        self.assertEqual(names(q("label:org.flatpak.ref:exists=1")),
                         ["org.example.alpha", "org.example.beta", "org.example.gamma"])

    def test_a_list_keeps_only_matching_children(self):
        document = self.http.query("architecture=arm64&repository=org.example.beta")
        (repository,) = document["Results"]
        self.assertEqual(repository["Images"], [])
        (image_list,) = repository["Lists"]
        self.assertEqual([child["Architecture"] for child in image_list["Images"]], ["arm64"])
        self.assertEqual(image_list["Tags"], ["latest"])

    def test_a_repeated_key_means_any_value(self):
        self.assertEqual(names(self.http.query("repository=tools/base&repository=org.example.gamma")),
                         ["org.example.gamma", "tools/base"])
        self.assertEqual(names(self.http.query("tag=testing&tag=1.0")), ["org.example.alpha", "org.example.gamma"])

    def test_different_keys_must_all_hold(self):
        self.assertEqual(names(self.http.query("architecture=arm64&tag=latest")), ["org.example.beta"])
        self.assertEqual(names(self.http.query("architecture=arm64&label:org.example.kind:exists=1")), [])

    def test_a_label_and_an_annotation_query_side_by_side(self):
        document = self.http.query("label:org.flatpak.ref:exists=1&annotation:org.example.channel=stable")
        self.assertEqual(names(document), ["org.example.alpha", "org.example.gamma"])
        document = self.http.query("label:org.flatpak.ref=app/org.example.Beta/aarch64/stable"
                                   "&annotation:org.example.channel=beta")
        self.assertEqual(names(document), ["org.example.beta"])
        self.assertEqual([c["Architecture"] for c in document["Results"][0]["Lists"][0]["Images"]], ["arm64"])

    def test_the_query_flatpak_sends(self):
        document = self.http.query(FLATPAK_QUERY)
        self.assertEqual(names(document), ["org.example.alpha", "org.example.beta"])
        alpha = document["Results"][0]["Images"][0]
        self.assertEqual(alpha["Tags"], ["1.0", "latest"])  # every tag, not only the one asked for
        self.assertEqual(document["Registry"], self.registry.url + "/")

    def test_percent_encoded_forms_mean_the_same(self):
        plain = self.http.get("/index/static?" + FLATPAK_QUERY)
        encoded = self.http.get("/index/static?" + urllib.parse.quote(FLATPAK_QUERY, safe="&="))
        self.assertEqual(plain[0], 200)
        self.assertEqual(encoded[0], 200)
        self.assertNotEqual(FLATPAK_QUERY, urllib.parse.quote(FLATPAK_QUERY, safe="&="))
        self.assertEqual(plain[2], encoded[2])
        self.assertEqual(plain[1]["etag"], encoded[1]["etag"])
        self.assertEqual(names(self.http.query("tag=lat%65st&architecture=arm%364")), ["org.example.beta"])

    def test_the_index_filters_bound_what_is_published(self):
        # 'internal' is not among the index's tags: no query reaches it.
        self.assertEqual(names(self.http.query("tag=internal")), [])
        self.assertEqual(names(self.http.query("repository=tools/secret")), [])
        # …and an index that is not served is not reachable at all.
        self.assertEqual(self.http.get("/other/index/static")[0], 404)

    def test_etag_and_not_modified(self):
        status, headers, body = self.http.get("/index/static?" + FLATPAK_QUERY)
        etag = headers["etag"]
        self.assertRegex(etag, r'^"[0-9a-f]{32}"$')
        self.assertEqual(headers["cache-control"], "public, max-age=300")
        self.assertEqual(headers["vary"], "Accept-Encoding")
        status, headers, body = self.http.get("/index/static?" + FLATPAK_QUERY, {"If-None-Match": etag})
        self.assertEqual((status, body), (304, b""))
        self.assertEqual(headers["etag"], etag)
        status, _, _ = self.http.get("/index/static?" + FLATPAK_QUERY, {"If-None-Match": '"other", W/' + etag})
        self.assertEqual(status, 304)
        status, _, body = self.http.get("/index/static?tag=testing", {"If-None-Match": etag})
        self.assertEqual(status, 200)
        self.assertNotEqual(body, b"")

    def test_dynamic_is_not_stored(self):
        status, headers, body = self.http.get("/index/dynamic?" + FLATPAK_QUERY)
        self.assertEqual(status, 200)
        self.assertEqual(headers["cache-control"], "no-store")
        self.assertEqual(body, self.http.get("/index/static?" + FLATPAK_QUERY)[2])

    def test_gzip_when_accepted(self):
        _, plain_headers, plain = self.http.get("/index/static")
        status, headers, body = self.http.get("/index/static", {"Accept-Encoding": "gzip"})
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-encoding"], "gzip")
        self.assertEqual(gzip.decompress(body), plain)
        self.assertLess(len(body), len(plain))
        self.assertNotEqual(headers["etag"], plain_headers["etag"])
        status, headers, _ = self.http.get("/index/static", {"Accept-Encoding": "gzip;q=0, identity"})
        self.assertNotIn("content-encoding", headers)
        status, _, _ = self.http.get("/index/static", {"Accept-Encoding": "gzip", "If-None-Match": plain_headers["etag"]})
        self.assertEqual(status, 200)  # that validator is of the other representation

    def test_head(self):
        _, get_headers, body = self.http.get("/index/static?" + FLATPAK_QUERY)
        status, headers, head_body = self.http.request("HEAD", "/index/static?" + FLATPAK_QUERY)
        self.assertEqual(status, 200)
        self.assertEqual(head_body, b"")
        self.assertEqual(headers["etag"], get_headers["etag"])
        self.assertEqual(int(headers["content-length"]), len(body))

    def test_bad_requests(self):
        for query, expected in [("foo=1", "unknown query parameter 'foo'"),
                                ("label:=1", "unknown query parameter 'label:'"),
                                ("label:org.flatpak.ref:exists=yes", "takes only the value 1"),
                                ("tag", "has no value"),
                                ("tag=", "empty value"),
                                ("tag=%00", "not valid percent-encoded"),
                                ("tag=%C3%28", "not valid percent-encoded")]:
            status, headers, body = self.http.get("/index/static?" + query)
            self.assertEqual(status, 400, query)
            self.assertIn(expected, body.decode(), query)
            self.assertEqual(headers["content-type"], "text/plain; charset=utf-8")
        # A URL with a broken escape is refused before any query is read.
        self.assertEqual(self.http.get("/index/static?tag=%zz")[0], 400)
        status, headers, _ = self.http.request("POST", "/index/static", body=b"")
        self.assertEqual(status, 405)
        self.assertEqual(headers["allow"], "GET, HEAD")
        self.assertEqual(self.http.get("/nothing/here")[0], 404)
        status, headers, body = self.http.request("POST", "/events", {"Content-Type": "application/json"}, b"{}")
        self.assertEqual(status, 404)  # events are off unless configured
        self.assertIn("no notifications", body.decode())
        counters = self.client.status()["http"]
        self.assertEqual(counters["bad-queries"], 7)

    def test_a_flood_of_different_queries(self):
        # Many different queries at once: each is answered, or refused
        # for now with 503 and Retry-After; none is lost, nothing breaks,
        # and each refused one is answered when asked again alone.
        results = {}
        before = self.client.status()["http"]

        def ask(i):
            results[i] = self.http.get("/index/dynamic?tag=latest&tag=t%d" % i)
        threads = [threading.Thread(target=ask, args=(i,)) for i in range(64)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        self.assertEqual(len(results), 64)
        refused = [i for i, (status, _, _) in results.items() if status == 503]
        for i, (status, headers, body) in results.items():
            if status == 503:
                self.assertEqual(headers.get("retry-after"), "1")
            else:
                self.assertEqual(status, 200, body)
        self.assertLess(len(refused), 64, "every query was refused")
        after = self.client.status()["http"]
        self.assertEqual(after["rendered"] - before["rendered"], 64 - len(refused))
        self.assertEqual(after["queries-busy"] - before["queries-busy"], len(refused))
        for i in refused:
            results[i] = self.http.get("/index/dynamic?tag=latest&tag=t%d" % i)
        for i, (status, _, body) in results.items():
            self.assertEqual(status, 200, (i, body))
            self.assertEqual(names(json.loads(body)), ["org.example.alpha", "org.example.beta", "tools/base"])
        self.assertEqual(self.http.get("/index/static?" + FLATPAK_QUERY)[0], 200)

    def test_connections_are_not_kept_after_clients_close_them(self):
        # libsoup 3.2 kept every kept-alive connection a client closed,
        # until the daemon ran out of descriptors.
        def descriptors():
            return len(os.listdir("/proc/%d/fd" % self.daemon.process.pid))
        self.http.get("/index/static")
        before = descriptors()
        for i in range(100):
            self.assertIn(self.http.get(("/index/static", "/nothing", "/index/dynamic?tag=1.0")[i % 3])[0], (200, 404))
            self.http.request("POST", "/events", {"Content-Type": "application/json"}, b"{}")
        ritest.wait_for(lambda: descriptors() < before + 10, timeout=30, message="connections to be closed")

    def test_icons_are_served_under_their_uri(self):
        document = self.http.query("repository=org.example.alpha")
        uri = document["Results"][0]["Images"][0]["Labels"]["org.freedesktop.appstream.icon-64"]
        self.assertRegex(uri, r"^icons/[0-9a-f]{2}/[0-9a-f]{62}\.png$")
        status, headers, body = self.http.get("/" + uri)
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "image/png")
        self.assertEqual(body, ri_testdata.png(64, 64, (1, 2, 3)))
        self.assertEqual(self.http.get("/" + uri, {"If-None-Match": headers["etag"]})[0], 304)
        self.assertEqual(self.http.get("/icons/../config.yaml")[0], 404)
        self.assertEqual(self.http.get("/icons/00/" + "0" * 62 + ".png")[0], 404)


class RequestBodyTest(HttpTestCase):
    def test_request_bodies_are_not_kept(self):
        # Under AddressSanitizer, freed memory is held in quarantine and
        # counts in the peak; without quarantine the peak means what it
        # means without sanitizers.
        asan = os.environ.get("ASAN_OPTIONS")
        self.start_http_daemon("  live:\n    registry: %s\n" % self.registry.url, "      /: live\n",
                               extra_env={"ASAN_OPTIONS": asan + ":quarantine_size_mb=0"} if asan else None)

        def peak_kib():
            with open("/proc/%d/status" % self.daemon.process.pid) as f:
                return int(re.search(r"VmHWM:\s+(\d+) kB", f.read()).group(1))
        before = peak_kib()
        chunk = b"x" * (1024 * 1024)
        for path in ("/index/static", "/nothing", "/events"):
            status, _, _ = self.http.request("POST", path, {"Content-Length": str(64 * len(chunk))},
                                             iter([chunk] * 64))
            self.assertIn(status, (404, 405), path)
        self.assertLess(peak_kib() - before, 32 * 1024)


class ServedOnlyTest(HttpTestCase):
    """An index without a file: served, counted, and refused when unserved."""

    def test_served_only_index(self):
        self.push([{"repository": "org.example.only", "tags": ["latest"], "architecture": "amd64",
                    "labels": ri_testdata.flatpak_labels("org.example.Only", "amd64")}])
        self.start_http_daemon("  live:\n    registry: %s\n" % self.registry.url, "      /flatpak/: live\n",
                               extra_http="    max_age: 60\n")
        status, headers, body = self.http.get("/flatpak/index/static?" + FLATPAK_QUERY)
        self.assertEqual(status, 200, body)
        self.assertEqual(names(json.loads(body)), ["org.example.only"])
        self.assertEqual(headers["cache-control"], "public, max-age=60")
        self.assertEqual(self.http.get("/index/static")[0], 404)
        entry = self.client.status()["indexes"]["live"]
        self.assertEqual((entry["output"], entry["repositories"]), ("", 1))
        result = ritest.run_cli("--session", "status", env={"DBUS_SESSION_BUS_ADDRESS": self.bus.address}, check=0)
        self.assertIn("HTTP:          127.0.0.1:%d; 1 queries answered; 0 notifications taken, 0 refused; "
                      "0 refreshes" % self.port, result.stdout)
        self.assertRegex(result.stdout, r"\nlive +1 +1 .*\(served over HTTP only\)\n")


    def test_an_index_never_built_is_unavailable(self):
        self.start_http_daemon("  live:\n    registry: %s\n" % ritest.closed_port_url(), "      /: live\n")
        status, headers, body = self.http.get("/index/static")
        self.assertEqual(status, 503)
        self.assertEqual(headers["retry-after"], "10")
        self.assertIn("no scan of its registry has succeeded", body.decode())


class ReloadTest(HttpTestCase):
    def test_reload_moves_the_listener_and_what_is_served(self):
        self.push([{"repository": "org.example.reload", "tags": ["latest"], "architecture": "amd64"}])
        indexes = "  a:\n    registry: %s\n    output: %s\n" % (self.registry.url, self.path("a.json"))
        self.start_http_daemon(indexes, "      /: a\n")
        old_port = self.port
        self.assertEqual(self.http.get("/index/static")[0], 200)

        new_port = ri_testdata.free_port()
        with open(self.config_path, "w") as f:
            f.write("indexes:\n" + indexes + "daemon:\n  http:\n    listen: ['127.0.0.1:%d']\n"
                    "    serve: {/moved/: a}\n" % new_port)
        self.client.call("Reload")
        moved = HttpClient(new_port)
        self.assertEqual(moved.get("/moved/index/static")[0], 200)
        self.assertEqual(moved.get("/index/static")[0], 404)
        with self.assertRaises(ConnectionRefusedError):
            self.http.get("/index/static")
        self.assertEqual(self.client.status()["http"]["listen"], ["127.0.0.1:%d" % new_port])

        # An address that cannot be had keeps the listener where it was.
        with open(self.config_path, "w") as f:
            f.write("indexes:\n" + indexes + "daemon:\n  http:\n    listen: ['192.0.2.1:%d']\n"
                    "    serve: {/moved/: a}\n" % old_port)
        self.client.call("Reload")
        self.assertEqual(moved.get("/moved/index/static")[0], 200)
        self.assertEqual(self.client.status()["http"]["listen"], ["127.0.0.1:%d" % new_port])
        self.assertIn("Cannot listen as configured", self.daemon.output())


class ConfigErrorTest(ritest.TempDirTestCase):
    def check(self, text, expected):
        path = self.write_config(text)
        result = ritest.run_cli("-c", path, "index", "--no-daemon", check=2)
        self.assertIn(expected, result.stderr)

    def test_errors_name_file_line_and_column(self):
        base = "indexes:\n  a:\n    registry: http://127.0.0.1:1\n"
        self.check(base, "config.yaml:2:3: index 'a' has no 'output' and is not served")
        self.check(base + "daemon:\n  http:\n    listen: [localhost:80]\n    serve: {/: a}\n",
                   "config.yaml:6:14: 'localhost:80' does not start with an IP address")
        self.check(base + "daemon:\n  http:\n    listen: ['127.0.0.1:0']\n    serve: {/: a}\n",
                   "does not end in a port from 1 to 65535")
        self.check(base + "daemon:\n  http:\n    listen: ['127.0.0.1:8088']\n    serve: {/: b}\n",
                   "there is no index 'b' to serve")
        self.check(base + "daemon:\n  http:\n    serve: {/: a}\n",
                   "has no 'listen' addresses")
        self.check(base + "    output: x.json\ndaemon:\n  http:\n    listen: ['127.0.0.1:8088']\n"
                   "    events_token_file: x\n", "'events_token_file' needs 'events: true'")


if __name__ == "__main__":
    ritest.main()
