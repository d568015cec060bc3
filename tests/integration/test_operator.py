#!/usr/bin/python3
"""What an operator's systemd set-up relies on, short of booting systemd
(tests/system/ does that): the CLI never starts a stopped daemon through
bus activation, a broken configuration exits with the status the unit's
RestartPreventExitStatus= names, and outputs in a PrivateTmp= /tmp or
/var/tmp are refused."""

import os
import re
import shutil
import subprocess

import ritest

EX_CONFIG = 78

ACTIVATING_BUS = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=%(socket)s</listen>
  <auth>EXTERNAL</auth>
  <servicedir>%(services)s</servicedir>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


class ActivationTest(ritest.TempDirTestCase):
    """A bus that can activate the daemon, as the system bus can: every
    activation leaves a line in a marker file."""

    def setUp(self):
        super().setUp()
        self.config = self.write_config("indexes:\n  a:\n    output: %s\n    registry: %s\n"
                                        % (self.path("out", "a.json"), ritest.closed_port_url()))
        self.marker = self.path("activated")
        services = self.path("services")
        os.makedirs(services)
        launcher = self.path("launch-daemon")
        with open(launcher, "w") as f:
            f.write("#!/bin/sh\necho activated >> '%s'\nexec '%s' --session -c '%s'\n"
                    % (self.marker, ritest.DAEMON, self.config))
        os.chmod(launcher, 0o755)
        with open(os.path.join(services, "org.regindexer.Indexer.service"), "w") as f:
            f.write("[D-BUS Service]\nName=org.regindexer.Indexer\nExec=%s\n" % launcher)
        bus_config = self.path("bus.conf")
        with open(bus_config, "w") as f:
            f.write(ACTIVATING_BUS % {"socket": self.path("bus-socket"), "services": services})
        self.bus = ritest.Bus(self.path("bus"), config_file=bus_config)
        self.addCleanup(self.bus.stop)
        self.env = {"DBUS_SESSION_BUS_ADDRESS": self.bus.address}

    def assert_not_activated(self):
        self.assertFalse(os.path.exists(self.marker), "the CLI started the daemon through bus activation")

    def test_activation_works(self):
        # The control: this bus does start the daemon when asked to.
        client = ritest.Client(self.bus.address)
        self.addCleanup(client.close)
        client.call("GetStatus")
        self.assertTrue(os.path.exists(self.marker))

    def test_status_leaves_a_stopped_daemon_stopped(self):
        for args in (["status"], ["--json", "status"]):
            result = ritest.run_cli("--session", *args, env=self.env, check=1)
            self.assertIn("regindexer-daemon is not running", result.stderr)
            self.assert_not_activated()

    def test_index_works_in_process_without_starting_the_daemon(self):
        result = ritest.run_cli("--session", "-c", self.config, "index", env=self.env)
        self.assertIn("regindexer-daemon is not running; indexing in-process", result.stderr)
        self.assert_not_activated()
        result = ritest.run_cli("--session", "--no-wait", "index", env=self.env, check=1)
        self.assertIn("not running", result.stderr)
        self.assert_not_activated()


class ConfigExitStatusTest(ritest.TempDirTestCase):
    def run_daemon(self, config, *wrapper):
        bus = ritest.Bus(self.path("bus"))
        self.addCleanup(bus.stop)
        env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=bus.address, LC_ALL="C.UTF-8")
        return subprocess.run(list(wrapper) + [ritest.DAEMON, "--session", "-c", config], env=env,
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, timeout=60)

    def test_broken_config(self):
        config = self.write_config("indexes:\n  a:\n    output: [1\n")
        result = self.run_daemon(config)
        self.assertEqual(result.returncode, EX_CONFIG, result.stdout)
        self.assertIn("config.yaml:", result.stdout)

    def test_missing_config(self):
        result = self.run_daemon(self.path("nowhere.yaml"))
        self.assertEqual(result.returncode, EX_CONFIG, result.stdout)


