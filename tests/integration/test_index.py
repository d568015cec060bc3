#!/usr/bin/python3
"""regindexer index against a real registry: every field, every filter,
icons, layout and idempotence, checked against what was pushed."""

import base64
import copy
import fnmatch
import hashlib
import os
import time

import ritest
from ritest import ri_testdata

ICON_KEYS = ("org.freedesktop.appstream.icon-64", "org.freedesktop.appstream.icon-128")
RED = ri_testdata.png(8, 8, (255, 0, 0))
GREEN = ri_testdata.png(8, 8, (0, 255, 0))


def labels(app, arch, icon=None):
    return ri_testdata.flatpak_labels(app, arch, icon)


def spec():
    """What the registry holds: every shape the format distinguishes."""
    return [
        {"repository": "org.example.app", "tags": ["latest", "1.0", "stable"], "architecture": "amd64",
         "annotations": {"org.example.built": "yes", "org.freedesktop.appstream.icon-128": ri_testdata.data_uri(GREEN)},
         "labels": labels("org.example.App", "amd64", RED)},
        {"repository": "org.example.docker", "tags": ["latest"], "format": "docker", "architecture": "amd64",
         "labels": labels("org.example.Docker", "amd64")},
        {"repository": "org.example.multi", "tags": ["latest"],
         "annotations": {"org.example.list": "yes"},
         "list": [{"architecture": arch, "labels": labels("org.example.Multi", arch, RED),
                   "annotations": {"org.example.child": arch}}
                  for arch in ("amd64", "arm64", "ppc64le")]},
        {"repository": "org.example.dlist", "tags": ["v2", "latest"], "format": "docker",
         "list": [{"architecture": arch, "labels": labels("org.example.DList", arch)} for arch in ("arm64", "amd64")]},
        {"repository": "a/b/c", "tags": ["latest"], "architecture": "s390x", "labels": {"plain": "1"}},
        {"repository": "org.example.untagged", "tags": ["latest"], "architecture": "amd64",
         "labels": labels("org.example.Untagged", "amd64")},
        {"repository": "org.example.untagged", "tags": [], "architecture": "amd64",
         "labels": dict(labels("org.example.Untagged", "amd64"), hidden="1")},
        {"repository": "org.example.moved", "tags": ["latest"], "architecture": "amd64",
         "labels": dict(labels("org.example.Moved", "amd64"), generation="1")},
        {"repository": "org.example.moved", "tags": ["latest"], "architecture": "amd64",
         "labels": dict(labels("org.example.Moved", "amd64"), generation="2")},
        {"repository": "org.example.versions", "tags": ["1.0"], "architecture": "amd64",
         "labels": dict(labels("org.example.Versions", "amd64"), v="1")},
        {"repository": "org.example.versions", "tags": ["2.0", "10.0"], "architecture": "amd64",
         "labels": dict(labels("org.example.Versions", "amd64"), v="2")},
        # A flatpak ref as an annotation only: selected by required_annotations,
        # never by required_labels (the original mixed the two up).
        {"repository": "org.example.annotated", "tags": ["latest"], "architecture": "amd64",
         "annotations": {"org.flatpak.ref": "app/org.example.Annotated/x86_64/stable"}, "labels": {}},
        {"repository": "org.example.deleted", "tags": ["latest"], "architecture": "amd64", "labels": {}},
    ]


def icon_url(icons_uri, value):
    if not value.startswith("data:image/png;base64,"):
        return value
    digest = hashlib.sha256(base64.b64decode(value.split(",", 1)[1])).hexdigest()
    return icons_uri + digest[:2] + "/" + digest[2:] + ".png"


