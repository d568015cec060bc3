#!/usr/bin/python3
"""The CLI killed by SIGTERM or SIGINT while it writes leaves no
.NAME.XXXXXX temporary file behind, in the index directory or its cache,
and no index half written; and it still dies of the signal."""

import os
import re
import signal
import subprocess
import time

import ritest
from ritest import ri_testdata

N_INDEXES = 80
TEMPORARY = re.compile(r"^\..+\.[A-Za-z0-9]{6}$")


def temporaries(directory):
    found = []
    for root, _, files in os.walk(directory):
        found += [os.path.join(root, name) for name in files if TEMPORARY.match(name)]
    return found


class InterruptTest(ritest.RegistryTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Every index a few hundred kilobytes, written and fsynced one
        # after another: a write phase long enough to be caught in.
        cls.push(ri_testdata.bulk_spec(40, 3, icon_every=1, list_every=5)["images"])

    def start_cli(self, out, cache):
        config = "indexes:\n" + "".join(
            "  i%03d:\n    output: %s/i%03d.json\n    registry: %s\n    tags: ['*']\n" % (i, out, i, self.registry.url)
            for i in range(N_INDEXES))
        env = dict(os.environ, LC_ALL="C.UTF-8", DBUS_SESSION_BUS_ADDRESS="unix:path=/nonexistent",
                   DBUS_SYSTEM_BUS_ADDRESS="unix:path=/nonexistent")
        return subprocess.Popen([ritest.CLI, "-c", self.write_config(config), "--cache-dir", cache, "index"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                env=env)

    def test_killed_while_writing(self):
        caught = 0
        for attempt in range(12):
            if caught >= 4:
                break
            sig = (signal.SIGTERM, signal.SIGINT)[attempt % 2]
            out, cache = self.path("out%d" % attempt), self.path("cache%d" % attempt)
            os.makedirs(out)
            process = self.start_cli(out, cache)
            # Each attempt waits for a later write: the first temporary
            # file seen, then a few more indexes in place, and so on.
            wanted = (attempt // 2) * 15
            deadline = time.monotonic() + 120
            seen = False
            while process.poll() is None and time.monotonic() < deadline:
                names = os.listdir(out)
                if len([n for n in names if n.endswith(".json")]) >= wanted and any(TEMPORARY.match(n) for n in names):
                    seen = True
                    break
            if not seen:
                process.kill()
                process.communicate(timeout=60)
                continue
            process.send_signal(sig)
            _, stderr = process.communicate(timeout=60)
            written = [n for n in os.listdir(out) if n.endswith(".json")]
            with self.subTest(attempt=attempt, signal=sig.name, written=len(written)):
                self.assertEqual(process.returncode, -sig, stderr)
                self.assertEqual(temporaries(out) + temporaries(cache), [])
                # Killed mid-run: some indexes are not there, and those that are are whole.
                if len(written) < N_INDEXES:
                    caught += 1
                for name in written:
                    with open(os.path.join(out, name), "rb") as f:
                        self.assertTrue(f.read().endswith(b"}\n"), name)
        self.assertGreaterEqual(caught, 4, "the CLI was never killed in the middle of its writes")


if __name__ == "__main__":
    ritest.main()
