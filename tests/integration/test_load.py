#!/usr/bin/python3
"""Load: a thousand Reindex calls from ten clients at once, and two hundred
runs in a row, without the daemon growing in memory or descriptors."""

import os
import subprocess
import threading

import ritest


def sanitized(binary):
    """ASan keeps freed memory in quarantine on purpose, so resident size
    says nothing about leaks there (LeakSanitizer checks those instead)."""
    output = subprocess.run(["ldd", binary], stdout=subprocess.PIPE, text=True, timeout=60).stdout
    return "libasan" in output


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        return int([l for l in f if l.startswith("VmRSS:")][0].split()[1])


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


class LoadTest(ritest.DaemonTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.push([{"repository": "r%02d" % i, "tags": ["latest"], "labels": {"i": str(i)}} for i in range(5)])

    def config(self, delay):
        return ("indexes:\n  all:\n    output: out/all.json\n    registry: %s\n    tags: ['*']\n"
                "daemon:\n  coalesce_delay: %d\n" % (self.registry.url, delay))

    def run_jobs(self, count):
        for _ in range(count):
            self.client.wait_finished(self.client.reindex())

    def test_thousand_calls_from_ten_clients(self):
        self.start_daemon(self.config(200))
        pid = self.daemon.process.pid
        self.run_jobs(5)  # warm up: caches, connections, allocator
        self.client.wait_idle()
        rss_before = rss_kib(pid)
        self.client.signals.clear()

        answers, errors = [], []
        barrier = threading.Barrier(10)

        def caller():
            client = ritest.Client(self.bus.address)
            try:
                barrier.wait(timeout=30)
                for i in range(100):
                    answers.append(client.reindex([] if i % 3 else ["all"]))
            except Exception as e:  # reported below, with the others
                errors.append(e)
            finally:
                client.close()

        threads = [threading.Thread(target=caller) for _ in range(10)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        self.assertEqual(errors, [])
        self.assertEqual(len(answers), 1000)
        jobs = sorted(set(answers))
        self.assertLessEqual(len(jobs), 2)
        self.client.wait_finished(jobs[-1])
        self.client.wait_idle()
        started = [args[0] for _, name, args in self.client.signals if name == "ReindexStarted"]
        self.assertEqual(started, jobs)
        # Nothing left behind by a thousand calls: within 1 MiB.
        if not sanitized(ritest.DAEMON):
            self.assertLess(rss_kib(pid) - rss_before, 1024)

    def test_two_hundred_runs(self):
        self.start_daemon(self.config(1))
        pid = self.daemon.process.pid
        self.run_jobs(20)  # warm up
        rss_before, fds_before = rss_kib(pid), fd_count(pid)
        self.run_jobs(200)
        self.client.wait_idle()
        self.assertEqual(self.client.status()["last-job"], 1 + 20 + 200)
        self.assertLessEqual(fd_count(pid), fds_before)
        if not sanitized(ritest.DAEMON):
            self.assertLess(rss_kib(pid) - rss_before, 2048)


if __name__ == "__main__":
    ritest.main()
