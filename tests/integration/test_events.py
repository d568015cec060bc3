#!/usr/bin/python3
"""Registry notifications: a real docker-registry posting its events to the
daemon's /events, and what the daemon makes of them.

The registry is configured (as a site would) with a notification endpoint
at the daemon's port and a bearer token. A push or delete refreshes that
repository alone, in the files and in live queries; refused posts change
nothing.
"""

import json
import os
import re
import time

import ritest
from ritest import ri_testdata
from test_http import HttpClient, names

TOKEN = "s3cret-token-for-tests"


class EventsTest(ritest.DaemonTestCase):
    registry_access_log = True

    @classmethod
    def setUpClass(cls):
        cls.http_port = ri_testdata.free_port()
        cls.registry_extra_config = (
            "notifications:\n"
            "  endpoints:\n"
            "    - name: regindexer\n"
            "      url: http://127.0.0.1:%d/events\n"
            "      headers:\n"
            "        Authorization: [Bearer %s]\n"
            "      timeout: 5s\n"
            "      threshold: 100\n"
            "      backoff: 200ms\n" % (cls.http_port, TOKEN))
        super().setUpClass()

    def setUp(self):
        super().setUp()
        token_file = self.path("events-token")
        with open(token_file, "w") as f:
            f.write(TOKEN + "\n")
        os.chmod(token_file, 0o600)
        self.output = self.path("out", "index.json")
        self.start_daemon(
            "indexes:\n"
            "  all:\n    registry: %s\n    output: %s\n    tags: ['*']\n"
            "daemon:\n"
            "  coalesce_delay: 100\n"
            "  http:\n"
            "    listen: ['127.0.0.1:%d']\n"
            "    serve: {/: all}\n"
            "    events: true\n"
            "    events_token_file: %s\n" % (self.registry.url, self.output, self.http_port, token_file))
        self.http = HttpClient(self.http_port)

    def tags_in_file(self, repository):
        if not os.path.exists(self.output):
            return set()
        with open(self.output) as f:
            document = json.load(f)
        return {tag for entry in document["Results"] if entry["Name"] == repository
                for image in entry["Images"] + entry["Lists"] for tag in image["Tags"]}

    def tags_live(self, repository):
        document = self.http.query("repository=" + repository)
        return {tag for entry in document["Results"] for image in entry["Images"] + entry["Lists"]
                for tag in image["Tags"]}

    def wait_for_tags(self, repository, expected):
        """Waits (bounded) until the file and the live answer both show
        exactly EXPECTED; returns how long that took."""
        start = time.monotonic()
        ritest.wait_for(lambda: self.tags_in_file(repository) == expected and
                        self.tags_live(repository) == expected,
                        timeout=60, message="%s to have tags %s" % (repository, sorted(expected)))
        return time.monotonic() - start

    def push_image(self, repository, tag, version):
        return self.push([{"repository": repository, "tags": [tag], "architecture": "amd64",
                           "labels": {"org.example.version": version}}])[0]

    def registry_log_offset(self):
        return os.path.getsize(self.registry.log_path)

    def regindexer_requests_since(self, offset):
        with open(self.registry.log_path, errors="replace") as f:
            f.seek(offset)
            lines = [line for line in f if "regindexer/" in line]
        return [m.group(2) for m in (re.search(r'"(GET|HEAD) (\S+) HTTP', line) for line in lines) if m]

    def test_a_push_refreshes_only_its_repository(self):
        self.push_image("org.example.other", "latest", "1")
        self.wait_for_tags("org.example.other", {"latest"})
        self.push_image("org.example.one", "latest", "1")
        self.wait_for_tags("org.example.one", {"latest"})
        self.client.wait_idle()

        offset = self.registry_log_offset()
        self.push_image("org.example.one", "v2", "2")
        elapsed = self.wait_for_tags("org.example.one", {"latest", "v2"})
        self.client.wait_idle()
        print("\n  a pushed tag was indexed %.2f s after the push" % elapsed)

        status = self.client.status()
        requests = status["requests"]
        self.assertEqual(requests["catalog"], 0)
        self.assertEqual(requests["tags"], 1)
        self.assertEqual(requests["manifest"], 1)       # the new tag
        self.assertEqual(requests["manifest-head"], 1)  # the tag it knew
        self.assertEqual(requests["blob"], 1)           # the new config blob only
        fetched = self.regindexer_requests_since(offset)
        self.assertTrue(fetched)
        for path in fetched:
            self.assertTrue(path.startswith("/v2/org.example.one/"), path)
        self.assertEqual(self.tags_in_file("org.example.other"), {"latest"})
        # One manifest push each: three refreshes, not one per event.
        self.assertEqual(status["http"]["refreshes"], 3)
        self.assertEqual(status["http"]["event-posts-rejected"], 0)
        started = [args for _, name, args in self.client.signals if name == "ReindexStarted"]
        self.assertEqual(started[-1][1], ["all"])

    def test_after_a_reload_a_push_rescans_the_registry_whole(self):
        # Models built under the previous configuration may lack what the
        # new one selects: the first refresh after a reload scans all.
        self.push_image("org.example.reload", "latest", "1")
        self.wait_for_tags("org.example.reload", {"latest"})
        self.client.wait_idle()
        with open(self.config_path) as f:
            config = f.read()
        with open(self.config_path, "w") as f:
            f.write(config.replace("    tags: ['*']\n", "    tags: ['*']\n    architectures: [amd64]\n"))
        self.client.call("Reload")
        self.push_image("org.example.reload", "v2", "2")
        self.wait_for_tags("org.example.reload", {"latest", "v2"})
        self.client.wait_idle()
        self.assertEqual(self.client.status()["requests"]["catalog"], 1)
        # …and the next one refreshes only its repository again.
        self.push_image("org.example.reload", "v3", "3")
        self.wait_for_tags("org.example.reload", {"latest", "v2", "v3"})
        self.client.wait_idle()
        requests = self.client.status()["requests"]
        self.assertEqual((requests["catalog"], requests["tags"]), (0, 1))

    def test_a_deleted_tag_disappears(self):
        self.push_image("org.example.del", "keep", "1")
        gone = self.push_image("org.example.del", "gone", "2")
        self.wait_for_tags("org.example.del", {"keep", "gone"})
        client = ri_testdata.Client(self.registry.url)
        try:
            client.delete_manifest("org.example.del", gone["digest"])
        finally:
            client.close()
        self.wait_for_tags("org.example.del", {"keep"})
        self.client.wait_idle()
        self.assertEqual(self.client.status()["last-success"], True)

    def test_refused_posts_change_nothing(self):
        self.client.wait_idle()
        before = self.client.status()
        envelope = json.dumps({"events": [{"action": "push", "target": {
            "repository": "org.example.x", "tag": "latest",
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "url": self.registry.url + "/v2/org.example.x/manifests/latest"}}]}).encode()
        media = {"Content-Type": "application/vnd.docker.distribution.events.v1+json"}
        good = dict(media, Authorization="Bearer " + TOKEN)
        cases = [
            (media, envelope, 401),
            (dict(media, Authorization="Bearer wrong"), envelope, 401),
            (dict(media, Authorization="Bearer " + TOKEN + "x"), envelope, 401),
            (dict(good, **{"Content-Type": "text/plain"}), envelope, 415),
            (good, b"{not json", 400),
            (good, b'{"events": {}}', 400),
            (good, b'{"events": [{"action": "push", "target": {"repository": "UPPER"}}]}', 400),
            (good, b'{"events": [{"action": "push", "target": {"repository": "a", "tag": 5}}]}', 400),
            (good, b'{"events": [{"action": "push"}]}', 400),
            (good, b" " * (1024 * 1024 + 1), 413),
        ]
        for headers, body, expected in cases:
            status, response_headers, text = self.http.request("POST", "/events", headers, body)
            self.assertEqual(status, expected, (headers, body[:80], text))
            if expected == 401:
                self.assertEqual(response_headers["www-authenticate"], 'Bearer realm="regindexer"')
        # A body without a length, too large once it has arrived in part.
        status, _, _ = self.http.request("POST", "/events", good, iter([b" " * 600000, b" " * 600000]),
                                         chunked=True)
        self.assertEqual(status, 413)
        # A valid post naming a registry nobody configured is refused too.
        status, _, text = self.http.request("POST", "/events?registry=http://127.0.0.1:1", good, envelope)
        self.assertEqual(status, 400, text)
        self.assertEqual(self.http.request("GET", "/events")[0], 405)

        after = self.client.status()
        self.assertEqual(after["last-job"], before["last-job"])
        self.assertEqual(after["pending-job"], 0)
        self.assertEqual(after["http"]["event-posts-rejected"], len(cases) + 2)
        self.assertEqual(after["http"]["refreshes"], before["http"]["refreshes"])

    def test_repositories_not_indexed_are_not_refreshed(self):
        with open(self.config_path) as f:
            config = f.read()
        with open(self.config_path, "w") as f:
            f.write(config + "registries:\n  %s:\n    repositories: ['org.example.*']\n" % self.registry.url)
        self.client.call("Reload")
        headers = {"Content-Type": "application/vnd.docker.distribution.events.v1+json",
                   "Authorization": "Bearer " + TOKEN}
        for repository, queued in (("other/app", 0), ("org.example.app", 1)):
            envelope = {"events": [{"action": "push", "target": {
                "repository": repository, "tag": "latest",
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "url": "%s/v2/%s/manifests/latest" % (self.registry.url, repository)}}]}
            status, _, text = self.http.request("POST", "/events", headers, json.dumps(envelope).encode())
            self.assertEqual(status, 202, text)
            self.assertIn("1 events, %d refreshes queued" % queued, text.decode())
        self.client.wait_idle()

    def test_a_burst_coalesces(self):
        self.push_image("org.example.burst", "latest", "1")
        self.wait_for_tags("org.example.burst", {"latest"})
        self.client.wait_idle()
        first_new_signal = len(self.client.signals)
        headers = {"Content-Type": "application/vnd.docker.distribution.events.v1+json",
                   "Authorization": "Bearer " + TOKEN}
        event = {"action": "push", "target": {
            "repository": "org.example.burst", "tag": "latest",
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "url": self.registry.url + "/v2/org.example.burst/manifests/latest"}}
        pull = {"action": "pull", "target": dict(event["target"])}
        elsewhere = {"action": "push", "target": dict(event["target"], url="http://192.0.2.1:5000/v2/x")}
        for _ in range(5):
            status, _, text = self.http.request("POST", "/events", headers,
                                                json.dumps({"events": [event] * 4 + [pull, elsewhere]}).encode())
            self.assertEqual(status, 202, text)
            self.assertIn("6 events, 4 refreshes queued, 1 for no configured registry", text.decode())
        self.client.wait_idle()
        started = [args for _, name, args in self.client.signals[first_new_signal:] if name == "ReindexStarted"]
        self.assertGreaterEqual(len(started), 1)
        self.assertLessEqual(len(started), 2)
        self.assertEqual(self.client.status()["http"]["events-unmatched"], 5)


if __name__ == "__main__":
    ritest.main()
