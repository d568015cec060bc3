#!/usr/bin/python3
"""Bad input gets a clear error and loses nothing: a stopped registry,
garbage, lies about digests, oversized bodies, hostile names, and broken
configuration, each leaving the previous index byte for byte in place."""

import json
import os
import subprocess

import ritest
from ritest import ri_testdata

MANIFEST_TYPE = ri_testdata.OCI_MANIFEST


def image_blobs(arch="amd64", labels=None, annotations=None):
    config = ri_testdata.canonical({"architecture": arch, "os": "linux", "config": {"Labels": labels or {}}})
    manifest = {"schemaVersion": 2, "mediaType": MANIFEST_TYPE,
                "config": {"mediaType": ri_testdata.OCI_CONFIG, "digest": ri_testdata.sha256(config),
                           "size": len(config)},
                "layers": []}
    if annotations is not None:
        manifest["annotations"] = annotations
    return ri_testdata.canonical(manifest), config


class FakeRegistry:
    """Serves a consistent registry from a dict, with overrides per path."""

    def __init__(self, repositories):
        self.routes = {}
        self.overrides = {}
        self.calls = {}
        self.routes["/v2/_catalog"] = (200, {"Content-Type": "application/json"},
                                       json.dumps({"repositories": list(repositories)}).encode())
        for name, tags in repositories.items():
            self.routes["/v2/%s/tags/list" % name] = (200, {"Content-Type": "application/json"},
                                                      json.dumps({"name": name, "tags": list(tags)}).encode())
            for tag, (manifest, config) in tags.items():
                headers = {"Content-Type": MANIFEST_TYPE, "Docker-Content-Digest": ri_testdata.sha256(manifest)}
                self.routes["/v2/%s/manifests/%s" % (name, tag)] = (200, headers, manifest)
                self.routes["/v2/%s/manifests/%s" % (name, ri_testdata.sha256(manifest))] = (200, headers, manifest)
                self.routes["/v2/%s/blobs/%s" % (name, ri_testdata.sha256(config))] = (
                    200, {"Content-Type": "application/octet-stream"}, config)
        self.server = ritest.StubServer(self.handle)

    def handle(self, path):
        route = path.split("?")[0]
        self.calls[route] = self.calls.get(route, 0) + 1
        override = self.overrides.get(route)
        if callable(override):
            answer = override(self.calls[route])
            if answer is not None:
                return answer
        elif override is not None:
            return override
        return self.routes.get(route, (404, {"Content-Type": "application/json"},
                                       b'{"errors":[{"code":"NAME_UNKNOWN","message":"not here"}]}'))

    @property
    def url(self):
        return self.server.url

    def close(self):
        self.server.close()


OLD = '{"Registry": "old", "Results": []}\n'


