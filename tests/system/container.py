"""A Debian 12 system booted with systemd in systemd-nspawn, for the system
test: the root file system made once by debootstrap from the machine's
own mirror and cached, a clean overlay of it per run, and the package
built from this source tree, cached by the hash of its files."""

import glob
import hashlib
import ipaddress
import os
import shutil
import signal
import subprocess
import tempfile
import time

import ritest

CACHE = os.environ.get("REGINDEXER_SYSTEM_CACHE", "/var/cache/regindexer-tests")
SUITE = "bookworm"
# docker-registry for the registry inside; everything regindexer needs
# comes from the package's own dependencies, installed by apt.
INCLUDE = "dbus,dbus-user-session,systemd,systemd-sysv,libpam-systemd,docker-registry"
# What would listen beyond loopback or reach out: the packaged registry
# binds :5000 on every address, and the rest talk to the network on timers.
MASKED = ["docker-registry.service", "nginx.service", "apt-daily.timer", "apt-daily-upgrade.timer",
          "systemd-timesyncd.service", "man-db.timer", "e2scrub_all.timer", "fstrim.timer"]
ROOTFS_VERSION = "1"
PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


def run(args, timeout=300, check=True, **kwargs):
    result = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, timeout=timeout, **kwargs)
    if check and result.returncode != 0:
        raise RuntimeError("%s exited %d:\n%s" % (" ".join(args), result.returncode, result.stdout[-4000:]))
    return result


def mirror():
    """The URIs: of the Debian archive in the machine's deb822 sources."""
    try:
        with open("/etc/apt/sources.list.d/debian.sources") as f:
            stanzas = f.read().split("\n\n")
    except OSError:
        stanzas = []
    for stanza in stanzas:
        fields = dict(line.split(":", 1) for line in stanza.splitlines() if ":" in line and not line.startswith("#"))
        suites = fields.get("Suites", "").split()
        if SUITE in suites and "URIs" in fields:
            return fields["URIs"].split()[0]
    ritest.skip_or_fail("no %s archive in /etc/apt/sources.list.d/debian.sources" % SUITE)


def rootfs():
    """The cached root file system, made on first use."""
    key = hashlib.sha256(("%s %s %s %s" % (SUITE, INCLUDE, " ".join(MASKED), ROOTFS_VERSION)).encode()).hexdigest()
    path = os.path.join(CACHE, "rootfs-%s-%s" % (SUITE, key[:12]))
    if os.path.isdir(path):
        return path
    os.makedirs(CACHE, exist_ok=True)
    partial = tempfile.mkdtemp(prefix="rootfs-partial-", dir=CACHE)
    try:
        result = run(["debootstrap", "--variant=minbase", "--include=" + INCLUDE, SUITE, partial, mirror()],
                     timeout=1200, check=False)
        if result.returncode != 0:
            ritest.skip_or_fail("debootstrap failed:\n" + result.stdout[-2000:])
        for unit in MASKED:
            link = os.path.join(partial, "etc/systemd/system", unit)
            if os.path.lexists(link):
                os.unlink(link)
            os.symlink("/dev/null", link)
        # Package lists, so that each run only fetches the package's
        # dependencies (kept in CACHE/apt-archives).
        run(["chroot", partial, "/usr/bin/env", "-i", "PATH=" + PATH, "apt-get", "update", "-qq"], timeout=600)
        os.rename(partial, path)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return path


def source_files():
    if os.path.isdir(os.path.join(ritest.SOURCE_DIR, ".git")) and shutil.which("git"):
        listed = run(["git", "-C", ritest.SOURCE_DIR, "ls-files", "-co", "--exclude-standard"]).stdout.split("\n")
        files = [name for name in listed if name and not name.startswith(("build", "obj-"))]
    else:
        files = []
        for directory, dirs, names in os.walk(ritest.SOURCE_DIR):
            relative = os.path.relpath(directory, ritest.SOURCE_DIR)
            if relative == ".":
                dirs[:] = [d for d in dirs if not d.startswith(("build", "obj-", ".")) and d != "demo-output"]
            files += [os.path.normpath(os.path.join(relative, name)) for name in names]
    return sorted(name for name in files if os.path.isfile(os.path.join(ritest.SOURCE_DIR, name)))


