"""A real Dovecot for the IMAP tests: its own process on two loopback ports (STARTTLS and implicit TLS),
a throwaway CA from trustme, one passwd-file user with Maildir mail in a temporary directory."""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import trustme
from imapclient import IMAPClient

from coachd.providers.mailserver.imap import ImapInbox
from tests.support.smtp_servers import free_port

USER, PASSWORD = "coachd", "s3cret-imap"
HOST = "127.0.0.1"
NOT_INSTALLED = ("dovecot is not installed: install the Debian package dovecot-imapd "
                 "(`make test` does so when run as root with apt-get)")
STARTUP_TIMEOUT = 15.0


def binaries() -> tuple[str, str] | None:
    """(dovecot, doveadm), or None when Dovecot is not installed; /usr/sbin is often not on a user's PATH."""
    found = []
    for name, fallback in (("dovecot", "/usr/sbin/dovecot"), ("doveadm", "/usr/bin/doveadm")):
        path = shutil.which(name) or (fallback if os.access(fallback, os.X_OK) else None)
        if path is None:
            return None
        found.append(path)
    return found[0], found[1]


@dataclass
class Dovecot:
    root: Path
    conf: Path
    doveadm: str
    starttls_port: int
    implicit_port: int
    ca: trustme.CA
    ca_file: Path

    host: str = HOST
    user: str = USER
    password: str = PASSWORD

    def client_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context

    @contextmanager
    def admin(self) -> Iterator[IMAPClient]:
        """A logged-in client for setting up and inspecting mailboxes (STARTTLS, the test CA)."""
        client = IMAPClient(self.host, self.starttls_port, ssl=False, timeout=10)
        client.starttls(self.client_context())
        client.login(self.user, self.password)
        try:
            yield client
        finally:
            client.logout()

    def sessions(self) -> int:
        """How many IMAP connections the user has open now, as Dovecot's anvil counts them."""
        out = self._doveadm("who", "-1", self.user)
        return sum(1 for line in out.splitlines()[1:] if line.split()[:1] == [self.user])

    def kick(self) -> None:
        """Drop every connection of the user from the server side, and wait until they are gone."""
        self._doveadm("kick", self.user)
        deadline = time.monotonic() + 10
        while self.sessions():
            if time.monotonic() > deadline:
                raise TimeoutError("dovecot did not drop the kicked connections within 10 s")
            time.sleep(0.02)

    def _doveadm(self, *args: str) -> str:
        done = subprocess.run([self.doveadm, "-c", str(self.conf), *args], capture_output=True, text=True,
                              timeout=30)
        # `kick` exits 68 when nobody was connected; that is fine here.
        if done.returncode not in (0, 68):
            raise RuntimeError(f"doveadm {' '.join(args)}: exit {done.returncode}: {done.stderr.strip()}")
        return done.stdout


def _mail_owner() -> tuple[int, int, str | None]:
    """(uid, gid, user name for Dovecot's own processes): as root, mail belongs to nobody (Dovecot
    refuses root as a mail user); as anyone else, everything runs as that user."""
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        return nobody.pw_uid, nobody.pw_gid, None
    me = pwd.getpwuid(os.geteuid())
    return me.pw_uid, me.pw_gid, me.pw_name


def _config(root: Path, starttls_port: int, implicit_port: int, uid: int, gid: int, run_as: str | None) -> str:
    # Not root: Dovecot cannot switch users, so every process is the one user (and its group).
    unprivileged = (f"default_internal_user = {run_as}\ndefault_login_user = {run_as}\n"
                    f"default_internal_group = {grp.getgrgid(gid).gr_name}\n"
                    "service auth-worker {\n  user = $default_internal_user\n}\n") if run_as else ""
    return f"""# A test instance: nothing is read from /etc/dovecot.
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = {HOST}
ssl = yes
ssl_cert = <{root}/tls/cert.pem
ssl_key = <{root}/tls/key.pem
# LOGIN without TLS is allowed for the tls: none tests (loopback only).
disable_plaintext_auth = no
auth_mechanisms = plain login
# A wrong password is answered in 0.5 s rather than Dovecot's usual 2 s ...
auth_failure_delay = 0
first_valid_uid = {min(uid, 500)}
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {root}/passwd
}}
userdb {{
  driver = passwd-file
  args = {root}/passwd
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = {HOST}
    port = {starttls_port}
  }}
  inet_listener imaps {{
    address = {HOST}
    port = {implicit_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
  # ... and does not slow down the logins after it (the auth penalty, off when its socket is unusable).
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
{unprivileged}"""


