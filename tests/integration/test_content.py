#!/usr/bin/python3
"""A registry holding what registries hold in 2026, all at once (issue 13):
signatures, attestations, SBOMs, OCI 1.1 artifacts and a referrers index,
Helm and WASM, buildx attestations, an index of indexes, Windows and arm/v7,
zstd layers, odd and unusable configs, a deleted child, every kind of
escape and a schema 1 manifest. Every index configuration is written, lists
exactly the images, skips and counts the rest, never fetches the config of a
non-image, and is text that strict parsers accept."""

import base64
import copy
import http.client
import fnmatch
import hashlib
import json
import os
import re

import ritest
from ritest import ri_testdata

ICON_KEYS = ("org.freedesktop.appstream.icon-64", "org.freedesktop.appstream.icon-128")
ICONS_URI = "https://cdn.example.com/icons/"

INDEXES = {
    "all": dict(tags=("*",)),
    "latest": dict(tags=("latest",)),
    "arm64": dict(tags=("*",), architectures=("arm64",)),
    "flatpak": dict(tags=("*",), required_labels=("org.flatpak.ref",)),
    "icons": dict(tags=("*",), extract_icons=True),
}

# What "latest" alone makes the scan fetch and skip, spelled out rather
# than derived: helm (tagged, and inside content/mixed), wasm, the two
# buildx attestations, the index of indexes, the deleted child and one
# schema 1 tag.
LATEST_SKIPPED = {"attestation": 2, "gone": 1, "helm-chart": 2, "list-without-images": 1, "schema1": 1,
                  "wasm": 1}


def icon_url(value):
    if not value.startswith("data:image/png;base64,"):
        return value
    digest = hashlib.sha256(base64.b64decode(value.split(",", 1)[1])).hexdigest()
    return ICONS_URI + digest[:2] + "/" + digest[2:] + ".png"


def expected_index(everything, registry, tags, architectures=None, required_labels=(), extract_icons=False):
    """The format's filters applied to what an index of every tag holds."""
    def keep(image):
        if architectures is not None and image["Architecture"] not in architectures:
            return False
        return all(name in image["Labels"] for name in required_labels)

    def rewrite(image):
        image = copy.deepcopy(image)
        if extract_icons:
            for key in ("Annotations", "Labels"):
                image[key] = {k: icon_url(v) if k in ICON_KEYS else v for k, v in image[key].items()}
        return image

    def selected(entry):
        return any(fnmatch.fnmatchcase(t, p) for t in entry["Tags"] for p in tags)

    results = []
    for name in sorted(everything):
        images = [rewrite(i) for i in everything[name]["Images"] if selected(i) and keep(i)]
        lists = []
        for entry in everything[name]["Lists"]:
            children = [rewrite(c) for c in entry["Images"] if keep(c)]
            if selected(entry) and children:
                lists.append(dict(entry, Images=children))
        if images or lists:
            results.append({"Name": name, "Images": images, "Lists": lists})
    return {"Registry": registry, "Results": results}


