#!/usr/bin/python3
"""Never ask twice: request counts of cold, warm and partly changed scans,
the on-disk cache's integrity, the daemon's memory across runs, pruning,
and the bound on requests in flight."""

import os
import re
import shutil
import subprocess

import ritest
import services
from ritest import ri_testdata


def counts(stderr):
    match = re.search(r"Requests: (\d+) catalog pages, (\d+) tag pages, (\d+) manifests, (\d+) manifest HEADs, "
                      r"(\d+) blobs", stderr)
    assert match, stderr
    return dict(zip(("catalog", "tags", "manifest", "head", "blob"), map(int, match.groups())))


def pack_records(cache):
    """The entries of the cache's packs: [(path, digest, offset, size)]."""
    records = []
    packs = os.path.join(cache, "packs")
    for name in sorted(os.listdir(packs)) if os.path.isdir(packs) else []:
        if name.startswith(".") or not name.endswith(".pack"):
            continue
        path = os.path.join(packs, name)
        with open(path, "rb") as f:
            data = f.read()
        pos = 0
        while pos < len(data):
            newline = data.index(b"\n", pos)
            digest, size = data[pos:newline].decode().split(" ")
            records.append((path, digest, newline + 1, int(size)))
            pos = newline + 1 + int(size)
    return records


def spec():
    return [
        {"repository": "one", "tags": ["latest", "1.0"], "labels": {"n": "1"}},       # two tags, one manifest
        {"repository": "two", "tags": ["latest"], "labels": {"n": "2"}},
        {"repository": "two", "tags": ["old"], "labels": {"n": "2-old"}},
        {"repository": "multi", "tags": ["latest"],
         "list": [{"architecture": "amd64", "labels": {"n": "m"}}, {"architecture": "arm64", "labels": {"n": "m"}}]},
        {"repository": "shared", "tags": ["latest"], "labels": {"n": "1"}},           # same config as 'one'
    ]