def _wait_until_listening(process: subprocess.Popen[bytes], ports: tuple[int, ...], log: Path) -> None:
    """Bounded readiness poll: each port answers with an IMAP greeting, or the process died."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    waiting = list(ports)
    while waiting:
        if process.poll() is not None:
            raise RuntimeError(f"dovecot exited with {process.returncode}: {_tail(log)}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"dovecot not listening on {waiting} after {STARTUP_TIMEOUT} s: {_tail(log)}")
        try:
            with socket.create_connection((HOST, waiting[0]), timeout=1):
                waiting.pop(0)  # the implicit-TLS port greets only after a handshake; accepting is enough
        except OSError:
            time.sleep(0.05)


def _tail(log: Path) -> str:
    try:
        return log.read_text(errors="replace")[-2000:]
    except OSError:
        return "(no log)"


@contextmanager
def running_dovecot() -> Iterator[Dovecot]:
    """Dovecot in the foreground for the block (`dovecot -F -c <conf>`), then stopped and removed."""
    found = binaries()
    if found is None:
        raise FileNotFoundError(NOT_INSTALLED)
    dovecot, doveadm = found
    uid, gid, run_as = _mail_owner()
    # Not under pytest's tmp_path: its root is private to us, and Dovecot's processes run as other users.
    root = Path(tempfile.mkdtemp(prefix="coachd-dovecot-"))
    process: subprocess.Popen[bytes] | None = None
    try:
        root.chmod(0o755)
        for sub in ("run", "state", "tls", "home"):
            (root / sub).mkdir(mode=0o755)
        home = root / "home" / USER
        home.mkdir()
        os.chown(home, uid, gid)
        ca = trustme.CA()
        leaf = ca.issue_cert(HOST, "localhost")
        leaf.private_key_pem.write_to_path(str(root / "tls" / "key.pem"))
        (root / "tls" / "cert.pem").write_bytes(b"".join(pem.bytes() for pem in leaf.cert_chain_pems))
        ca_file = root / "tls" / "ca.pem"
        ca.cert_pem.write_to_path(str(ca_file))
        (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}:{uid}:{gid}::{home}::\n")
        starttls_port, implicit_port = free_port(), free_port()
        conf = root / "dovecot.conf"
        conf.write_text(_config(root, starttls_port, implicit_port, uid, gid, run_as))
        process = subprocess.Popen([dovecot, "-F", "-c", str(conf)], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        _wait_until_listening(process, (starttls_port, implicit_port), root / "dovecot.log")
        yield Dovecot(root, conf, doveadm, starttls_port, implicit_port, ca, ca_file)
    finally:
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(root, ignore_errors=True)


def imap_inbox(dovecot: Dovecot, state: Path, folder: str, *, tls: str = "starttls",
               ca_file: Path | None = None, **options) -> ImapInbox:  # type: ignore[no-untyped-def]
    """coachd's imap inbox on `folder` of the test Dovecot, verifying it with the test CA."""
    port = dovecot.implicit_port if tls == "implicit" else dovecot.starttls_port
    options.setdefault("password", PASSWORD)
    return ImapInbox(dovecot.host, port, tls=tls,  # type: ignore[arg-type]
                     username=USER, state_dir=state, folder=folder, ca_file=ca_file or dovecot.ca_file, **options)