class PrivateTmpTest(ritest.TempDirTestCase):
    """/var/tmp replaced, in a mount namespace of the daemon's own, by a
    directory named the way systemd's PrivateTmp= names its own."""

    def setUp(self):
        super().setUp()
        ritest.require_root("mount namespaces")
        if not shutil.which("unshare"):
            ritest.skip_or_fail("unshare (util-linux) is not installed")
        self.private = self.path("systemd-private-0123456789abcdef-regindexer.service-AbCdEf", "tmp")
        os.makedirs(self.private)
        self.bus = ritest.Bus(self.path("bus"))
        self.addCleanup(self.bus.stop)

    def start(self, config):
        script = "mount --bind '%s' /var/tmp && exec \"$@\"" % self.private
        log = open(self.path("daemon.log"), "ab")
        self.addCleanup(log.close)
        env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=self.bus.address, LC_ALL="C.UTF-8",
                   G_DEBUG="fatal-criticals", XDG_CACHE_HOME=ritest.fresh_cache_dir())
        return subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh",
                                 ritest.DAEMON, "--session", "-c", config],
                                env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)

    def log(self):
        with open(self.path("daemon.log"), errors="replace") as f:
            return f.read()

    def config(self, output):
        return self.write_config("indexes:\n  a:\n    output: %s\n    registry: %s\n"
                                 % (output, ritest.closed_port_url()))

    def test_refused_at_start(self):
        daemon = self.start(self.config("/var/tmp/regindexer/a.json"))
        self.assertEqual(daemon.wait(timeout=60), EX_CONFIG, self.log())
        self.assertIn("output of index 'a': '/var/tmp/regindexer/a.json' is under /var/tmp, "
                      "which is private to this service", self.log())

    def test_refused_on_reload(self):
        config = self.config(self.path("out", "a.json"))
        daemon = self.start(config)
        self.addCleanup(lambda: daemon.poll() is None and (daemon.terminate(), daemon.wait(timeout=30)))
        client = ritest.Client(self.bus.address)
        self.addCleanup(client.close)
        client.wait_for_name()
        client.wait_idle()

        with open(config, "w") as f:
            f.write("icons_dir: /var/tmp/icons\nicons_uri: /icons/\n"
                    "indexes:\n  a:\n    output: %s\n    registry: %s\n"
                    % (self.path("out", "a.json"), ritest.closed_port_url()))
        name, message = client.call_error("Reload")
        self.assertEqual(name, "org.regindexer.Indexer.Error.Config")
        self.assertIn("icons_dir: '/var/tmp/icons' is under /var/tmp", message)
        self.assertIsNone(daemon.poll())
        daemon.terminate()
        self.assertEqual(daemon.wait(timeout=30), 0, self.log())

    def test_elsewhere_is_accepted(self):
        # The control: the same namespace, an output outside it.
        config = self.config(self.path("out", "a.json"))
        daemon = self.start(config)
        self.addCleanup(lambda: daemon.poll() is None and (daemon.terminate(), daemon.wait(timeout=30)))
        client = ritest.Client(self.bus.address)
        self.addCleanup(client.close)
        client.wait_for_name()
        client.call("Reload")


class UnitFileTest(ritest.TempDirTestCase):
    def unit(self):
        with open(os.path.join(ritest.BUILD_DIR, "data", "regindexer.service")) as f:
            return f.read()

    def test_readme_states_the_security_rating(self):
        if not shutil.which("systemd-analyze"):
            ritest.skip_or_fail("systemd-analyze is not installed")
        path = self.path("regindexer.service")
        with open(path, "w") as f:
            f.write(re.sub(r"ExecStart=.*", "ExecStart=" + ritest.DAEMON, self.unit()))
        result = subprocess.run(["systemd-analyze", "security", "--offline=true", path], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, timeout=60)
        rating = re.search(r"Overall exposure level for regindexer.service: ([0-9.]+)", result.stdout).group(1)
        with open(os.path.join(ritest.SOURCE_DIR, "README.md")) as f:
            readme = " ".join(f.read().split())
        # The running system's figure is checked by tests/system/.
        self.assertIn("`systemd-analyze security` rates it ", readme)
        self.assertIn(" %s with `--offline=true`" % rating, readme)

    def test_settings_an_operator_relies_on(self):
        unit = self.unit()
        self.assertIn("\nEnvironment=GSETTINGS_BACKEND=memory\n", unit)
        self.assertIn("\nRestartPreventExitStatus=%d\n" % EX_CONFIG, unit)
        # Synchronous: systemctl reload then fails when the daemon refuses.
        self.assertRegex(unit, r"\nExecReload=/usr/bin/busctl --auto-start=no call org.regindexer.Indexer "
                         r"/org/regindexer/Indexer org.regindexer.Indexer Reload\n")


if __name__ == "__main__":
    ritest.main()