class CacheTest(ritest.RegistryTestCase):
    def setUp(self):
        super().setUp()
        # Each test gets a registry state of its own to change.
        self.registry.stop()
        shutil.rmtree(os.path.join(self.registry_dir, "storage"), ignore_errors=True)
        self.registry.start()
        self.entries = self.push(spec())
        self.cache = self.path("cache")
        self.config = self.write_config(
            "indexes:\n"
            "  all:\n    output: out/all.json\n    registry: %(url)s\n    tags: ['*']\n"
            "  latest:\n    output: out/latest.json\n    registry: %(url)s\n" % {"url": self.registry.url})

    def index(self, *args, check=0, env=None):
        result = ritest.run_cli("-v", "--cache-dir", self.cache, "-c", self.config, "index", *args,
                                check=check, env=env)
        return counts(result.stderr), result

    def files(self):
        return {name: open(self.path("out", name), "rb").read() for name in os.listdir(self.path("out"))}

    def cache_entries(self):
        digests = [digest for _, digest, _, _ in pack_records(self.cache)]
        # Each entry once: a run stores only what no pack holds yet.
        self.assertEqual(len(digests), len(set(digests)))
        return sorted(digests)

    def test_cold_warm_changed(self):
        cold, _ = self.index()
        # One catalog page, a tag list per repository, one GET per tag (six:
        # nothing is known yet), the list's two children, one blob per
        # distinct config (one and shared share theirs): 4 + 2 - 1 = 5.
        self.assertEqual(cold, {"catalog": 1, "tags": 4, "manifest": 6 + 2, "head": 0, "blob": 5})
        first = self.files()

        warm, result = self.index()
        # Only HEADs: every manifest and config blob comes from the cache.
        self.assertEqual(warm, {"catalog": 1, "tags": 4, "manifest": 0, "head": 6, "blob": 0})
        self.assertIn("unchanged", result.stdout)
        self.assertEqual(self.files(), first)

        # Move one tag to a new image: exactly its manifest and config.
        self.push([{"repository": "two", "tags": ["latest"], "labels": {"n": "2-new"}}])
        changed, _ = self.index()
        self.assertEqual(changed, {"catalog": 1, "tags": 4, "manifest": 1, "head": 6, "blob": 1})
        document, _ = self.load("out", "all.json")
        two = [r for r in document["Results"] if r["Name"] == "two"][0]
        self.assertEqual(sorted(i["Labels"]["n"] for i in two["Images"]), ["2-new", "2-old"])

    def test_new_tag_is_fetched_directly(self):
        self.index()
        self.push([{"repository": "one", "tags": ["2.0"], "labels": {"n": "1-two"}}])
        changed, _ = self.index()
        # The new tag: one GET (not HEAD + GET) and its blob.
        self.assertEqual((changed["manifest"], changed["head"], changed["blob"]), (1, 6, 1))

    def test_corrupt_entry_is_refetched(self):
        self.index()
        first = self.files()
        victim = [e for e in self.entries if e["repository"] == "two" and e["tags"] == ["latest"]][0]
        path, _, offset, size = [r for r in pack_records(self.cache) if r[1] == victim["config_digest"]][0]
        with open(path, "r+b") as f:
            f.seek(offset)
            body = f.read(size)
            self.assertIn(b'"2"', body)
            f.seek(offset)
            f.write(body.replace(b'"2"', b'"6"'))
        warm, result = self.index()
        self.assertIn("does not match its digest; dropping it", result.stderr)
        self.assertEqual((warm["manifest"], warm["blob"]), (0, 1))
        self.assertEqual(self.files(), first)
        # Fetched again and kept, the corrupt copy gone with its pack.
        warm, result = self.index()
        self.assertNotIn("does not match", result.stderr)
        self.assertEqual((warm["manifest"], warm["blob"]), (0, 0))
        self.assertIn(victim["config_digest"], self.cache_entries())

    def test_entries_of_the_older_layout_are_read(self):
        self.index()
        # Every entry moved to DIR/sha256/XX/REST, as older versions kept them.
        for path, digest, offset, size in pack_records(self.cache):
            hex_digest = digest.split(":")[1]
            os.makedirs(os.path.join(self.cache, "sha256", hex_digest[:2]), exist_ok=True)
            with open(path, "rb") as f:
                f.seek(offset)
                body = f.read(size)
            with open(os.path.join(self.cache, "sha256", hex_digest[:2], hex_digest[2:]), "wb") as f:
                f.write(body)
        shutil.rmtree(os.path.join(self.cache, "packs"))
        warm, _ = self.index()
        self.assertEqual(warm, {"catalog": 1, "tags": 4, "manifest": 0, "head": 6, "blob": 0})

    def test_unwritable_cache_directory(self):
        with open(self.path("blocker"), "w") as f:
            f.write("a file, not a directory\n")
        self.cache = self.path("blocker", "cache")
        cold, result = self.index()
        self.assertIn("caching in memory only", result.stderr)
        self.assertEqual(cold["manifest"], 8)
        document, _ = self.load("out", "all.json")
        self.assertEqual(len(document["Results"]), 4)

    def test_pruned_when_no_longer_referenced(self):
        extra = self.push([{"repository": "two", "tags": ["t%d" % i], "labels": {"n": "t%d" % i}}
                           for i in range(10)])
        self.index()
        before = self.cache_entries()
        packs = sorted(path for path, _, _, _ in pack_records(self.cache))
        client = ri_testdata.Client(self.registry.url)
        gone = [e for e in self.entries if e["repository"] == "two" and e["tags"] == ["old"]][0]
        client.delete_manifest("two", gone["digest"])
        # A small share of the pack no longer referenced: it is left as it
        # is, and the index is right.
        _, result = self.index()
        self.assertIn(" 0 pruned", result.stderr)
        self.assertEqual(self.cache_entries(), before)
        self.assertEqual(sorted(path for path, _, _, _ in pack_records(self.cache)), packs)
        self.assertNotIn(b'"old"', self.files()["all.json"])
        # What such a pack still holds is still found: the image tagged
        # again, its config comes from the cache.
        again = self.push([{"repository": "two", "tags": ["old"], "labels": {"n": "2-old"}}])[0]
        self.assertEqual(again["config_digest"], gone["config_digest"])
        requests, _ = self.index()
        self.assertEqual((requests["manifest"], requests["blob"]), (1, 0))
        self.assertIn(b'"old"', self.files()["all.json"])
        # Most of it unreferenced: rewritten, without what is no longer
        # referenced.
        for e in extra:
            client.delete_manifest("two", e["digest"])
        _, result = self.index()
        self.assertIn(" 20 pruned", result.stderr)
        after = self.cache_entries()
        removed = set(before) - set(after)
        self.assertEqual(removed, {e["digest"] for e in extra} | {e["config_digest"] for e in extra})
        self.assertEqual(len(after), len(before) - 20)
        self.assertFalse(set(packs) & {path for path, _, _, _ in pack_records(self.cache)})
        # A partial run prunes nothing.
        self.push([{"repository": "two", "tags": ["newer"], "labels": {"n": "x"}}])
        self.index("latest")
        self.index("latest")
        self.assertTrue(set(after) <= set(self.cache_entries()))

    def test_many_packs_are_merged_smallest_first(self):
        self.index()
        first = {path for path, _, _, _ in pack_records(self.cache)}
        # Each run that finds something new stores it in a pack of its own.
        for i in range(9):
            self.push([{"repository": "grow", "tags": ["v%d" % i], "labels": {"n": "g%d" % i}}])
            self.index()
        paths = {path for path, _, _, _ in pack_records(self.cache)}
        # Never more than MAX_PACKS (8); the large first pack is not copied.
        self.assertLessEqual(len(paths), 8)
        self.assertTrue(first <= paths)
        digests = self.cache_entries()
        _, result = self.index()
        self.assertEqual(counts(result.stderr)["manifest"], 0)
        self.assertEqual(self.cache_entries(), digests)


