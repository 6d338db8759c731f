#!/usr/bin/env python3
"""Access control end to end: who may call the real pvmd, over its unix socket and TCP.

Unix socket: pvmctl runs as other users (numeric uids and gids that exist nowhere
else, set by the test as root) against a pvmd whose policy names real groups of this
machine, and the answers must follow SO_PEERCRED: no group, a read-only group, a full
group. TCP: a throwaway CA and certificates made here with the openssl command; a
client with a certificate from that CA works, a client without one or with one from
another CA is refused at the handshake, and pvmd refuses to start TCP without TLS
unless --insecure-tcp on loopback.

Usage: access_e2e_test.py --pvmd PATH --pvmctl PATH [--guest-dir DIR] [unittest args]
Needs root (to run clients as other users) and /dev/kvm: both fail under CI=true and
skip (77) otherwise.
"""

import grp
import os
import re
import stat
import subprocess
import sys
import tempfile
import unittest

# No __pycache__ in the source tree from importing the sibling module.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pvmd_e2e_test as base  # noqa: E402
from pvmd_e2e_test import CTL_TIMEOUT_S, CtlResult, Paths, poll_until  # noqa: E402

# Groups every Debian system has (base-passwd), so the policy names real groups. The
# socket's group lets a user connect; the policy's groups decide what it may call.
SOCKET_GROUP = "src"
FULL_GROUP = "staff"
READ_ONLY_GROUP = "users"
# Users that exist only as numbers: the daemon must decide by the ids the kernel
# reports, not by anything in /etc/passwd.
OUTSIDER_UID = 61001
READER_UID = 61002
OPERATOR_UID = 61003


def gid_of(name):
    return grp.getgrnam(name).gr_gid


class CertificateAuthority:
    """A throwaway CA in `directory` that signs server and client certificates."""

    def __init__(self, directory, name):
        self.directory = directory
        self.name = name
        self.key = self._path(f"{name}-ca.key")
        self.cert = self._path(f"{name}-ca.pem")
        self._openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                      "-nodes", "-keyout", self.key, "-out", self.cert, "-days", "2",
                      "-subj", f"/CN=pvmd test CA {name}")

    def _path(self, file_name):
        return os.path.join(self.directory, file_name)

    @staticmethod
    def _openssl(*args):
        completed = subprocess.run(["openssl", *args], capture_output=True, text=True,
                                   timeout=CTL_TIMEOUT_S)
        if completed.returncode != 0:
            raise AssertionError(f"openssl {' '.join(args)} failed:\n{completed.stderr}")

    def issue(self, name, common_name, extensions):
        """Signs a new key's certificate; returns (cert_path, key_path)."""
        key, csr, cert = (self._path(f"{name}.{ext}") for ext in ("key", "csr", "pem"))
        ext_file = self._path(f"{name}.ext")
        with open(ext_file, "w", encoding="ascii") as out:
            out.write("\n".join(extensions) + "\n")
        self._openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                      "-nodes", "-keyout", key, "-out", csr, "-subj", f"/CN={common_name}")
        self._openssl("x509", "-req", "-in", csr, "-CA", self.cert, "-CAkey", self.key,
                      "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", ext_file)
        return cert, key


class AccessTestCase(base.PvmdTestCase):
    def setUp(self):
        super().setUp()
        # Other users reach the socket through this directory.
        os.chmod(self.workdir, 0o755)

    def ctl_as(self, uid, groups, *args, socket_path=None):
        """pvmctl as `uid` (primary gid = uid) with supplementary `groups` and the
        socket's group."""
        argv = self.ctl_argv(args, socket_path, None)
        completed = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                   timeout=CTL_TIMEOUT_S, user=uid, group=uid,
                                   extra_groups=[gid_of(SOCKET_GROUP), *groups])
        return CtlResult(argv, completed.returncode, completed.stdout, completed.stderr)

    def ctl_tcp(self, address, *args, tls=()):
        argv = [Paths.pvmctl, "--address", address, *tls, *args]
        completed = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                   timeout=CTL_TIMEOUT_S)
        return CtlResult(argv, completed.returncode, completed.stdout, completed.stderr)

    def tcp_endpoint(self, daemon):
        """The HOST:PORT pvmd logged once it listened (the test asks for port 0)."""
        found = {}

        def logged():
            match = re.search(r"listening on tcp (\S+): ", daemon.log())
            found["endpoint"] = match and match.group(1)
            return found["endpoint"]

        return poll_until(logged, base.READY_TIMEOUT_S,
                          lambda: f"pvmd's tcp line\n--- pvmd log ---\n{daemon.log()}")

    def assert_refused_start(self, daemon, *fragments):
        """pvmd exits 2 before serving and its log says why."""
        self.assertEqual(daemon.wait_exit(), 2, daemon.log())
        for fragment in fragments:
            self.assertIn(fragment, daemon.log())
        self.assertFalse(os.path.exists(daemon.socket_path), daemon.log())


