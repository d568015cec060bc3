#!/usr/bin/python3
"""The files packagers install: the bus policy is accepted and enforced by a
real dbus-daemon, the unit passes systemd-analyze, the activation file names
the unit."""

import os
import re
import shutil
import subprocess

import ritest

DATA = os.path.join(ritest.BUILD_DIR, "data")

SYSTEM_LIKE_BUS = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=%(socket)s</listen>
  <auth>EXTERNAL</auth>
  <!-- The default policy of Debian's system.conf: deny, then allow replies. -->
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
  </policy>
  <include>%(policy)s</include>
</busconfig>
"""


class PolicyTest(ritest.TempDirTestCase):
    def test_policy_is_valid_and_enforced(self):
        ritest.require_root("enforcement is checked as root against user 'nobody'")
        if not shutil.which("setpriv"):
            ritest.skip_or_fail("setpriv is not installed")
        os.chmod(self.tmp, 0o755)
        socket = self.path("system_bus_socket")
        config = self.path("bus.conf")
        with open(config, "w") as f:
            f.write(SYSTEM_LIKE_BUS % {"socket": socket,
                                       "policy": os.path.join(DATA, "org.regindexer.Indexer.conf")})
        # dbus-daemon refuses to start on an invalid policy file.
        bus = ritest.Bus(self.path("bus"), config_file=config)
        self.addCleanup(bus.stop)

        self.write_config("indexes:\n  a:\n    output: out/a.json\n    registry: %s\n" % ritest.closed_port_url())
        daemon = ritest.Daemon(bus, self.path("config.yaml"), self.path("daemon.log"))
        self.addCleanup(daemon.stop)
        client = ritest.Client(bus.address)
        self.addCleanup(client.close)
        client.wait_for_name()
        client.wait_idle()

        # The CLI as a user outside the group, copied where 'nobody' can run it.
        cli = self.path("regindexer")
        shutil.copy(ritest.CLI, cli)
        os.chmod(cli, 0o755)

        def as_nobody(*args):
            return subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] + list(args),
                                  env={"DBUS_SESSION_BUS_ADDRESS": bus.address, "LC_ALL": "C.UTF-8",
                                       "PATH": "/usr/bin:/bin"},
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)

        status = as_nobody("gdbus", "call", "--address", bus.address, "--dest", ritest.DBUS_NAME,
                           "--object-path", ritest.DBUS_PATH, "--method", "org.regindexer.Indexer.GetStatus")
        self.assertEqual(status.returncode, 0, status.stderr)
        self.assertIn("'state': <'idle'>", status.stdout)
        version = as_nobody("gdbus", "call", "--address", bus.address, "--dest", ritest.DBUS_NAME,
                            "--object-path", ritest.DBUS_PATH, "--method", "org.freedesktop.DBus.Properties.Get",
                            "org.regindexer.Indexer", "Version")
        self.assertEqual(version.returncode, 0, version.stderr)

        for method, args in (("Reindex", ["[]", "{}"]), ("Reload", [])):
            denied = as_nobody("gdbus", "call", "--address", bus.address, "--dest", ritest.DBUS_NAME,
                               "--object-path", ritest.DBUS_PATH, "--method",
                               "org.regindexer.Indexer." + method, *args)
            self.assertNotEqual(denied.returncode, 0)
            self.assertIn("org.freedesktop.DBus.Error.AccessDenied", denied.stderr)

        result = as_nobody(cli, "--session", "index")
        self.assertEqual(result.returncode, 3, result.stderr)
        self.assertIn("the daemon refused the request", result.stderr)
        self.assertNotIn("in-process", result.stderr)

        # Root is allowed.
        self.assertGreater(client.reindex(), 1)


class UnitTest(ritest.TempDirTestCase):
    def unit(self):
        with open(os.path.join(DATA, "regindexer.service")) as f:
            text = f.read()
        # Verify against the daemon of this build tree.
        return re.sub(r"ExecStart=.*", "ExecStart=" + ritest.DAEMON, text)

    def analyze(self, *args):
        """systemd-analyze ARGS… on this build's unit."""
        if not shutil.which("systemd-analyze"):
            ritest.skip_or_fail("systemd-analyze is not installed")
        path = self.path("regindexer.service")
        with open(path, "w") as f:
            f.write(self.unit())
        return subprocess.run(["systemd-analyze"] + list(args) + [path], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=60)

    def test_verify(self):
        result = self.analyze("verify", "--man=no")
        self.assertEqual(result.returncode, 0, result.stdout)
        self.assertEqual(result.stdout.strip(), "")

    def test_security_exposure(self):
        result = self.analyze("security", "--offline=true")
        match = re.search(r"Overall exposure level for regindexer.service: ([0-9.]+)", result.stdout)
        self.assertIsNotNone(match, result.stdout)
        # systemd calls below 2.0 "OK"; the one point left is the network.
        self.assertLess(float(match.group(1)), 2.0, result.stdout)

    def test_activation_file(self):
        with open(os.path.join(DATA, "org.regindexer.Indexer.service")) as f:
            text = f.read()
        self.assertIn("Name=org.regindexer.Indexer\n", text)
        self.assertIn("SystemdService=regindexer.service\n", text)
        self.assertIn("Exec=/bin/false\n", text)
        self.assertIn("BusName=org.regindexer.Indexer\n", self.unit())


if __name__ == "__main__":
    ritest.main()