def strings_of(node):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from strings_of(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings_of(value)


class ContentTest(ritest.DaemonTestCase):
    registry_extra_config = ri_testdata.SCHEMA1_CONFIG
    registry_access_log = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pushed = ri_testdata.push_content(cls.registry.url, cls.registry_dir)

    def config_text(self, names):
        lines = ["icons_dir: icons", "icons_uri: %s" % ICONS_URI, "indexes:"]
        for name in names:
            options = INDEXES[name]
            lines += ["  %s:" % name, "    output: out/%s.json" % name, "    registry: %s" % self.registry.url,
                      "    tags: [%s]" % ", ".join("'%s'" % t for t in options["tags"])]
            for key in ("architectures", "required_labels"):
                if key in options:
                    lines.append("    %s: [%s]" % (key, ", ".join(options[key])))
            if options.get("extract_icons"):
                lines.append("    extract_icons: true")
        return "\n".join(lines) + "\n"

    def index(self, names):
        log_start = os.path.getsize(self.registry.log_path)
        config = self.write_config(self.config_text(names))
        result = ritest.run_cli("-v", "-c", config, "index", check=0)
        with open(self.registry.log_path, errors="replace") as f:
            f.seek(log_start)
            log = f.read()
        return result, log

    def skipped_line(self, result):
        match = re.search(r"^Skipped: (\d+) objects \((.*)\)$", result.stderr, re.M)
        self.assertIsNotNone(match, result.stderr)
        counts = dict((reason, int(n)) for n, reason in
                      (part.split(" ", 1) for part in match.group(2).split(", "))) if match.group(2) != "none" else {}
        self.assertEqual(int(match.group(1)), sum(counts.values()))
        return counts

    def strict_load(self, name):
        """Python's json over a strict UTF-8 decode, and json-glib."""
        with open(self.path("out", name + ".json"), "rb") as f:
            data = f.read()
        text = data.decode("utf-8", errors="strict")
        document = json.loads(text)
        for s in strings_of(document):
            s.encode("utf-8", errors="strict")  # no surrogate escapes either
        self.assertEqual(text, ritest.python_layout(document))
        try:
            import gi
            gi.require_version("Json", "1.0")
            from gi.repository import Json
        except (ImportError, ValueError):
            return document
        parser = Json.Parser()
        self.assertTrue(parser.load_from_data(text, len(data)))
        return document

    def test_every_configuration(self):
        result, log = self.index(list(INDEXES))
        self.assertIn("5 indexes written", result.stderr)
        for name, options in INDEXES.items():
            with self.subTest(index=name):
                document = self.strict_load(name)
                expected = expected_index(self.pushed["expected"], self.registry.url + "/", **options)
                self.assertEqual(document["Registry"], expected["Registry"])
                self.assertEqual([r["Name"] for r in document["Results"]],
                                 [r["Name"] for r in expected["Results"]])
                for got, want in zip(document["Results"], expected["Results"]):
                    self.assertEqual(got, want, "repository %s" % want["Name"])

        # Every skip counted by its reason, once for the registry.
        self.assertEqual(self.skipped_line(result), self.pushed["skipped"])
        total = sum(self.pushed["skipped"].values())
        self.assertRegex(result.stderr, r"5 indexes written \(5 changed\) in [0-9.]+ s; %d objects skipped \(" % total)

        # Unusable objects are warned about by URL and reason; schema 1 gets
        # one line per repository.
        self.assertRegex(result.stderr, r"/v2/content/configs/blobs/sha256:[0-9a-f]{64}: skipped \(not-json\)")
        self.assertRegex(result.stderr, r"/v2/content/configs/blobs/sha256:[0-9a-f]{64}: skipped \(size-mismatch\)")
        self.assertRegex(result.stderr, r"/v2/content/deleted/manifests/sha256:[0-9a-f]{64}: skipped \(gone\)")
        # (info lines go to stdout with GLib's default writer)
        self.assertEqual(result.stdout.count("Docker schema 1 manifests are not indexed"), 1, result.stdout)

        # Never a config blob of what is not an image; the images' are.
        fetched = set(re.findall(r"GET /v2/[^ ]*/blobs/(sha(?:256|512):[0-9a-f]+)", log))
        self.assertTrue(fetched)
        self.assertEqual(fetched & set(self.pushed["never_fetched"]), set())
        self.assertTrue(any(d.startswith("sha512:") for d in fetched))

    def test_spot_checks(self):
        """Facts spelled out, in case the test's model and the code shared a
        misreading."""
        self.index(["all", "icons"])
        everything = self.strict_load("all")
        names = [r["Name"] for r in everything["Results"]]
        for gone in ("content/helm", "content/wasm", "content/schema1"):
            self.assertNotIn(gone, names)
        by_name = {r["Name"]: r for r in everything["Results"]}
        app = by_name["content/app"]
        self.assertEqual([i["Tags"] for i in app["Images"]], [["1.0", "latest"]])
        self.assertEqual(app["Lists"], [])
        buildx = by_name["content/buildx"]["Lists"][0]["Images"]
        self.assertEqual([(i["OS"], i["Architecture"]) for i in buildx], [("linux", "amd64"), ("linux", "arm64")])
        self.assertEqual([list_["Tags"] for list_ in by_name["content/nested"]["Lists"]], [["inner"]])
        platforms = by_name["content/platforms"]["Lists"][0]["Images"]
        self.assertEqual([(i["OS"], i["Architecture"]) for i in platforms],
                         [("windows", "amd64"), ("linux", "arm"), ("linux", "amd64")])
        self.assertEqual(len(by_name["content/deleted"]["Lists"][0]["Images"]), 1)
        configs = {i["Tags"][0]: i for i in by_name["content/configs"]["Images"]}
        self.assertEqual(sorted(configs), ["latest", "noarch", "nullconfig", "sha512"])
        self.assertEqual((configs["noarch"]["OS"], configs["noarch"]["Architecture"]), ("", ""))
        self.assertEqual(configs["nullconfig"]["Labels"], {})
        labels = by_name["content/escapes"]["Images"][0]["Labels"]
        self.assertEqual(labels["l4"], "lone high \ufffd then x")
        self.assertEqual(labels["l7"], "nul \ufffd inside")
        self.assertEqual(labels["l3"], "pair \U0001F600 raw \U0001F600")
        # icons: stored once, referenced by URL
        icons = self.strict_load("icons")
        value = [r for r in icons["Results"] if r["Name"] == "content/app"][0]["Images"][0]["Labels"][ICON_KEYS[0]]
        self.assertTrue(value.startswith(ICONS_URI))
        self.assertTrue(os.path.exists(self.path("icons", value[len(ICONS_URI):])))

    def test_cached_run_agrees(self):
        """What the cache remembers is classified the same way again."""
        env = {"XDG_CACHE_HOME": self.path("cache")}
        config = self.write_config(self.config_text(["all"]))
        first = ritest.run_cli("-v", "-c", config, "index", env=env, check=0)
        with open(self.path("out", "all.json"), "rb") as f:
            written = f.read()
        second = ritest.run_cli("-v", "-c", config, "index", env=env, check=0)
        self.assertRegex(second.stderr, r"Cache: [1-9]\d* hits")
        self.assertEqual(self.skipped_line(second), self.skipped_line(first))
        self.assertEqual(self.skipped_line(second), self.pushed["skipped"])
        with open(self.path("out", "all.json"), "rb") as f:
            self.assertEqual(f.read(), written)

    def test_live_answers(self):
        """The daemon's live answers are the same valid text."""
        port = ri_testdata.free_port()
        self.start_daemon("indexes:\n  files:\n    registry: %s\n    output: %s\n    tags: ['*']\n"
                          "daemon:\n  http:\n    listen: [\"127.0.0.1:%d\"]\n    serve:\n      /: files\n"
                          % (self.registry.url, self.path("out", "files.json"), port))

        def get(path):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                connection.request("GET", path)
                response = connection.getresponse()
                return response.status, response.read()
            finally:
                connection.close()

        status, body = get("/index/static")
        self.assertEqual(status, 200)
        with open(self.path("out", "files.json"), "rb") as f:
            self.assertEqual(body, f.read())
        status, body = get("/index/static?repository=content/escapes")
        self.assertEqual(status, 200)
        document = json.loads(body.decode("utf-8", errors="strict"))
        (repository,) = document["Results"]
        self.assertEqual(repository["Images"][0]["Labels"],
                         self.pushed["expected"]["content/escapes"]["Images"][0]["Labels"])
        for s in strings_of(document):
            s.encode("utf-8", errors="strict")

    def test_daemon_reports_skips(self):
        """GetStatus() and ReindexFinished carry what was skipped, by reason,
        for the run and for each index; the run still succeeds."""
        self.start_daemon("indexes:\n  all:\n    registry: %s\n    output: %s\n    tags: ['*']\n"
                          "  latest:\n    registry: %s\n    output: %s\n    tags: [latest]\n"
                          % (self.registry.url, self.path("out", "all.json"),
                             self.registry.url, self.path("out", "latest.json")))
        job, success, message, details = self.client.wait_finished(1)
        self.assertTrue(success, message)
        total = sum(self.pushed["skipped"].values())
        self.assertIn("%d objects skipped" % total, message)
        # One scan serves both indexes, so the run counts each object once
        # and each index reports what that shared scan left out.
        self.assertEqual(details["skipped"], self.pushed["skipped"])
        self.assertEqual(details["indexes"]["all"]["skipped"], self.pushed["skipped"])
        self.assertEqual(details["indexes"]["latest"]["skipped"], self.pushed["skipped"])
        self.assertTrue(details["indexes"]["latest"]["success"])
        status = self.client.status()
        self.assertTrue(status["last-success"])
        self.assertEqual(status["skipped"], self.pushed["skipped"])
        self.assertEqual(status["indexes"]["all"]["skipped"], self.pushed["skipped"])
        self.assertEqual(status["indexes"]["latest"]["skipped"], self.pushed["skipped"])
        # And what an operator reads: the same counts, one line.
        result = ritest.run_cli("--session", "status", env={"DBUS_SESSION_BUS_ADDRESS": self.bus.address},
                                check=0)
        reasons = ", ".join("%d %s" % (n, reason) for reason, n in sorted(self.pushed["skipped"].items()))
        self.assertIn("Skipped:       %d objects (%s)\n" % (total, reasons), result.stdout)

    def test_latest_only(self):
        result, log = self.index(["latest"])
        document = self.strict_load("latest")
        self.assertEqual(document, expected_index(self.pushed["expected"], self.registry.url + "/",
                                                  **INDEXES["latest"]))
        self.assertEqual(self.skipped_line(result), LATEST_SKIPPED)
        fetched = set(re.findall(r"GET /v2/[^ ]*/blobs/(sha(?:256|512):[0-9a-f]+)", log))
        self.assertEqual(fetched & set(self.pushed["never_fetched"]), set())


if __name__ == "__main__":
    ritest.main()