class UnixSocketAccessTest(AccessTestCase):
    """Every client here is in the socket's group, so that SO_PEERCRED decides."""

    daemon_args = ("--socket-group", SOCKET_GROUP, "--group", FULL_GROUP,
                   "--read-only-group", READ_ONLY_GROUP)

    def test_a_user_in_no_group_is_refused_and_the_refusal_is_logged(self):
        result = self.ctl_as(OUTSIDER_UID, [], "vm", "list")
        self.assert_server_error(result, "PERMISSION_DENIED", f"uid {OUTSIDER_UID}",
                                 "in no allowed group")
        self.assertRegex(self.daemon.log(),
                         rf"refused pvm\.v1\.VmService/ListVms to uid {OUTSIDER_UID}\b")
        # Nobody can read the host either, nor learn that the daemon is healthy.
        self.assert_server_error(self.ctl_as(OUTSIDER_UID, [], "host", "info"),
                                 "PERMISSION_DENIED")

    def test_a_read_only_member_reads_but_cannot_change_anything(self):
        self.create_vm("ro-target", "builtin:counter")
        reader = (READER_UID, [gid_of(READ_ONLY_GROUP)])
        listed = self.ctl_as(*reader, "vm", "list")
        self.assertEqual(listed.returncode, 0, self.context(listed))
        self.assertIn("ro-target", listed.stdout)
        self.assertEqual(self.ctl_as(*reader, "vm", "show", "ro-target").returncode, 0)
        for mutation in (("vm", "create", "ro-new", "--image", "builtin:counter"),
                         ("vm", "start", "ro-target"),
                         ("vm", "delete", "ro-target"),
                         ("debug", "enable", "ro-target")):
            self.assert_server_error(self.ctl_as(*reader, *mutation), "PERMISSION_DENIED",
                                     "may only read")
        # Nothing the refused calls asked for happened.
        self.assertEqual(self.vm_names(), ["ro-target"])
        self.assertEqual(self.show_vm("ro-target")["state"], "created")
        self.assertFalse(self.ctl_json("debug", "status", "ro-target")["enabled"])

    def test_a_full_member_may_change_things_by_a_supplementary_group(self):
        operator = (OPERATOR_UID, [gid_of(FULL_GROUP)])
        self.assert_ok(self.ctl_as(*operator, "vm", "create", "op-vm", "--image", "builtin:counter"))
        self.assertEqual(self.vm_names(), ["op-vm"])
        self.assert_ok(self.ctl_as(*operator, "vm", "delete", "op-vm"))
        self.assertEqual(self.vm_names(), [])


class SocketFileTest(AccessTestCase):
    def test_pvmd_creates_its_socket_root_group_0660_by_default(self):
        daemon = self.start_daemon("--socket-group", SOCKET_GROUP)
        info = os.stat(daemon.socket_path)
        self.assertTrue(stat.S_ISSOCK(info.st_mode))
        self.assertEqual(stat.S_IMODE(info.st_mode), 0o660)
        self.assertEqual((info.st_uid, info.st_gid), (0, gid_of(SOCKET_GROUP)))
        # The file's group gates connecting: a user outside it cannot even connect.
        argv = self.ctl_argv(("vm", "list"), daemon.socket_path, None)
        completed = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                   timeout=CTL_TIMEOUT_S, user=OUTSIDER_UID, group=OUTSIDER_UID,
                                   extra_groups=[])
        result = CtlResult(argv, completed.returncode, completed.stdout, completed.stderr)
        self.assertEqual(result.returncode, 1, str(result))
        self.assertIn("cannot reach pvmd", result.stderr)