def package():
    """regindexer_*.deb built from this tree by dpkg-buildpackage, in a copy
    outside it, cached by the hash of the files."""
    files = source_files()
    digest = hashlib.sha256()
    for name in files:
        # This test's own files are copied (meson names them) but go into
        # no package: editing them keeps the cached one.
        if name.startswith("tests/system/"):
            continue
        digest.update(name.encode() + b"\0")
        with open(os.path.join(ritest.SOURCE_DIR, name), "rb") as f:
            digest.update(hashlib.sha256(f.read()).digest())
    directory = os.path.join(CACHE, "deb", digest.hexdigest()[:16])
    if os.path.isdir(directory):
        prune(os.path.dirname(directory), keep=directory)
        return built(directory)
    if not shutil.which("dpkg-buildpackage"):
        ritest.skip_or_fail("dpkg-buildpackage is not installed (tools/install-deps)")
    work = tempfile.mkdtemp(prefix="regindexer-deb-")
    try:
        tree = os.path.join(work, "regindexer")
        for name in files:
            target = os.path.join(tree, name)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copy2(os.path.join(ritest.SOURCE_DIR, name), target)
        env = dict(os.environ, DEB_BUILD_OPTIONS="nocheck parallel=2", LC_ALL="C.UTF-8")
        run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=tree, env=env, timeout=1200)
        os.makedirs(os.path.dirname(directory), exist_ok=True)
        partial = tempfile.mkdtemp(prefix="partial-", dir=os.path.dirname(directory))
        for result in glob.glob(os.path.join(work, "regindexer*")):
            if os.path.isfile(result):
                shutil.copy2(result, partial)
        os.rename(partial, directory)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    prune(os.path.dirname(directory), keep=directory)
    return built(directory)


def prune(parent, keep, count=3):
    """Packages of older trees go once COUNT newer ones are there."""
    others = sorted((os.path.join(parent, name) for name in os.listdir(parent)
                     if not name.startswith("partial-") and os.path.join(parent, name) != keep),
                    key=os.path.getmtime, reverse=True)
    for old in others[count - 1:]:
        shutil.rmtree(old, ignore_errors=True)


def built(directory):
    """The .deb and .changes in DIRECTORY."""
    return (glob.glob(os.path.join(directory, "regindexer_*.deb"))[0],
            glob.glob(os.path.join(directory, "regindexer_*.changes"))[0])