def expected_index(entries, registry, tags=("latest",), required_annotations=(), required_labels=(),
                   architectures=None, skip_flatpak_annotations=False, skip_flatpak_labels=False,
                   icons_uri=None):
    """The format document's rules, written independently of the C code."""
    repositories = {}
    for entry in entries:
        if entry.get("deleted"):
            repositories.setdefault(entry["repository"], {})
            continue
        for tag in entry["tags"]:
            repositories.setdefault(entry["repository"], {})[tag] = entry

    def keep(image):
        annotations = image.get("annotations") or {}
        if image.get("format") == "docker":
            annotations = {}
        if architectures is not None and image.get("architecture", "amd64") not in architectures:
            return False
        return (all(a in annotations for a in required_annotations)
                and all(name in (image.get("labels") or {}) for name in required_labels))

    def mapping(values, skip):
        out = {}
        for key, value in (values or {}).items():
            if skip and key.startswith(("org.freedesktop.", "org.flatpak.")):
                continue
            if icons_uri is not None and key in ICON_KEYS:
                value = icon_url(icons_uri, value)
            out[key] = value
        return out

    def image(entry, tag_list):
        annotations = {} if entry.get("format") == "docker" else entry.get("annotations")
        doc = {
            "Annotations": mapping(annotations, skip_flatpak_annotations),
            "Architecture": entry.get("architecture", "amd64"),
            "Digest": entry["digest"],
            "Labels": mapping(entry.get("labels"), skip_flatpak_labels),
            "MediaType": entry["media_type"],
            "OS": entry.get("os", "linux"),
        }
        if tag_list is not None:
            doc["Tags"] = tag_list
        return doc

    results = []
    for name in sorted(repositories):
        by_digest = {}
        for tag, entry in repositories[name].items():
            by_digest.setdefault(entry["digest"], (entry, []))[1].append(tag)
        images, lists = [], []
        for entry, tag_list in by_digest.values():
            tag_list = sorted(tag_list)
            if not any(fnmatch.fnmatchcase(t, p) for t in tag_list for p in tags):
                continue
            if "list" in entry:
                children = [image(child, None) for child in entry["list"] if keep(child)]
                if children:
                    lists.append({"Digest": entry["digest"], "Images": children,
                                  "MediaType": entry["media_type"], "Tags": tag_list})
            elif keep(entry):
                images.append(image(entry, tag_list))
        if images or lists:
            images.sort(key=lambda i: (i["Tags"], i["Digest"]))
            lists.sort(key=lambda i: (i["Tags"], i["Digest"]))
            results.append({"Images": images, "Lists": lists, "Name": name})
    return {"Registry": registry, "Results": results}


INDEXES = {
    "all": dict(tags=("*",)),
    "latest": dict(),
    "flatpak": dict(tags=("latest",), required_labels=("org.flatpak.ref",), architectures=("amd64",)),
    "annotated": dict(tags=("*",), required_annotations=("org.flatpak.ref",)),
    "versions": dict(tags=("?.0",)),
    "skip": dict(tags=("latest",), skip_flatpak_annotations=True, skip_flatpak_labels=True),
    "arm": dict(tags=("*",), architectures=("arm64",)),
    "icons": dict(tags=("latest", "stable"), required_labels=("org.flatpak.ref",)),
}


