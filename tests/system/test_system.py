#!/usr/bin/python3
"""regindexer as operators run it: the Debian package built from this
tree, installed with apt into a Debian 12 system booted with systemd 252
in systemd-nspawn, against a docker-registry inside on loopback, checked
through systemctl, busctl, journalctl and the CLI as three kinds of user.

The steps build on each other, in order (test_NN_…), in one container."""

import http.client
import ipaddress
import json
import os
import re
import shutil
import sys
import threading
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))

import ritest  # noqa: E402
import ri_testdata  # noqa: E402
import container  # noqa: E402

try:
    import zmq
    from test_fedmsg import Publisher, body, TOPIC
except ImportError:
    zmq = None

DEB_INSIDE = "/root/packages"
INDEX = "/var/lib/regindexer/index/flatpak.json"
DBUS = ["org.regindexer.Indexer", "/org/regindexer/Indexer", "org.regindexer.Indexer"]
UNIT = "regindexer.service"
EX_CONFIG = 78

REGISTRY_UNIT = """[Unit]
Description=docker-registry of the system test, on loopback
Before=regindexer.service

[Service]
ExecStart=/usr/bin/docker-registry serve /etc/ri-test-registry.yml
# Ready once it accepts connections, so that regindexer's first run at
# boot finds it.
ExecStartPost=/bin/bash -c 'for i in $(seq 400); do (exec 3<>/dev/tcp/127.0.0.1/%(port)d) 2>/dev/null && exit 0; sleep 0.05; done; exit 1'

[Install]
WantedBy=multi-user.target
"""


class Stall(ritest.LoopbackServer):
    """A registry that answers nothing until released: a run against it is
    a run in progress for as long as the test needs."""

    def __init__(self):
        self.requested = threading.Event()
        self.release = threading.Event()
        outer = self

        class Handler(ritest.QuietHandler):
            def do_GET(self):
                outer.requested.set()
                outer.release.wait(120)
                self.send_response(503)
                self.send_header("Content-Length", "0")
                self.end_headers()

        super().__init__(Handler)


class SystemTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            ritest.skip_or_fail("the system test boots a container and needs root")
        for tool in ("systemd-nspawn", "debootstrap", "nsenter", "dpkg-buildpackage"):
            if not shutil.which(tool):
                ritest.skip_or_fail("%s is not installed (tools/install-deps)" % tool)
        if zmq is None:
            ritest.skip_or_fail("python3-zmq is not installed")
        cls.deb, cls.changes = container.package()
        cls.machine = container.Container(container.rootfs())
        try:
            cls.machine.boot()
            cls.registry_port = ri_testdata.free_port()
            cls.zmq_port = ri_testdata.free_port()
            cls.http_port = ri_testdata.free_port()
            cls.registry_url = "http://127.0.0.1:%d" % cls.registry_port
            cls.publisher = Publisher("tcp://127.0.0.1:%d" % cls.zmq_port)
            cls.stall = Stall()
        except BaseException:
            cls.machine.destroy()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.stall.release.set()
            cls.stall.close()
            cls.publisher.close()
        finally:
            cls.machine.destroy()

    # --- helpers ---

    def exec(self, *args, **kwargs):
        return self.machine.exec(args, **kwargs)

    def show(self, *properties):
        out = self.exec("systemctl", "show", UNIT, *["-p" + p for p in properties]).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def wait_unit(self, state, message=None):
        return ritest.wait_for(lambda: self.show("ActiveState")["ActiveState"] == state, timeout=60,
                               message=message or "%s to be %s" % (UNIT, state))

    def status(self, user=None):
        result = self.exec("regindexer", "--json", "status", user=user)
        return json.loads(result.stdout)

    def wait_job_done(self, after_job):
        """The status once a job after AFTER_JOB has finished and nothing runs."""
        def done():
            status = self.status()
            return status if status["last-job"] > after_job and status["state"] == "idle" else None
        return ritest.wait_for(done, timeout=90, message="a run after job %d" % after_job)

    def index(self):
        with open(self.machine.path(INDEX), "rb") as f:
            return json.loads(f.read())

    def index_bytes(self):
        with open(self.machine.path(INDEX), "rb") as f:
            return f.read()

    def repositories(self):
        return sorted(r["Name"] for r in self.index()["Results"])

    def config(self, extra_indexes="", icons_dir="/var/lib/regindexer/icons"):
        return ("icons_dir: %s\nicons_uri: /icons/\n"
                "indexes:\n"
                "  flatpak:\n"
                "    output: %s\n"
                "    registry: %s\n"
                "    tags: ['latest']\n"
                "    required_labels: ['org.flatpak.ref']\n"
                "    extract_icons: true\n%s"
                "daemon:\n"
                "  topic_prefix: org.fedoraproject\n"
                "  environment: dev\n"
                "  endpoints: ['tcp://127.0.0.1:%d']\n"
                "  reconnect_interval: 100\n"
                "  http:\n"
                "    listen: ['127.0.0.1:%d']\n"
                "    serve:\n"
                "      /: flatpak\n"
                % (icons_dir, INDEX, self.registry_url, extra_indexes, self.zmq_port, self.http_port))

    def write_config(self, text):
        self.machine.write("/etc/regindexer/config.yaml", text)

    def registry_blob_gets(self):
        log = self.exec("journalctl", "-b", "-u", "ri-test-registry.service", "-o", "cat").stdout
        return len(re.findall(r'"GET /v2/[^ ]*/blobs/sha256:', log))

    # --- the steps ---

    def test_00_package_is_lintian_clean(self):
        result = container.run(["lintian", "--pedantic", self.changes], check=False)
        problems = [line for line in result.stdout.splitlines() if line[:2] in ("E:", "W:")]
        self.assertEqual(problems, [], result.stdout)

    def test_01_install(self):
        os.makedirs(self.machine.path(DEB_INSIDE), exist_ok=True)
        shutil.copy(self.deb, self.machine.path(DEB_INSIDE))
        deb = os.path.join(DEB_INSIDE, os.path.basename(self.deb))
        self.exec("env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-q",
                  "--no-install-recommends", deb, timeout=600)
        type(self).installed = [line for line in self.exec("dpkg", "-L", "regindexer").stdout.splitlines()
                                if line and not os.path.isdir(self.machine.path(line))]
        self.assertIn("/usr/libexec/regindexer-daemon", self.installed)
        self.assertIn("/etc/regindexer/config.yaml", self.exec("cat", "/var/lib/dpkg/info/regindexer.conffiles").stdout)
        # The example configuration names a registry to be edited in:
        # installed, not started.
        self.assertEqual(self.show("ActiveState", "UnitFileState"),
                         {"ActiveState": "inactive", "UnitFileState": "disabled"})
        self.assertEqual(self.exec("stat", "-c", "%U:%G %a", "/var/lib/regindexer", "/var/cache/regindexer").stdout,
                         "regindexer:regindexer 755\nregindexer:regindexer 755\n")
        rating = re.search(r"Overall exposure level for regindexer.service: ([0-9.]+)",
                           self.exec("systemd-analyze", "security", UNIT).stdout).group(1)
        with open(os.path.join(ritest.SOURCE_DIR, "README.md")) as f:
            self.assertIn("`systemd-analyze security` rates it %s on a running Debian 12" % rating,
                          " ".join(f.read().split()))
        self.exec("useradd", "-m", "-G", "regindexer", "alice")
        self.exec("useradd", "-m", "bob")

    def test_02_registry_inside(self):
        self.machine.write("/etc/ri-test-registry.yml", ri_testdata.REGISTRY_CONFIG % {
            "root": "/var/lib/ri-test-registry", "port": self.registry_port, "tls": "", "extra": "",
            "log_level": "info", "no_access_log": "false"})
        self.machine.write("/etc/systemd/system/ri-test-registry.service", REGISTRY_UNIT % {"port": self.registry_port})
        self.exec("systemctl", "enable", "--now", "ri-test-registry.service")
        ri_testdata.push(self.registry_url, ri_testdata.sample_spec())

    def test_03_unit_comes_up_with_fedmsg_configured(self):
        self.write_config(self.config())
        self.exec("systemctl", "start", UNIT)
        ritest.wait_for(lambda: os.path.exists(self.machine.path(INDEX)), timeout=90, message=INDEX)
        self.wait_job_done(0)
        # libzmq's I/O thread started under the sandbox and the daemon lives.
        unit = self.show("ActiveState", "NRestarts", "MainPID", "Environment")
        self.assertEqual((unit["ActiveState"], unit["NRestarts"]), ("active", "0"), unit)
        self.assertIn("GSETTINGS_BACKEND=memory", unit["Environment"])
        type(self).main_pid = unit["MainPID"]
        self.assertEqual(self.repositories(), ["org.example.editor", "org.example.game", "org.example.hello"])
        owners = self.exec("find", "/var/lib/regindexer", "/var/cache/regindexer", "-mindepth", "1",
                           "-printf", "%u:%g\\n").stdout.split()
        self.assertGreater(len(owners), 3)
        self.assertEqual(set(owners), {"regindexer:regindexer"})
        # The state directory is the service user's home: nothing but
        # indexes and icons belongs there (no dconf database, no ~/.cache).
        stray = self.exec("find", "/var/lib/regindexer", "-name", ".config", "-o", "-name", ".cache",
                          "-o", "-name", ".local", "-o", "-path", "*dconf*").stdout
        self.assertEqual(stray, "", self.exec("find", "/var/lib/regindexer").stdout)
        self.assertEqual(self.exec("stat", "-c", "%U %a", INDEX).stdout, "regindexer 644\n")

    def test_04_journal_has_the_fields(self):
        entries = [json.loads(line) for line in self.exec(
            "journalctl", "-u", UNIT, "-o", "json", "REGINDEXER_JOB=1").stdout.splitlines()]
        self.assertTrue(entries, "no journal entry with REGINDEXER_JOB=1")
        entry = entries[-1]
        self.assertRegex(entry["MESSAGE"], r"^Job 1: ")
        self.assertEqual(entry["GLIB_DOMAIN"], "Scheduler")
        self.assertEqual(entry["_SYSTEMD_UNIT"], UNIT)
        self.assertEqual(entry["_UID"], self.exec("id", "-u", "regindexer").stdout.strip())

    def test_05_who_may_do_what(self):
        last = self.status()["last-job"]
        reply = self.exec("busctl", "call", *DBUS, "Reindex", "asa{sv}", "0", "0").stdout
        self.assertRegex(reply, r"^t [0-9]+$")
        for user in (None, "alice"):
            result = self.exec("regindexer", "index", user=user)
            self.assertIn("Job ", result.stdout)
            self.assertNotIn("in-process", result.stderr)
        refused = self.exec("regindexer", "index", user="bob", check=False)
        self.assertEqual(refused.returncode, 3, refused.stderr)
        self.assertIn("the daemon refused the request", refused.stderr)
        refused = self.exec("busctl", "call", *DBUS, "Reindex", "asa{sv}", "0", "0", user="bob", check=False)
        self.assertNotEqual(refused.returncode, 0)
        self.assertIn("Access denied", refused.stderr)
        refused = self.exec("busctl", "call", *DBUS, "Reload", user="bob", check=False)
        self.assertNotEqual(refused.returncode, 0)
        status = self.status(user="bob")
        self.assertGreater(status["last-job"], last)
        self.assertTrue(status["last-success"])

    def test_06_fedmsg_triggers_a_run(self):
        self.assertEqual(self.publisher.wait_subscribed(), {TOPIC, TOPIC.replace("compose", "mashtask")})
        ri_testdata.push(self.registry_url, {"images": [
            {"repository": "org.example.fresh", "tags": ["latest"], "architecture": "amd64",
             "labels": ri_testdata.flatpak_labels("org.example.Fresh", "amd64")}]})
        last = self.status()["last-job"]
        self.publisher.send(TOPIC, body())
        ritest.wait_for(lambda: "org.example.fresh" in self.repositories(), timeout=90,
                        message="the pushed repository in the index")
        self.assertGreater(self.status()["last-job"], last)
        unit = self.show("NRestarts", "MainPID")
        self.assertEqual(unit, {"NRestarts": "0", "MainPID": self.main_pid})

    def test_07_http_listener_answers(self):
        connection = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=30)
        connection.request("GET", "/index/static?label%3Aorg.flatpak.ref%3Aexists=1&architecture=amd64"
                                  "&os=linux&tag=latest")
        response = connection.getresponse()
        document = json.loads(response.read())
        connection.close()
        self.assertEqual(response.status, 200)
        self.assertIn("org.example.fresh", [r["Name"] for r in document["Results"]])

    def test_07_nothing_listens_beyond_loopback(self):
        sockets = self.machine.sockets()
        self.assertIn(("tcp", ipaddress.ip_address("127.0.0.1"), self.http_port, "regindexer-daem"), sockets)
        self.assertEqual([s for s in sockets if not s[1].is_loopback], [], sockets)

    def test_08_reload_good_and_refused(self):
        pid = self.show("MainPID")["MainPID"]
        stall = self.stall
        self.write_config(self.config("  slow:\n    output: /var/lib/regindexer/index/slow.json\n"
                                      "    registry: %s\n" % stall.url))
        self.exec("systemctl", "reload", UNIT)
        self.assertEqual(self.status()["indexes"]["slow"]["output"], "/var/lib/regindexer/index/slow.json")

        good = self.config("  slow:\n    output: /var/lib/regindexer/index/slow.json\n"
                           "    registry: %s\n" % stall.url)
        for broken, why in (("indexes:\n  a: [\n", "config.yaml:"),
                            (self.config(icons_dir="/tmp/icons"), "which is private to this service")):
            self.write_config(broken)
            refused = self.exec("systemctl", "reload", UNIT, check=False)
            self.assertNotEqual(refused.returncode, 0, refused.stdout)
            self.assertEqual(self.show("ActiveState", "MainPID"), {"ActiveState": "active", "MainPID": pid})
            self.assertIn(why, self.exec("journalctl", "-u", UNIT, "-n", "20", "-o", "cat").stdout)
            self.assertIn("slow", self.status()["indexes"])
        self.write_config(good)
        self.exec("systemctl", "reload", UNIT)

    def test_09_stop_mid_run_leaves_no_temporary_file(self):
        before = self.index_bytes()
        self.exec("busctl", "call", *DBUS, "Reindex", "asa{sv}", "0", "0")
        self.assertTrue(self.stall.requested.wait(60), "the run never reached the stalled registry")
        self.assertEqual(self.status()["state"], "indexing")
        self.exec("systemctl", "stop", UNIT, timeout=120)
        self.stall.release.set()
        unit = self.show("ActiveState", "Result", "ExecMainStatus")
        self.assertEqual(unit, {"ActiveState": "inactive", "Result": "success", "ExecMainStatus": "0"})
        # Atomic writes go through .NAME.XXXXXX beside the file.
        leftovers = self.exec("find", "/var/lib/regindexer", "-name", ".*.??????").stdout.split()
        self.assertEqual(leftovers, [])
        self.assertEqual(self.index_bytes(), before)
        self.write_config(self.config())

    def test_10_status_leaves_a_stopped_unit_stopped(self):
        self.assertEqual(self.show("ActiveState")["ActiveState"], "inactive")
        for user in (None, "bob"):
            result = self.exec("regindexer", "status", user=user, check=False)
            self.assertEqual(result.returncode, 1, result.stderr)
            self.assertIn("regindexer-daemon is not running", result.stderr)
        self.assertEqual(self.show("ActiveState")["ActiveState"], "inactive")

    def test_11_broken_config_at_start_is_not_restarted(self):
        self.write_config("indexes:\n  a: [\n")
        started = self.exec("systemctl", "start", UNIT, check=False)
        self.assertNotEqual(started.returncode, 0)
        unit = self.show("ActiveState", "Result", "ExecMainStatus", "NRestarts", "ExecMainStartTimestampMonotonic")
        self.assertEqual((unit["ActiveState"], unit["Result"], unit["ExecMainStatus"], unit["NRestarts"]),
                         ("failed", "exit-code", str(EX_CONFIG), "0"), unit)
        # Nothing starts it behind the operator's back either.
        result = self.exec("regindexer", "status", user="bob", check=False)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertEqual(self.show("ExecMainStartTimestampMonotonic"),
                         {"ExecMainStartTimestampMonotonic": unit["ExecMainStartTimestampMonotonic"]})
        self.exec("systemctl", "reset-failed", UNIT)
        self.write_config(self.config())

    def test_12_bus_activation(self):
        self.assertEqual(self.show("ActiveState")["ActiveState"], "inactive")
        reply = self.exec("busctl", "call", *DBUS, "GetStatus", user="bob").stdout
        self.assertIn("state", reply)
        self.wait_unit("active")

    def test_13_sigkill_restarts(self):
        self.wait_job_done(0)
        unit = self.show("MainPID", "NRestarts")
        self.exec("systemctl", "kill", "--signal=SIGKILL", UNIT)
        ritest.wait_for(lambda: self.show("MainPID")["MainPID"] not in ("0", unit["MainPID"]), timeout=60,
                        message="a new main process")
        self.wait_unit("active")
        self.assertEqual(int(self.show("NRestarts")["NRestarts"]), int(unit["NRestarts"]) + 1)
        self.wait_job_done(0)

    def test_14_enabled_starts_at_boot_with_a_warm_cache(self):
        self.exec("systemctl", "enable", UNIT)
        self.assertGreater(self.registry_blob_gets(), 0, "the first boot's cold scan fetched no blob")
        self.machine.halt()
        self.machine.boot()
        self.wait_unit("active", "regindexer.service to start at boot")
        status = self.wait_job_done(0)
        self.assertTrue(status["last-success"], status)
        self.assertIn("org.example.fresh", self.repositories())
        self.assertEqual(self.registry_blob_gets(), 0)

    def test_15_purge_removes_what_was_installed(self):
        self.exec("env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "purge", "-y", "-q", "regindexer", timeout=300)
        left = [path for path in self.installed if os.path.lexists(self.machine.path(path))]
        self.assertEqual(left, [])
        for path in ("/etc/regindexer", "/var/lib/regindexer", "/var/cache/regindexer",
                     "/etc/systemd/system/multi-user.target.wants/regindexer.service",
                     "/etc/systemd/system/dbus-org.regindexer.Indexer.service"):
            self.assertFalse(os.path.lexists(self.machine.path(path)), path)
        self.assertNotEqual(self.exec("systemctl", "is-active", UNIT, check=False).stdout.strip(), "active")
        gone = self.exec("busctl", "call", *DBUS, "GetStatus", check=False)
        self.assertNotEqual(gone.returncode, 0)


if __name__ == "__main__":
    unittest.main(verbosity=2, failfast=True)