class FailureTest(ritest.TempDirTestCase):
    def setUp(self):
        super().setUp()
        manifest, config = image_blobs(labels={"org.flatpak.ref": "app/x"})
        self.fake = FakeRegistry({"app": {"latest": (manifest, config)}})
        self.addCleanup(self.fake.close)
        os.makedirs(self.path("out"))
        for name in ("a", "b"):
            with open(self.path("out", name + ".json"), "w") as f:
                f.write(OLD)

    def config(self, url_a, url_b=None):
        text = "indexes:\n  a:\n    output: out/a.json\n    registry: %s\n" % url_a
        if url_b:
            text += "  b:\n    output: out/b.json\n    registry: %s\n" % url_b
        return self.write_config(text)

    def assert_kept(self, name="a"):
        with open(self.path("out", name + ".json")) as f:
            self.assertEqual(f.read(), OLD)
        leftovers = [f for f in os.listdir(self.path("out")) if f not in ("a.json", "b.json")]
        self.assertEqual(leftovers, [])

    def test_fake_registry_works(self):
        """The baseline the other tests break one piece at a time."""
        ritest.run_cli("-c", self.config(self.fake.url), "index", check=0)
        document, _ = self.load("out", "a.json")
        self.assertEqual(document["Results"][0]["Name"], "app")

    def test_connection_refused(self):
        url = ritest.closed_port_url()
        result = ritest.run_cli("-c", self.config(url), "index", check=1)
        self.assertIn(url + "/v2/_catalog", result.stderr)
        # Said once: the engine returns the failure, the CLI prints it.
        self.assertEqual(result.stderr.count("previous file is kept"), 1, result.stderr)
        self.assert_kept()

    def test_garbage_catalog(self):
        self.fake.overrides["/v2/_catalog"] = (200, {"Content-Type": "application/json"}, b"<html>oops")
        result = ritest.run_cli("-c", self.config(self.fake.url), "index", check=1)
        self.assertIn(self.fake.url + "/v2/_catalog", result.stderr)
        self.assertIn("catalog is malformed", result.stderr)
        self.assert_kept()

    def test_wrong_types(self):
        for body in (b'{"repositories": "app"}', b'{"repositories": [1, 2]}', b'[]'):
            with self.subTest(body=body):
                self.fake.overrides["/v2/_catalog"] = (200, {}, body)
                result = ritest.run_cli("-c", self.config(self.fake.url), "index", check=1)
                self.assertIn("/v2/_catalog", result.stderr)
                self.assert_kept()

    def assert_skipped_alone(self, result, reason):
        """An unusable object is left out, named with its URL and reason;
        the index is written all the same (issue 13), and exit status is 0."""
        self.assertIn("1 objects skipped (1 %s)" % reason, result.stderr)
        document, _ = self.load("out", "a.json")
        self.assertEqual([r["Name"] for r in document["Results"]], ["other"])

    def add_other_repository(self):
        manifest, config = image_blobs(labels={"org.flatpak.ref": "app/y"})
        other = FakeRegistry({"app": {"latest": image_blobs()}, "other": {"latest": (manifest, config)}})
        for route in ("/v2/_catalog", "/v2/other/tags/list"):
            self.fake.routes[route] = other.routes[route]
        for route, answer in other.routes.items():
            if route.startswith("/v2/other/"):
                self.fake.routes[route] = answer
        other.close()

    def test_garbage_manifest(self):
        self.add_other_repository()
        self.fake.overrides["/v2/app/manifests/latest"] = (200, {"Content-Type": MANIFEST_TYPE}, b'{"config": 5}')
        result = ritest.run_cli("-c", self.config(self.fake.url), "index", check=0)
        self.assertIn(self.fake.url + "/v2/app/manifests/latest: skipped (malformed): ", result.stderr)
        self.assert_skipped_alone(result, "malformed")

    def test_empty_manifest(self):
        # Found by fuzzing: an empty body once crashed the parser.
        self.add_other_repository()
        self.fake.overrides["/v2/app/manifests/latest"] = (200, {"Content-Type": MANIFEST_TYPE}, b"")
        result = ritest.run_cli("-c", self.config(self.fake.url), "index", check=0)
        self.assertIn(self.fake.url + "/v2/app/manifests/latest: skipped (not-json): the manifest is empty",
                      result.stderr)
        self.assert_skipped_alone(result, "not-json")

    def test_deep_manifest(self):
        """Nesting json-glib would recurse through is refused before it."""
        self.add_other_repository()
        body = b'{"config": ' + b"[" * 100000 + b"]" * 100000 + b"}"
        self.fake.overrides["/v2/app/manifests/latest"] = (200, {"Content-Type": MANIFEST_TYPE}, body)
        result = ritest.run_cli("-c", self.config(self.fake.url), "index", check=0)
        self.assertIn(self.fake.url + "/v2/app/manifests/latest: skipped (too-deep): the manifest is nested too deeply",
                      result.stderr)
        self.assert_skipped_alone(result, "too-deep")

    def test_unknown_digest_algorithm(self):
        self.add_other_repository()
        manifest = json.loads(self.fake.routes["/v2/app/manifests/latest"][2])
        manifest["config"]["digest"] = "sha384:" + "0" * 96
        data = ri_testdata.canonical(manifest)
        headers = {"Content-Type": MANIFEST_TYPE, "Docker-Content-Digest": ri_testdata.sha256(data)}
        self.fake.overrides["/v2/app/manifests/latest"] = (200, headers, data)
        result = ritest.run_cli("-c", self.config(self.fake.url), "index", check=0)
        self.assertIn("skipped (unknown-digest-algorithm): the config digest 'sha384:", result.stderr)
        self.assert_skipped_alone(result, "unknown-digest-algorithm")
        self.assertFalse([p for p in self.fake.calls if "sha384" in p])

    def test_unusable_config(self):
        """A config that is not JSON, that lies about its size, or whose
        label is a number costs its image only."""
        self.add_other_repository()
        manifest = json.loads(self.fake.routes["/v2/app/manifests/latest"][2])
        for body, reason in ((b"\x89PNG\r\n", "not-json"),
                             (b'{"os": "linux", "config": {"Labels": {"a": 1}}}', "malformed"),
                             (b'{"os": "linux"}', "size-mismatch")):
            with self.subTest(reason=reason):
                manifest["config"]["digest"] = ri_testdata.sha256(body)
                manifest["config"]["size"] = len(body) + (reason == "size-mismatch")
                data = ri_testdata.canonical(manifest)
                headers = {"Content-Type": MANIFEST_TYPE, "Docker-Content-Digest": ri_testdata.sha256(data)}
                self.fake.overrides["/v2/app/manifests/latest"] = (200, headers, data)
                self.fake.overrides["/v2/app/blobs/" + ri_testdata.sha256(body)] = (200, {}, body)
                result = ritest.run_cli("-c", self.config(self.fake.url), "index", check=0)
                self.assertIn(self.fake.url + "/v2/app/blobs/%s: skipped (%s): " % (ri_testdata.sha256(body), reason),
                              result.stderr)
                self.assert_skipped_alone(result, reason)

    def test_digest_mismatch(self):
        status, headers, body = self.fake.routes["/v2/app/manifests/latest"]
        lie = dict(headers, **{"Docker-Content-Digest": "sha256:" + "0" * 64})
        self.fake.overrides["/v2/app/manifests/latest"] = (status, lie, body)
        result = ritest.run_cli("-c", self.config(self.fake.url), "index", check=1)
        self.assertIn("/v2/app/manifests/latest: the manifest's digest is", result.stderr)
        self.assert_kept()

    def test_child_served_in_place_of_another(self):
        """A list's child asked for by digest is refused when the registry
        answers with other bytes, even with a Docker-Content-Digest that is
        true of what it sent."""
        child, config = image_blobs(labels={"org.flatpak.ref": "app/x"})
        other, _ = image_blobs(arch="arm64", labels={"org.flatpak.ref": "app/x"})
        index = ri_testdata.canonical({
            "schemaVersion": 2, "mediaType": ri_testdata.OCI_INDEX,
            "manifests": [{"mediaType": MANIFEST_TYPE, "digest": ri_testdata.sha256(child), "size": len(child),
                           "platform": {"architecture": "amd64", "os": "linux"}}]})
        self.fake.overrides["/v2/app/manifests/latest"] = (
            200, {"Content-Type": ri_testdata.OCI_INDEX, "Docker-Content-Digest": ri_testdata.sha256(index)}, index)
        self.fake.overrides["/v2/app/manifests/" + ri_testdata.sha256(child)] = (
            200, {"Content-Type": MANIFEST_TYPE, "Docker-Content-Digest": ri_testdata.sha256(other)}, other)
        result = ritest.run_cli("-c", self.config(self.fake.url), "index", check=1)
        self.assertIn("the manifest's digest is %s, not the %s asked for"
                      % (ri_testdata.sha256(other), ri_testdata.sha256(child)), result.stderr)
        self.assert_kept()

    def test_blob_digest_mismatch(self):
        config_path = [p for p in self.fake.routes if "/blobs/" in p][0]
        self.fake.overrides[config_path] = (200, {}, b'{"architecture": "amd64", "os": "linux"}')
        result = ritest.run_cli("-c", self.config(self.fake.url), "index", check=1)
        self.assertIn("the blob's digest is", result.stderr)
        self.assert_kept()

    def test_oversized_manifest(self):
        self.fake.overrides["/v2/app/manifests/latest"] = (200, {"Content-Type": MANIFEST_TYPE},
                                                           b" " * (5 * 1024 * 1024))
        result = ritest.run_cli("-c", self.config(self.fake.url), "index", check=1)
        self.assertIn("larger than the limit", result.stderr)
        self.assert_kept()

    def test_blob_redirect_is_followed(self):
        config_path = [p for p in self.fake.routes if "/blobs/" in p][0]
        self.fake.routes["/storage/blob"] = self.fake.routes[config_path]
        self.fake.overrides[config_path] = (307, {"Location": self.fake.url + "/storage/blob"}, b"")
        ritest.run_cli("-c", self.config(self.fake.url), "index", check=0)
        self.assertEqual(self.fake.calls["/storage/blob"], 1)
        document, _ = self.load("out", "a.json")
        self.assertEqual(document["Results"][0]["Images"][0]["Labels"], {"org.flatpak.ref": "app/x"})

    def test_config_warnings_are_shown(self):
        path = self.write_config("indexes:\n  a:\n    output: out/a.json\n    registry: %s\n"
                                 "    architecture: ['amd64']\n" % self.fake.url)
        result = ritest.run_cli("-c", path, "index", check=0)
        self.assertIn("%s:5:5: unknown key 'architecture' in an index (did you mean 'architectures'?)" % path,
                      result.stderr)

    def test_server_error_is_retried(self):
        def flaky(call):
            if call == 1:
                return (503, {}, b"try later")
            return None
        self.fake.overrides["/v2/_catalog"] = flaky
        ritest.run_cli("-c", self.config(self.fake.url), "index", check=0)
        self.assertEqual(self.fake.calls["/v2/_catalog"], 2)
        document, _ = self.load("out", "a.json")
        self.assertEqual(len(document["Results"]), 1)

    def test_persistent_server_error(self):
        self.fake.overrides["/v2/_catalog"] = (500, {}, b"broken")
        result = ritest.run_cli("-c", self.config(self.fake.url), "index", check=1)
        self.assertIn("HTTP 500", result.stderr)
        self.assertEqual(self.fake.calls["/v2/_catalog"], 3)
        self.assert_kept()

    def test_client_error_is_not_retried(self):
        self.fake.overrides["/v2/_catalog"] = (403, {"Content-Type": "application/json"},
                                               b'{"errors":[{"code":"DENIED","message":"go away"}]}')
        result = ritest.run_cli("-c", self.config(self.fake.url), "index", check=1)
        self.assertIn("HTTP 403 Forbidden: go away (DENIED)", result.stderr)
        self.assertEqual(self.fake.calls["/v2/_catalog"], 1)
        self.assert_kept()

    def test_one_bad_registry_does_not_stop_another(self):
        bad = ritest.closed_port_url()
        result = ritest.run_cli("-c", self.config(bad, self.fake.url), "index", check=1)
        self.assert_kept("a")
        document, _ = self.load("out", "b.json")
        self.assertEqual(document["Results"][0]["Name"], "app")
        self.assertIn("1 of 2 indexes failed", result.stderr)

    def test_manifest_deleted_while_scanning(self):
        manifest, config = image_blobs()
        self.fake.close()
        self.fake = FakeRegistry({"app": {"latest": image_blobs(labels={"a": "b"})},
                                  "gone": {"latest": (manifest, config)}})
        self.addCleanup(self.fake.close)
        del self.fake.routes["/v2/gone/manifests/latest"]
        result = ritest.run_cli("-c", self.config(self.fake.url), "index", check=0)
        self.assertIn("/v2/gone/manifests/latest: HTTP 404", result.stderr)
        document, _ = self.load("out", "a.json")
        self.assertEqual([r["Name"] for r in document["Results"]], ["app"])

    def test_hostile_names(self):
        manifest, config = image_blobs()
        self.fake.close()
        self.fake = FakeRegistry({"app": {"latest": (manifest, config), "../x": (manifest, config)},
                                  "../../etc": {"latest": (manifest, config)},
                                  "a%2fb": {"latest": (manifest, config)},
                                  "bad\nname": {"latest": (manifest, config)}})
        self.addCleanup(self.fake.close)
        result = ritest.run_cli("-c", self.config(self.fake.url), "index", check=0)
        self.assertIn('skipping repository "../../etc"', result.stderr)
        self.assertIn('skipping repository "bad\\nname"', result.stderr)
        self.assertIn('skipping tag "../x"', result.stderr)
        document, _ = self.load("out", "a.json")
        self.assertEqual([r["Name"] for r in document["Results"]], ["app"])
        self.assertEqual(document["Results"][0]["Images"][0]["Tags"], ["latest"])
        requested = [p for p in self.fake.calls if ".." in p or "%2f" in p]
        self.assertEqual(requested, [])

    def test_null_tags(self):
        self.fake.overrides["/v2/app/tags/list"] = (200, {}, b'{"name": "app", "tags": null}')
        ritest.run_cli("-c", self.config(self.fake.url), "index", check=0)
        document, _ = self.load("out", "a.json")
        self.assertEqual(document["Results"], [])

    def test_config_error_before_any_request(self):
        path = self.write_config("indexes:\n  a:\n    output: out/a.json\n    registry: %s\n"
                                 "    tags: latest\n" % self.fake.url)
        result = ritest.run_cli("-c", path, "index", check=2)
        self.assertIn("%s:5:11: 'tags' must be a list" % path, result.stderr)
        self.assertEqual(self.fake.calls, {})
        self.assert_kept()

    def test_missing_config(self):
        result = ritest.run_cli("-c", self.path("nope.yaml"), "index", check=2)
        self.assertIn("nope.yaml", result.stderr)

    def test_unwritable_output(self):
        """Root ignores permissions: as root (CI), the CLI runs as nobody."""
        os.chmod(self.path("out"), 0o555)
        self.addCleanup(os.chmod, self.path("out"), 0o755)
        ritest.open_to_unprivileged(self.tmp)
        result = ritest.run_cli("-c", self.config(self.fake.url), "index", check=1, unprivileged=True)
        self.assertIn("out/a.json", result.stderr)
        self.assert_kept()


    def test_leftovers_of_killed_writes_are_removed(self):
        stale = self.path("out", ".a.json.AbC123")
        fresh = self.path("out", ".a.json.XyZ789")
        other = self.path("out", ".b.json.AbC123")
        unrelated = self.path("out", ".a.json.keep")
        for path in (stale, fresh, other, unrelated):
            with open(path, "w") as f:
                f.write("partial")
        for path in (stale, other, unrelated):
            os.utime(path, (1000000000, 1000000000))
        ritest.run_cli("-c", self.config(self.fake.url), "index", check=0)
        # The old leftover of this index goes; a recent one (a write that may
        # still be going on), another index's and anything else stay.
        self.assertFalse(os.path.exists(stale))
        for path in (fresh, other, unrelated):
            self.assertTrue(os.path.exists(path), path)

    def test_disk_full(self):
        """Writes that fail half-way (a full disk, here a file size limit)
        leave the old index and no temporary file behind."""
        import resource
        import signal as signals

        def limit():
            signals.signal(signals.SIGXFSZ, signals.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (64, 64))

        env = dict(os.environ, LC_ALL="C.UTF-8", DBUS_SYSTEM_BUS_ADDRESS="unix:path=/nonexistent",
                   XDG_CACHE_HOME=self.path("cache"))
        result = subprocess.run([ritest.CLI, "-c", self.config(self.fake.url), "index"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60,
                                preexec_fn=limit)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("Cannot write '%s'" % self.path("out", "a.json"), result.stderr)
        self.assert_kept()

    def test_output_directory_cannot_be_created(self):
        with open(self.path("blocker"), "w") as f:
            f.write("a file where a directory should be\n")
        path = self.write_config("indexes:\n  a:\n    output: blocker/sub/a.json\n    registry: %s\n"
                                 "  b:\n    output: out/b.json\n    registry: %s\n" % (self.fake.url, self.fake.url))
        result = ritest.run_cli("-c", path, "index", check=1)
        self.assertIn("Cannot create the directory", result.stderr)
        self.assertIn("blocker/sub", result.stderr)
        # The other index of the same registry is still written.
        document, _ = self.load("out", "b.json")
        self.assertEqual(document["Results"][0]["Name"], "app")


class StoppedRegistryTest(ritest.TempDirTestCase):
    def test_registry_stopped(self):
        ritest.skip_unless_registry()
        registry = ri_testdata.Registry(self.path("registry")).start()
        self.addCleanup(registry.stop)
        ri_testdata.push(registry.url, {"images": [{"repository": "app", "tags": ["latest"]}]})
        config = self.write_config("indexes:\n  a:\n    output: out/a.json\n    registry: %s\n" % registry.url)
        ritest.run_cli("-c", config, "index", check=0)
        with open(self.path("out", "a.json"), "rb") as f:
            before = f.read()
        registry.stop()
        result = ritest.run_cli("-c", config, "index", check=1)
        self.assertIn(registry.url, result.stderr)
        with open(self.path("out", "a.json"), "rb") as f:
            self.assertEqual(f.read(), before)


if __name__ == "__main__":
    ritest.main()