class MutualTlsTest(AccessTestCase):
    @classmethod
    def setUpClass(cls):
        cls.certdir = tempfile.mkdtemp(prefix="pvmd-e2e-certs-")
        ca = CertificateAuthority(cls.certdir, "good")
        other = CertificateAuthority(cls.certdir, "other")
        cls.ca = ca.cert
        cls.server = ca.issue("server", "localhost",
                              ["subjectAltName=IP:127.0.0.1,DNS:localhost",
                               "extendedKeyUsage=serverAuth"])
        client_ext = ["extendedKeyUsage=clientAuth"]
        cls.client = ca.issue("client", "orchestrator", client_ext)
        cls.stranger = other.issue("stranger", "orchestrator", client_ext)

    @classmethod
    def tearDownClass(cls):
        base.shutil.rmtree(cls.certdir, ignore_errors=True)

    def start_tls_daemon(self):
        daemon = self.start_daemon("--listen", "127.0.0.1:0", "--tls-cert", self.server[0],
                                   "--tls-key", self.server[1], "--tls-client-ca", self.ca)
        return daemon, self.tcp_endpoint(daemon)

    def client_flags(self, cert_and_key):
        return ("--tls-ca", self.ca, "--tls-cert", cert_and_key[0], "--tls-key", cert_and_key[1])

    def test_a_client_with_a_certificate_from_the_client_ca_has_full_access(self):
        self.daemon, address = self.start_tls_daemon()
        flags = self.client_flags(self.client)
        self.assert_ok(self.ctl_tcp(address, "vm", "create", "tls-vm", "--image",
                                    "builtin:counter", tls=flags))
        listed = self.assert_ok(self.ctl_tcp(address, "vm", "list", tls=flags))
        self.assertIn("tls-vm", listed.stdout)
        # The same VM is there through the unix socket: one daemon, two transports.
        self.assertEqual(self.vm_names(), ["tls-vm"])
        self.assertIn("CN=orchestrator", self.daemon.log())

    def test_clients_without_a_good_certificate_are_refused_at_the_handshake(self):
        self.daemon, address = self.start_tls_daemon()
        attempts = {
            "no client certificate": ("--tls-ca", self.ca),
            "a certificate from another CA": self.client_flags(self.stranger),
            "no TLS at all": (),
        }
        for what, flags in attempts.items():
            with self.subTest(what):
                result = self.ctl_tcp(address, "vm", "list", tls=flags)
                self.assertEqual(result.returncode, 1, self.context(result))
                self.assertEqual(result.stdout, "", self.context(result))
                self.assertIn(f"cannot reach pvmd at {address}", result.stderr)
        # None of them got as far as a call, and the daemon serves on.
        self.assertNotIn("first call", self.daemon.log())
        self.assert_ok(self.ctl_tcp(address, "host", "info", tls=self.client_flags(self.client)))

    def test_tcp_without_tls_files_refuses_to_start(self):
        daemon = self.start_daemon("--listen", "127.0.0.1:0", wait=False)
        self.assert_refused_start(daemon, "--tls-cert", "--insecure-tcp")

    def test_only_some_tls_files_refuse_to_start(self):
        daemon = self.start_daemon("--listen", "127.0.0.1:0", "--tls-cert", self.server[0],
                                   wait=False)
        self.assert_refused_start(daemon, "--tls-key", "--tls-client-ca")

    def test_insecure_tcp_is_refused_off_loopback(self):
        daemon = self.start_daemon("--listen", "0.0.0.0:0", "--insecure-tcp", wait=False)
        self.assert_refused_start(daemon, "loopback")

    def test_insecure_tcp_on_loopback_serves_plain_clients(self):
        self.daemon = self.start_daemon("--listen", "127.0.0.1:0", "--insecure-tcp")
        address = self.tcp_endpoint(self.daemon)
        listed = self.assert_ok(self.ctl_tcp(address, "vm", "list"))
        self.assertEqual(listed.stdout, "no VMs\n")


if __name__ == "__main__":
    sys.exit(base.main("access_e2e", needs_root=True))