class IndexTest(ritest.RegistryTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.entries = cls.push(spec())
        deleted = [e for e in cls.entries if e["repository"] == "org.example.deleted"][0]
        ri_testdata.Client(cls.registry.url).delete_manifest("org.example.deleted", deleted["digest"])
        deleted["deleted"] = True

    def config_text(self):
        lines = ["icons_dir: icons", "icons_uri: https://cdn.example.com/icons", "indexes:"]
        for name, options in INDEXES.items():
            lines.append("  %s:" % name)
            lines.append("    output: out/%s.json" % name)
            lines.append("    registry: %s%s" % (self.registry.url, "/" if name == "all" else ""))
            if name == "flatpak":
                lines.append("    registry_public: https://registry.example.com/")
            if name == "icons":
                lines.append("    extract_icons: true")
            for key in ("tags", "required_annotations", "required_labels", "architectures"):
                if key in options:
                    lines.append("    %s: [%s]" % (key, ", ".join("'%s'" % v for v in options[key])))
            for key in ("skip_flatpak_annotations", "skip_flatpak_labels"):
                if options.get(key):
                    lines.append("    %s: true" % key)
        return "\n".join(lines) + "\n"

    def expected(self, name):
        registry = "https://registry.example.com/" if name == "flatpak" else self.registry.url + "/"
        icons_uri = "https://cdn.example.com/icons/" if name == "icons" else None
        return expected_index(self.entries, registry, icons_uri=icons_uri, **INDEXES[name])

    def run_all(self):
        config = self.write_config(self.config_text())
        return ritest.run_cli("-c", config, "index", check=0)

    def test_every_index_matches_the_format(self):
        self.run_all()
        for name in INDEXES:
            with self.subTest(index=name):
                document, text = self.load("out", name + ".json")
                self.assertEqual(document, self.expected(name))
                self.assertEqual(text, ritest.python_layout(document))

    def test_spot_checks(self):
        """A few facts spelled out, so that a shared misreading of the
        format by the test's model and the code would still show."""
        self.run_all()
        everything, _ = self.load("out", "all.json")
        names = [r["Name"] for r in everything["Results"]]
        self.assertEqual(names, sorted(names))
        self.assertIn("a/b/c", names)
        self.assertNotIn("org.example.deleted", names)
        app = [r for r in everything["Results"] if r["Name"] == "org.example.app"][0]
        self.assertEqual(app["Images"][0]["Tags"], ["1.0", "latest", "stable"])
        untagged = [r for r in everything["Results"] if r["Name"] == "org.example.untagged"][0]
        self.assertEqual(len(untagged["Images"]), 1)
        self.assertNotIn("hidden", untagged["Images"][0]["Labels"])
        moved = [r for r in everything["Results"] if r["Name"] == "org.example.moved"][0]
        self.assertEqual([i["Labels"]["generation"] for i in moved["Images"]], ["2"])
        docker = [r for r in everything["Results"] if r["Name"] == "org.example.docker"][0]
        self.assertEqual(docker["Images"][0]["Annotations"], {})
        self.assertEqual(docker["Images"][0]["MediaType"], ri_testdata.DOCKER_MANIFEST)

        flatpak, _ = self.load("out", "flatpak.json")
        self.assertEqual(flatpak["Registry"], "https://registry.example.com/")
        flatpak_names = [r["Name"] for r in flatpak["Results"]]
        self.assertNotIn("org.example.annotated", flatpak_names)
        self.assertNotIn("a/b/c", flatpak_names)
        multi = [r for r in flatpak["Results"] if r["Name"] == "org.example.multi"][0]
        self.assertEqual([i["Architecture"] for i in multi["Lists"][0]["Images"]], ["amd64"])
        self.assertNotIn("Tags", multi["Lists"][0]["Images"][0])

        annotated, _ = self.load("out", "annotated.json")
        self.assertEqual([r["Name"] for r in annotated["Results"]], ["org.example.annotated"])

        versions, _ = self.load("out", "versions.json")
        versioned = [r for r in versions["Results"] if r["Name"] == "org.example.versions"][0]
        self.assertEqual([i["Tags"] for i in versioned["Images"]], [["1.0"], ["10.0", "2.0"]])

        arm, _ = self.load("out", "arm.json")
        self.assertEqual(sorted(r["Name"] for r in arm["Results"]), ["org.example.dlist", "org.example.multi"])

        skip, _ = self.load("out", "skip.json")
        for repository in skip["Results"]:
            for image in repository["Images"]:
                for key in list(image["Labels"]) + list(image["Annotations"]):
                    self.assertFalse(key.startswith(("org.flatpak.", "org.freedesktop.")), key)

    def test_icons(self):
        self.run_all()
        icons, _ = self.load("out", "icons.json")
        app = [r for r in icons["Results"] if r["Name"] == "org.example.app"][0]["Images"][0]
        for key, png in (("org.freedesktop.appstream.icon-64", RED),
                         ("org.freedesktop.appstream.icon-128", GREEN)):
            where = app["Labels"] if key.endswith("64") else app["Annotations"]
            digest = hashlib.sha256(png).hexdigest()
            self.assertEqual(where[key], "https://cdn.example.com/icons/%s/%s.png" % (digest[:2], digest[2:]))
            with open(self.path("icons", digest[:2], digest[2:] + ".png"), "rb") as f:
                self.assertEqual(f.read(), png)
        # Rewriting for one index never leaks into another built from the
        # same scan (a bug of the original).
        everything, _ = self.load("out", "all.json")
        app = [r for r in everything["Results"] if r["Name"] == "org.example.app"][0]["Images"][0]
        self.assertTrue(app["Labels"]["org.freedesktop.appstream.icon-64"].startswith("data:image/png;base64,"))
        stored = sorted(os.path.join(d, f) for d, _, files in os.walk(self.path("icons"))
                        for f in files if f.endswith(".png"))
        self.assertEqual(len(stored), 2)

    def test_second_run_leaves_files_alone(self):
        self.run_all()
        before = {}
        for name in INDEXES:
            path = self.path("out", name + ".json")
            os.utime(path, (1000000000, 1000000000))
            before[name] = (os.stat(path).st_ino, open(path, "rb").read())
        result = self.run_all()
        self.assertIn("unchanged", result.stdout)
        for name in INDEXES:
            path = self.path("out", name + ".json")
            self.assertEqual(os.stat(path).st_mtime, 1000000000, name)
            self.assertEqual((os.stat(path).st_ino, open(path, "rb").read()), before[name])
        self.assertEqual(sorted(os.listdir(self.path("out"))), sorted(n + ".json" for n in INDEXES))

    def test_mode_and_parents(self):
        os.umask(0o077)
        try:
            self.run_all()
        finally:
            os.umask(0o022)
        self.assertEqual(os.stat(self.path("out", "all.json")).st_mode & 0o777, 0o644)

    def test_some_indexes(self):
        config = self.write_config(self.config_text())
        result = ritest.run_cli("-c", config, "index", "latest", "arm", check=0)
        self.assertEqual(sorted(os.listdir(self.path("out"))), ["arm.json", "latest.json"])
        self.assertIn("latest:", result.stdout)

    def test_unknown_index(self):
        config = self.write_config(self.config_text())
        result = ritest.run_cli("-c", config, "index", "nope", check=2)
        self.assertIn("There is no index 'nope'", result.stderr)
        self.assertFalse(os.path.exists(self.path("out")))


class IconLifetimeTest(ritest.RegistryTestCase):
    """Icons that no index references any more go only after a complete,
    successful run and a grace period; never when no index extracts."""

    def config(self, tags, grace, extract=True):
        return self.write_config(
            "icons_dir: icons\nicons_uri: /icons/\nicons_grace_period: %d\nindexes:\n"
            "  a:\n    output: a.json\n    registry: %s\n    tags: %s\n    extract_icons: %s\n"
            % (grace, self.registry.url, tags, "true" if extract else "false"))

    def icons(self):
        return sorted(os.path.join(os.path.basename(d), f) for d, _, files in os.walk(self.path("icons"))
                      for f in files if f.endswith(".png"))

    def test_grace_period(self):
        self.push([{"repository": "app", "tags": ["one"], "labels": labels("org.example.One", "amd64", RED)},
                   {"repository": "app", "tags": ["two"], "labels": labels("org.example.Two", "amd64", GREEN)}])
        ritest.run_cli("-c", self.config("['*']", 3600), "index", check=0)
        self.assertEqual(len(self.icons()), 2)
        # 'two' no longer indexed: its icon is kept during the grace period…
        ritest.run_cli("-c", self.config("['one']", 3600), "index", check=0)
        self.assertEqual(len(self.icons()), 2)
        # …and while no index extracts icons at all…
        ritest.run_cli("-c", self.config("['one']", 0, extract=False), "index", check=0)
        self.assertEqual(len(self.icons()), 2)
        # …and after a failed run…
        broken = self.write_config(
            "icons_dir: icons\nicons_uri: /icons/\nicons_grace_period: 0\nindexes:\n"
            "  a:\n    output: a.json\n    registry: %s\n    tags: ['one']\n    extract_icons: true\n"
            "  b:\n    output: b.json\n    registry: %s\n" % (self.registry.url, ritest.closed_port_url()),
            name="broken.yaml")
        ritest.run_cli("-c", broken, "index", check=1)
        self.assertEqual(len(self.icons()), 2)
        # …and after a run of only some indexes.
        ritest.run_cli("-c", self.config("['one']", 0), "index", "a", check=0)
        self.assertEqual(len(self.icons()), 2)
        # A full successful run past the grace period removes it.
        ritest.run_cli("-c", self.config("['one']", 0), "index", check=0)
        red = hashlib.sha256(RED).hexdigest()
        self.assertEqual(self.icons(), ["%s/%s.png" % (red[:2], red[2:])])
        # Files that are not icons are never touched.
        with open(self.path("icons", "README"), "w") as f:
            f.write("not an icon\n")
        ritest.run_cli("-c", self.config("['nothing']", 0), "index", check=0)
        self.assertEqual(self.icons(), [])
        self.assertTrue(os.path.exists(self.path("icons", "README")))


class PagingTest(ritest.RegistryTestCase):
    """A registry of a few hundred repositories whose catalog pages hold 100
    names, and which refuses n=1000 with 400: the scan must still see every
    repository, following Link headers."""

    registry_extra_config = "catalog:\n  maxentries: 100\n"

    def test_many_pages(self):
        entries = [{"repository": "page/repo%03d" % i, "tags": ["latest", "v%d" % (i % 3)],
                    "architecture": "amd64", "labels": {"n": str(i)}} for i in range(320)]
        self.push(entries)
        config = self.write_config("indexes:\n  all:\n    output: all.json\n    registry: %s\n"
                                   "  v1:\n    output: v1.json\n    registry: %s\n    tags: ['v1']\n"
                                   % (self.registry.url, self.registry.url))
        result = ritest.run_cli("-v", "-c", config, "index", check=0)
        document, _ = self.load("all.json")
        self.assertEqual(document, expected_index(entries, self.registry.url + "/"))
        document, _ = self.load("v1.json")
        self.assertEqual(len(document["Results"]), len([i for i in range(320) if i % 3 == 1]))
        # One refused first page, then four pages of 100; one tag list per
        # repository; one manifest per selected tag, a HEAD for the others;
        # one config blob per image. (v1 selects 107 more tags.)
        self.assertIn("Requests: 5 catalog pages, 320 tag pages, 427 manifests, 213 manifest HEADs, "
                      "320 blobs", result.stderr)


if __name__ == "__main__":
    ritest.main()
