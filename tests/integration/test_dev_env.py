#!/usr/bin/python3
"""dev/env: up brings the whole environment up on loopback (the last line
is the frontend's URL), its pieces work together, trigger-reindex reaches
the daemon over fedmsg, and down stops every process it started."""

import json
import os
import shutil
import ssl
import subprocess
import urllib.request

import ritest

DEV_ENV = os.path.join(ritest.SOURCE_DIR, "dev", "env")
QUERY = "index/static?label%3Aorg.flatpak.ref%3Aexists=1&architecture=amd64&os=linux&tag=latest"


class DevEnvTest(ritest.TempDirTestCase):
    def dev_env(self, command, check=True):
        env = dict(os.environ, REGINDEXER_DEV_STATE=self.path("state"), LC_ALL="C.UTF-8")
        result = subprocess.run([DEV_ENV, command], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                timeout=300, env=env)
        if check:
            self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        return result

    def test_up_trigger_down(self):
        for program in ("/usr/sbin/nginx", "/usr/bin/docker-registry", "/usr/bin/dbus-daemon", "/usr/bin/openssl"):
            if not os.path.exists(program):
                ritest.skip_or_fail("%s is not installed" % program)
        result = self.dev_env("up")
        self.addCleanup(self.dev_env, "down", False)
        url = result.stdout.strip().splitlines()[-1]
        self.assertRegex(url, r"^http://127\.0\.0\.1:\d+/$")
        with open(self.path("state", "state.json")) as f:
            state = json.load(f)

        with urllib.request.urlopen(url + QUERY, timeout=30) as response:
            document = json.load(response)
        self.assertEqual(document["Registry"], "/")
        self.assertIn("org.example.hello", [r["Name"] for r in document["Results"]])

        # The daemon answers live too, and the registry tells it of pushes.
        with urllib.request.urlopen(state["live"] + QUERY, timeout=30) as response:
            self.assertIn("org.example.hello", [r["Name"] for r in json.load(response)["Results"]])
        ritest.ri_testdata.push(state["registry"], {"images": [
            {"repository": "org.example.pushed", "tags": ["latest"], "architecture": "amd64",
             "labels": ritest.ri_testdata.flatpak_labels("org.example.Pushed", "amd64")}]})

        def pushed_is_live():
            with urllib.request.urlopen(state["live"] + QUERY, timeout=30) as response:
                return "org.example.pushed" in [r["Name"] for r in json.load(response)["Results"]]
        ritest.wait_for(pushed_is_live, timeout=60, message="the pushed app in the live answer")

        context = ssl.create_default_context(cafile=state["ca"])
        with urllib.request.urlopen(state["https"] + "v2/_catalog", timeout=30, context=context) as response:
            self.assertIn("org.example.editor", json.load(response)["repositories"])

        def daemon_status():
            result = ritest.run_cli("--session", "status", "--json", check=0,
                                    env={"DBUS_SESSION_BUS_ADDRESS": state["bus"]})
            return json.loads(result.stdout)

        # The publisher may need a moment until the daemon's subscription
        # has reached it; publish until a message is matched.
        def matched():
            self.dev_env("trigger-reindex")
            return daemon_status()["fedmsg"]["matched"] >= 1 or None
        ritest.wait_for(matched, timeout=60, interval=0.5, message="a matched fedmsg message")
        ritest.wait_for(lambda: daemon_status()["last-job"] >= 2 and daemon_status()["state"] == "idle",
                        timeout=60, message="the reindex after the message")

        if shutil.which("flatpak"):
            home = self.path("home")
            env = dict(os.environ, HOME=home, XDG_DATA_HOME=home + "/data", XDG_CONFIG_HOME=home + "/config",
                       XDG_CACHE_HOME=home + "/cache")
            env.pop("DBUS_SESSION_BUS_ADDRESS", None)
            subprocess.run(["flatpak", "remote-add", "--user", "--no-gpg-verify", "dev", "oci+" + url],
                           check=True, timeout=120, env=env, stdout=subprocess.DEVNULL)
            listing = subprocess.run(["flatpak", "remote-ls", "--user", "--columns=ref", "dev"], check=True,
                                     timeout=120, env=env, stdout=subprocess.PIPE, text=True).stdout.split()
            self.assertIn("app/org.example.Hello/x86_64/stable", listing)

        pids = list(state["pids"].values())
        self.assertIn("dev/env: stopped", self.dev_env("down").stdout)
        for pid in pids:
            self.assertFalse(os.path.exists("/proc/%d" % pid) and
                             open("/proc/%d/stat" % pid).read().split()[2] != "Z", "pid %d still runs" % pid)


if __name__ == "__main__":
    ritest.main()
