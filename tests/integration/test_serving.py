#!/usr/bin/python3
"""The documented nginx recipe (docs/serving/) with a real nginx: Flatpak's
exact queries reach the right index file, with the cache headers, gzip and
validators clients rely on, and icons are served under their URI."""

import gzip
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.parse

import ritest
from ritest import ri_testdata

SERVING = os.path.join(ritest.SOURCE_DIR, "docs", "serving")
FLATPAK_QUERY = "label%3Aorg.flatpak.ref%3Aexists=1&architecture={arch}&os=linux&tag={tag}"


def start_nginx(test, recipe):
    """Runs nginx with RECIPE (a documented snippet) on a free port of
    its own until the test ends; returns the port."""
    port = ri_testdata.free_port()
    with open(test.path("regindexer-nginx.conf"), "w") as f:
        f.write(recipe.replace("listen 127.0.0.1:8080;", "listen 127.0.0.1:%d;" % port))
    os.makedirs(test.path("nginx"))
    with open(test.path("nginx.conf"), "w") as f:
        f.write("%sworker_processes 1;\ndaemon off;\npid %s;\nerror_log %s warn;\nevents {}\n"
                "http {\n  access_log off;\n  client_body_temp_path %s/body;\n  proxy_temp_path %s/proxy;\n"
                "  fastcgi_temp_path %s/fastcgi;\n  uwsgi_temp_path %s/uwsgi;\n  scgi_temp_path %s/scgi;\n"
                "  include %s;\n}\n" % (
                    "user root;\n" if os.geteuid() == 0 else "", test.path("nginx", "nginx.pid"),
                    test.path("nginx", "error.log"), *([test.path("nginx")] * 5),
                    test.path("regindexer-nginx.conf")))
    check = subprocess.run(["/usr/sbin/nginx", "-t", "-p", test.path("nginx"), "-c", test.path("nginx.conf")],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
    test.assertEqual(check.returncode, 0, check.stdout)
    nginx = subprocess.Popen(["/usr/sbin/nginx", "-p", test.path("nginx"), "-c", test.path("nginx.conf")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop():
        nginx.terminate()
        nginx.wait(timeout=30)
    test.addCleanup(stop)

    def listening():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            conn.connect()
            return True
        except OSError:
            return False
        finally:
            conn.close()
    ritest.wait_for(listening, timeout=30, message="nginx to listen")
    return port


class NginxTestCase(ritest.RegistryTestCase):
    """A registry with Flatpak-style images, indexed with the example
    configuration, and nginx serving it with the documented recipe."""

    @classmethod
    def setUpClass(cls):
        if not os.path.exists("/usr/sbin/nginx"):
            ritest.skip_or_fail("nginx is not installed")
        super().setUpClass()
        red = ri_testdata.png(4, 4, (255, 0, 0))
        cls.icon = red
        cls.push([
            {"repository": "org.example.app", "tags": ["latest"], "architecture": "amd64",
             "labels": ri_testdata.flatpak_labels("org.example.App", "amd64", red)},
            {"repository": "org.example.app", "tags": ["testing"], "architecture": "amd64",
             "labels": dict(ri_testdata.flatpak_labels("org.example.App", "amd64"), testing="1")},
            {"repository": "org.example.multi", "tags": ["latest"],
             "list": [{"architecture": a, "labels": ri_testdata.flatpak_labels("org.example.Multi", a)}
                      for a in ("amd64", "arm64")]},
        ])

    def setUp(self):
        super().setUp()
        os.chmod(self.tmp, 0o755)
        with open(os.path.join(SERVING, "config.yaml")) as f:
            config = f.read().replace("/var/lib/regindexer", self.tmp).replace(
                "https://registry.example.com/", self.registry.url)
        ritest.run_cli("-c", self.write_config(config), "index", check=0)

        with open(os.path.join(SERVING, "nginx.conf")) as f:
            recipe = f.read().replace("@INDEX_DIR@", self.path("index")).replace("@ICONS_DIR@", self.path("icons"))
        self.port = start_nginx(self, recipe)

    def get(self, path, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        body = response.read()
        conn.close()
        return response, body

    def index_file(self, name):
        with open(self.path("index", name), "rb") as f:
            return f.read()



class NginxTest(NginxTestCase):
    def test_flatpak_queries(self):
        for arch, tag in (("amd64", "latest"), ("arm64", "latest"), ("amd64", "testing")):
            query = FLATPAK_QUERY.format(arch=arch, tag=tag)
            for spelling in (query, urllib.parse.unquote(query)):
                with self.subTest(query=spelling):
                    response, body = self.get("/index/static?" + spelling)
                    self.assertEqual(response.status, 200)
                    self.assertEqual(body, self.index_file("flatpak-%s-%s.json" % (arch, tag)))
                    self.assertEqual(response.getheader("Cache-Control"), "public, max-age=300")
                    self.assertEqual(response.getheader("Content-Type"), "application/json")
        document = json.loads(self.get("/index/static?" + FLATPAK_QUERY.format(arch="arm64", tag="latest"))[1])
        self.assertEqual([r["Name"] for r in document["Results"]], ["org.example.multi"])
        self.assertEqual(document["Registry"], "/")

    def test_other_queries_are_not_found(self):
        for query in ("", "tag=latest", FLATPAK_QUERY.format(arch="amd64", tag="latest") + "&x=1",
                      FLATPAK_QUERY.format(arch="amd64", tag="latest").replace("linux", "windows"),
                      FLATPAK_QUERY.format(arch="amd64", tag="../../etc/passwd")):
            with self.subTest(query=query):
                self.assertEqual(self.get("/index/static?" + query)[0].status, 404)

    def test_gzip_and_validators(self):
        path = "/index/static?" + FLATPAK_QUERY.format(arch="amd64", tag="latest")
        response, body = self.get(path, {"Accept-Encoding": "gzip"})
        self.assertEqual(response.getheader("Content-Encoding"), "gzip")
        self.assertEqual(gzip.decompress(body), self.index_file("flatpak-amd64-latest.json"))
        etag = self.get(path)[0].getheader("ETag")
        self.assertIsNotNone(etag)
        self.assertEqual(self.get(path, {"If-None-Match": etag})[0].status, 304)

    def test_icons(self):
        document = json.loads(self.get("/index/static?" + FLATPAK_QUERY.format(arch="amd64", tag="latest"))[1])
        app = [r for r in document["Results"] if r["Name"] == "org.example.app"][0]["Images"][0]
        url = app["Labels"]["org.freedesktop.appstream.icon-64"]
        digest = hashlib.sha256(self.icon).hexdigest()
        self.assertEqual(url, "/icons/%s/%s.png" % (digest[:2], digest[2:]))
        response, body = self.get(url)
        self.assertEqual(response.status, 200)
        self.assertEqual(body, self.icon)
        self.assertEqual(response.getheader("Cache-Control"), "public, max-age=31536000, immutable")


class FlatpakTest(NginxTestCase):
    """Debian's own Flatpak client, pointed at nginx serving the indexes."""

    def setUp(self):
        if not os.path.exists("/usr/bin/flatpak"):
            ritest.skip_or_fail("flatpak is not installed")
        super().setUp()

    def flatpak(self, *args):
        env = dict(os.environ, HOME=self.path("home"), XDG_DATA_HOME=self.path("home", "data"),
                   XDG_CONFIG_HOME=self.path("home", "config"), XDG_CACHE_HOME=self.path("home", "cache"),
                   LC_ALL="C.UTF-8", FLATPAK_SYSTEM_DIR=self.path("home", "system"))
        env.pop("DBUS_SESSION_BUS_ADDRESS", None)
        return subprocess.run(["/usr/bin/flatpak"] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, timeout=120, env=env)

    def test_remote_ls(self):
        url = "oci+http://127.0.0.1:%d/" % self.port
        result = self.flatpak("remote-add", "--user", "--no-gpg-verify", "dev", url)
        self.assertEqual(result.returncode, 0, result.stderr)
        result = self.flatpak("remote-ls", "--user", "--columns=ref", "dev")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(sorted(result.stdout.split()),
                         ["app/org.example.App/x86_64/stable", "app/org.example.Multi/x86_64/stable"])


class NginxDaemonTest(ritest.DaemonTestCase):
    """The documented recipe for nginx in front of the daemon's listener."""

    def test_proxied_answers(self):
        if not os.path.exists("/usr/sbin/nginx"):
            ritest.skip_or_fail("nginx is not installed")
        os.chmod(self.tmp, 0o755)
        icon = ri_testdata.png(4, 4, (0, 0, 255))
        self.push([{"repository": "org.example.app", "tags": ["latest"], "architecture": "amd64",
                    "labels": ri_testdata.flatpak_labels("org.example.App", "amd64", icon)}])
        daemon_port = ri_testdata.free_port()
        self.start_daemon("icons_dir: %s\nicons_uri: /icons/\nindexes:\n  live:\n    registry: %s\n"
                          "    extract_icons: true\n"
                          "daemon:\n  http:\n    listen: ['127.0.0.1:%d']\n    serve: {/: live}\n"
                          "    events: true\n" % (self.path("icons"), self.registry.url, daemon_port))
        with open(os.path.join(SERVING, "nginx-live.conf")) as f:
            recipe = f.read().replace("server 127.0.0.1:8088;", "server 127.0.0.1:%d;" % daemon_port)
        port = start_nginx(self, recipe)

        def get(path, headers=None, method="GET"):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request(method, path, headers=headers or {})
            response = conn.getresponse()
            body = response.read()
            conn.close()
            return response, body

        query = "/index/static?" + FLATPAK_QUERY.format(arch="amd64", tag="latest")
        response, body = get(query)
        self.assertEqual(response.status, 200, body)
        document = json.loads(body)
        self.assertEqual([r["Name"] for r in document["Results"]], ["org.example.app"])
        etag = response.getheader("ETag")
        self.assertEqual(response.getheader("Cache-Control"), "public, max-age=300")
        self.assertEqual(get(query, {"If-None-Match": etag})[0].status, 304)
        response, gzipped = get(query, {"Accept-Encoding": "gzip"})
        self.assertEqual(response.getheader("Content-Encoding"), "gzip")
        self.assertEqual(gzip.decompress(gzipped), body)
        icon_url = document["Results"][0]["Images"][0]["Labels"]["org.freedesktop.appstream.icon-64"]
        response, data = get(icon_url)
        self.assertEqual((response.status, data), (200, icon))
        self.assertEqual(get("/index/static?foo=1")[0].status, 400)
        self.assertEqual(get("/events", {"Content-Type": "application/json"}, "POST")[0].status, 404)
        self.assertEqual(get("/index/static", method="DELETE")[0].status, 403)


class DaemonFlatpakTest(ritest.DaemonTestCase):
    """Debian's Flatpak client pointed straight at the daemon's listener:
    it lists, and installs a runtime that `flatpak build-bundle --oci`
    made and the test-data tool pushed byte for byte."""

    def setUp(self):
        if not os.path.exists("/usr/bin/flatpak"):
            ritest.skip_or_fail("flatpak is not installed")
        super().setUp()
        # Installing from an OCI remote asks its authenticator, activated
        # on the session bus: a bus of the test's own, and the
        # authenticator stopped with it.
        self.flatpak_bus = ritest.Bus(self.path("flatpak-bus"))
        self.addCleanup(self.flatpak_bus.stop)
        self.addCleanup(self.stop_authenticator)

    def stop_authenticator(self):
        Gio, GLib = ritest._gi()
        connection = Gio.DBusConnection.new_for_address_sync(
            self.flatpak_bus.address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT |
            Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
        try:
            (pid,) = connection.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                          "GetConnectionUnixProcessID",
                                          GLib.Variant("(s)", ("org.flatpak.Authenticator.Oci",)), None,
                                          Gio.DBusCallFlags.NONE, 5000, None).unpack()
            os.kill(pid, signal.SIGTERM)
        except GLib.Error:
            pass  # never started
        finally:
            connection.close_sync(None)

    def flatpak(self, *args):
        env = dict(os.environ, HOME=self.path("home"), XDG_DATA_HOME=self.path("home", "data"),
                   XDG_CONFIG_HOME=self.path("home", "config"), XDG_CACHE_HOME=self.path("home", "cache"),
                   LC_ALL="C.UTF-8", FLATPAK_SYSTEM_DIR=self.path("home", "system"))
        env["DBUS_SESSION_BUS_ADDRESS"] = self.flatpak_bus.address
        # The authenticator flatpak starts inherits its output, so that
        # goes to files, not pipes that would stay open after flatpak exits.
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            result = subprocess.run(["/usr/bin/flatpak"] + list(args),
                                    stdout=out, stderr=err, stdin=subprocess.DEVNULL, timeout=300, env=env)
            out.seek(0)
            err.seek(0)
            return subprocess.CompletedProcess(result.args, result.returncode, out.read(), err.read())

    def build_runtime(self):
        tree = self.path("runtime")
        os.makedirs(os.path.join(tree, "usr"))
        os.makedirs(os.path.join(tree, "files"))  # what build-init would have made
        with open(os.path.join(tree, "metadata"), "w") as f:
            f.write("[Runtime]\nname=org.example.Platform\nruntime=org.example.Platform/x86_64/stable\n"
                    "sdk=org.example.Platform/x86_64/stable\n")
        with open(os.path.join(tree, "usr", "hello.txt"), "w") as f:
            f.write("served live by regindexer\n")
        for args in (("build-export", "--runtime", self.path("repo"), tree, "stable"),
                     ("build-bundle", "--runtime", "--oci", self.path("repo"), self.path("oci"),
                      "org.example.Platform", "stable")):
            result = self.flatpak(*args)
            self.assertEqual(result.returncode, 0, result.stderr)
        return ri_testdata.push_oci_layout(self.registry.url, self.path("oci"), "org.example.platform", "latest")

    def test_list_and_install_from_the_daemon(self):
        self.build_runtime()
        self.push([{"repository": "org.example.app", "tags": ["latest"], "architecture": "amd64",
                    "labels": ri_testdata.flatpak_labels("org.example.App", "amd64")},
                   {"repository": "tools/base", "tags": ["latest"], "architecture": "amd64", "labels": {}}])
        port = ri_testdata.free_port()
        self.start_daemon("indexes:\n  live:\n    registry: %s\n    required_labels: [org.flatpak.ref]\n"
                          "daemon:\n  http:\n    listen: ['127.0.0.1:%d']\n    serve: {/: live}\n"
                          % (self.registry.url, port))
        result = self.flatpak("remote-add", "--user", "--no-gpg-verify", "live", "oci+http://127.0.0.1:%d/" % port)
        self.assertEqual(result.returncode, 0, result.stderr)
        result = self.flatpak("remote-ls", "--user", "--columns=ref", "live")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(sorted(result.stdout.split()),
                         ["app/org.example.App/x86_64/stable", "runtime/org.example.Platform/x86_64/stable"])
        result = self.flatpak("install", "--user", "-y", "--noninteractive", "live",
                              "runtime/org.example.Platform/x86_64/stable")
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        installed = self.path("home", "data", "flatpak", "runtime", "org.example.Platform", "x86_64", "stable",
                              "active", "files", "hello.txt")
        with open(installed) as f:
            self.assertEqual(f.read(), "served live by regindexer\n")
        self.assertGreaterEqual(self.client.status()["http"]["queries"], 1)


if __name__ == "__main__":
    ritest.main()