class Container:
    """One boot of an overlay of the cached root file system. The overlay's
    upper layer outlives reboots, so a second boot sees the first's state."""

    def __init__(self, lower):
        self.lower = lower
        self.work = tempfile.mkdtemp(prefix="ri-system-", dir="/var/tmp")
        self.merged = os.path.join(self.work, "merged")
        for name in ("upper", "overlay-work", "merged"):
            os.mkdir(os.path.join(self.work, name))
        run(["mount", "-t", "overlay", "overlay", "-o",
             "lowerdir=%s,upperdir=%s,workdir=%s" % (lower, os.path.join(self.work, "upper"),
                                                     os.path.join(self.work, "overlay-work")),
             self.merged])
        self.mounted = True
        self.archives = os.path.join(CACHE, "apt-archives")
        os.makedirs(os.path.join(self.archives, "partial"), exist_ok=True)
        self.nspawn = None
        self.pid = None
        self.boots = 0

    def boot(self, timeout=120):
        self.boots += 1
        self.log_path = os.path.join(self.work, "console-%d.log" % self.boots)
        log = open(self.log_path, "wb")
        self.nspawn = subprocess.Popen(
            ["systemd-nspawn", "-D", self.merged, "-b", "-M", "ri-test-%d" % os.getpid(), "--register=no",
             "--keep-unit", "--console=pipe", "--bind=%s:/var/cache/apt/archives" % self.archives],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        while self.pid is None:
            if self.nspawn.poll() is not None or time.monotonic() > deadline:
                self.nspawn.poll() is None and self.nspawn.kill()
                self.nspawn.wait(timeout=30)
                ritest.skip_or_fail("systemd-nspawn could not boot the container here:\n" + self.console()[-3000:])
            pid = self._init_pid()
            # systemctl needs the manager's private socket to be there.
            if pid is not None and os.path.exists("/proc/%d/root/run/systemd/private" % pid):
                self.pid = pid
            else:
                time.sleep(0.05)
        result = self.sh("systemctl is-system-running --wait", timeout=max(10, deadline - time.monotonic()),
                         check=False)
        state = result.stdout.strip()
        if state not in ("running", "degraded"):
            raise RuntimeError("the container's systemd says %r (%s):\n%s"
                               % (state, result.stderr.strip(), self.console()[-3000:]))
        return state

    def _init_pid(self):
        try:
            for task in os.listdir("/proc/%d/task" % self.nspawn.pid):
                with open("/proc/%d/task/%s/children" % (self.nspawn.pid, task)) as f:
                    for child in f.read().split():
                        with open("/proc/%s/comm" % child) as comm:
                            if comm.read().strip() == "systemd":
                                return int(child)
        except OSError:
            pass
        return None

    def sockets(self):
        """(protocol, address, port, command) of every TCP socket listening
        and every UDP socket bound by a process of the container: they
        share the host's network, so /proc/net says the addresses and the
        processes' descriptors say whose they are."""
        namespace = os.readlink("/proc/%d/ns/pid" % self.pid)
        owners = {}
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                if os.readlink("/proc/%s/ns/pid" % pid) != namespace:
                    continue
                with open("/proc/%s/comm" % pid) as f:
                    command = f.read().strip()
                for fd in os.listdir("/proc/%s/fd" % pid):
                    target = os.readlink("/proc/%s/fd/%s" % (pid, fd))
                    if target.startswith("socket:["):
                        owners[target[8:-1]] = command
            except OSError:
                continue
        found = []
        for protocol, wanted in (("tcp", "0A"), ("tcp6", "0A"), ("udp", "07"), ("udp6", "07")):
            with open("/proc/net/" + protocol) as f:
                for line in f.readlines()[1:]:
                    fields = line.split()
                    if fields[3] != wanted or fields[9] not in owners:
                        continue
                    address, port = fields[1].split(":")
                    raw = bytes.fromhex(address)
                    # The kernel prints each 32-bit word in host (little-endian) order.
                    raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
                    found.append((protocol, ipaddress.ip_address(raw), int(port, 16), owners[fields[9]]))
        return found

    def console(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def exec(self, args, user=None, timeout=120, check=True, input=None):
        prefix = ["nsenter", "-t", str(self.pid), "-m", "-u", "-i", "-n", "-p", "-C", "-r", "-w",
                  "/usr/bin/env", "-i", "PATH=" + PATH, "LC_ALL=C.UTF-8"]
        if user is not None:
            prefix += ["runuser", "-u", user, "--"]
        result = subprocess.run(prefix + list(args), input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, timeout=timeout, stdin=None if input is not None else subprocess.DEVNULL)
        if check and result.returncode != 0:
            raise AssertionError("%s exited %d:\n%s%s" % (" ".join(args), result.returncode,
                                                         result.stdout[-3000:], result.stderr[-3000:]))
        return result

    def sh(self, script, **kwargs):
        return self.exec(["/bin/sh", "-c", script], **kwargs)

    def path(self, inside):
        return os.path.join(self.merged, inside.lstrip("/"))

    def write(self, inside, text, mode=0o644):
        path = self.path(inside)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)

    def halt(self, timeout=120):
        """SIGTERM to systemd-nspawn, by its pid: the container shuts down cleanly."""
        if self.nspawn is None:
            return
        if self.nspawn.poll() is None:
            self.nspawn.send_signal(signal.SIGTERM)
            try:
                self.nspawn.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.nspawn.kill()
                self.nspawn.wait(timeout=30)
                raise AssertionError("the container did not halt within %ss of SIGTERM" % timeout)
        self.nspawn = None
        self.pid = None

    def destroy(self):
        try:
            self.halt()
        finally:
            if self.mounted:
                run(["umount", self.merged], check=False)
                self.mounted = False
            shutil.rmtree(self.work, ignore_errors=True)