class DaemonCacheTest(ritest.DaemonTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.push(spec())

    def test_memory_cache_across_runs(self):
        # An unusable directory: only the daemon's memory can help.
        with open(self.path("blocker"), "w") as f:
            f.write("x\n")
        self.start_daemon("indexes:\n  all:\n    output: out/all.json\n    registry: %s\n    tags: ['*']\n"
                          % self.registry.url, extra_args=["--cache-dir", self.path("blocker", "cache")])
        first = self.client.finished(1)[3]["requests"]
        self.assertEqual((first["manifest"], first["blob"]), (8, 5))
        job = self.client.reindex()
        second = self.client.wait_finished(job)[3]["requests"]
        self.assertEqual((second["manifest"], second["manifest-head"], second["blob"]), (0, 6, 0))
        self.assertGreater(second["cache-hits"], 0)
        self.assertIn("caching in memory only", self.daemon.output())


class ConcurrencyTest(ritest.RegistryTestCase):
    def test_bound_is_respected(self):
        self.push([{"repository": "c%02d" % i, "tags": ["latest"], "labels": {"i": str(i)}} for i in range(30)])
        proxy = services.FaultProxy(self.registry.port, delay=0.05)
        self.addCleanup(proxy.close)
        config = self.write_config("indexes:\n  all:\n    output: all.json\n    registry: %s\n"
                                   "registries:\n  %s:\n    max_connections: 3\n" % (proxy.url, proxy.url))
        ritest.run_cli("-c", config, "index", check=0)
        self.assertLessEqual(proxy.max_in_flight, 3)
        # And it does overlap requests (30 tag lists were queued at once).
        self.assertGreaterEqual(proxy.max_in_flight, 2)
        # Over connections kept alive: 91 requests, no more connections
        # than the bound.
        self.assertEqual(len(proxy.requests), 1 + 30 + 30 + 30)
        self.assertLessEqual(len(proxy.connections), 3)


class ProgressTest(ritest.RegistryTestCase):
    """On a terminal a long run says how far it has got; off one, it
    does not (log lines and the summary only), and -q silences it."""

    def test_progress_on_a_terminal_only(self):
        self.push([{"repository": "p%02d" % i, "tags": ["latest"], "labels": {"i": str(i)}} for i in range(20)])
        proxy = services.FaultProxy(self.registry.port, delay=0.05)
        self.addCleanup(proxy.close)
        config = self.write_config("indexes:\n  all:\n    output: all.json\n    registry: %s\n"
                                   "registries:\n  %s:\n    max_connections: 2\n" % (proxy.url, proxy.url))
        command = "%s --no-daemon --cache-dir %s -c %s index" % (ritest.CLI, self.path("cache"), config)
        on_terminal = subprocess.run(["script", "-qec", command, "/dev/null"], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, timeout=120)
        self.assertEqual(on_terminal.returncode, 0, on_terminal.stdout)
        self.assertRegex(on_terminal.stdout, r"Scanning: \d+ of 20 repositories listed, \d+ requests \(\d+/s\)")
        self.assertIn("all: 20 repositories, 20 images", on_terminal.stdout)

        quiet = subprocess.run(["script", "-qec", command.replace(" index", " -q index"), "/dev/null"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
        self.assertNotIn("Scanning:", quiet.stdout)
        off_terminal = ritest.run_cli("--no-daemon", "-c", config, "index", check=0)
        self.assertNotIn("Scanning:", off_terminal.stderr + off_terminal.stdout)


if __name__ == "__main__":
    ritest.main()
