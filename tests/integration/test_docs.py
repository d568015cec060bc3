#!/usr/bin/python3
"""What people read stays in step with what the code does: every config key,
command-line option, exit status and D-Bus member is in the man pages, and
every source file with translatable strings is in po/POTFILES.in."""

import os
import re
import subprocess
import unittest
import xml.etree.ElementTree as ET

import ritest

TOP = ritest.SOURCE_DIR


def read(*parts):
    with open(os.path.join(TOP, *parts)) as f:
        return f.read()


class DocsTest(unittest.TestCase):
    longMessage = False

    def test_every_config_key_is_documented(self):
        source = read("src", "lib", "ri-config.c")
        page = read("docs", "man", "regindexer.conf.5.scd")
        keys = set()
        for array in re.findall(r"static const char \*const \w+_keys\[\] = \{(.*?)\};", source, re.S):
            keys.update(re.findall(r'"(\w+)"', array))
        self.assertGreater(len(keys), 25)
        for key in sorted(keys):
            self.assertIn("*%s*" % key, page, "config key %s is not in regindexer.conf(5)" % key)

    def options(self, binary):
        output = subprocess.run([binary, "--help-all"], stdout=subprocess.PIPE, text=True, timeout=60,
                                env=dict(os.environ, LC_ALL="C.UTF-8")).stdout
        # GApplication's own options are not ours to document.
        return set(re.findall(r"(--[a-z][a-z-]+)", output)) - {"--help", "--help-all", "--help-gapplication",
                                                                "--gapplication-service"}

    def test_every_cli_option_is_documented(self):
        page = read("docs", "man", "regindexer.1.scd")
        options = self.options(ritest.CLI)
        self.assertIn("--no-daemon", options)
        for option in sorted(options):
            self.assertIn(option, page, "option %s is not in regindexer(1)" % option)
        for status in ("*0*", "*1*", "*2*", "*3*"):
            self.assertIn(status, page)

    def test_every_daemon_option_and_member_is_documented(self):
        page = read("docs", "man", "regindexer-daemon.8.scd")
        for option in sorted(self.options(ritest.DAEMON)):
            self.assertIn(option, page, "option %s is not in regindexer-daemon(8)" % option)
        interface = ET.parse(os.path.join(TOP, "data", "dbus", "org.regindexer.Indexer.xml")).getroot()[0]
        members = [e.get("name") for e in interface]
        self.assertIn("Reindex", members)
        for member in members:
            self.assertIn("*%s*" % member, page, "D-Bus member %s is not in regindexer-daemon(8)" % member)

    def test_every_dbus_member_has_a_doc_comment(self):
        text = read("data", "dbus", "org.regindexer.Indexer.xml")
        for kind, name in re.findall(r'<(method|signal|property) name="(\w+)"', text):
            self.assertRegex(text, r"%s:\n" % name, "%s %s has no doc comment" % (kind, name))

    def test_translatable_files_are_in_potfiles(self):
        listed = set(read("po", "POTFILES.in").split())
        for directory, _, files in os.walk(os.path.join(TOP, "src")):
            for name in files:
                if not name.endswith(".c"):
                    continue
                path = os.path.relpath(os.path.join(directory, name), TOP)
                with open(os.path.join(TOP, path)) as f:
                    marked = re.search(r"\b(N?_)\(\"", f.read())
                if marked:
                    self.assertIn(path, listed, "%s has translatable strings but is not in po/POTFILES.in" % path)
        lines = read("po", "POTFILES.in").split()
        self.assertEqual(lines, sorted(lines), "po/POTFILES.in is not sorted")


class CompletionTest(ritest.TempDirTestCase):
    def complete(self, line):
        script = os.path.join(TOP, "data", "completion", "regindexer")
        words = line.split(" ")
        program = ("source /usr/share/bash-completion/bash_completion; source %s; "
                   "COMP_WORDS=(%s); COMP_CWORD=%d; COMP_LINE=%r; COMP_POINT=%d; _regindexer; "
                   "printf '%%s\\n' \"${COMPREPLY[@]}\"" % (
                       script, " ".join("'%s'" % w for w in words), len(words) - 1, line, len(line)))
        env = dict(os.environ, PATH=os.path.dirname(ritest.CLI) + ":/usr/bin:/bin")
        result = subprocess.run(["bash", "-c", program], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, timeout=60, env=env)
        self.assertEqual(result.returncode, 0, result.stderr)
        return sorted(result.stdout.split())

    def test_commands_options_and_index_names(self):
        if not os.path.exists("/usr/share/bash-completion/bash_completion"):
            ritest.skip_or_fail("bash-completion is not installed")
        config = self.write_config("indexes:\n  flatpak-amd64:\n    output: a.json\n    registry: http://r\n"
                                   "  flatpak-arm64:\n    output: b.json\n    registry: http://r\n"
                                   "  all:\n    output: c.json\n    registry: http://r\n")
        self.assertEqual(self.complete("regindexer "), ["index", "indexes", "status"])
        self.assertIn("--no-daemon", self.complete("regindexer --no"))
        self.assertEqual(self.complete("regindexer -c %s index flat" % config), ["flatpak-amd64", "flatpak-arm64"])
        self.assertEqual(self.complete("regindexer --config %s -v index " % config),
                         ["all", "flatpak-amd64", "flatpak-arm64"])


if __name__ == "__main__":
    ritest.main()
