"""Redis for the queue server, from the distribution's package.

``redis-server`` is taken from PATH, or installed from Debian's ``redis-server``
package with apt-get (as root, or through ``sudo -n``), then started privately:
bound to one address and port, no persistence, its own temporary directory, and
stopped (directory removed) on exit. ``femtospin serve`` and the tests use this
one helper.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PACKAGE = "redis-server"  # Debian's package; it brings redis-tools and the libraries
START_TIMEOUT_S = 10.0


class RedisUnavailable(RuntimeError):
    """Redis can be neither found nor installed nor started here."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on at ``host`` right now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _find() -> str | None:
    # apt installs into /usr/bin, which may be missing from a service's PATH
    return shutil.which("redis-server") or shutil.which("redis-server", path="/usr/local/bin:/usr/bin:/usr/sbin")


def _apt_get(prefix: list[str], *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # wait for a concurrent apt/dpkg instead of failing on its lock
    return subprocess.run([*prefix, "apt-get", "-q", "-y", "-o", "DPkg::Lock::Timeout=300", *args], env=env,
                          capture_output=True, text=True)


def install_redis() -> str:
    """Install Debian's ``redis-server`` package with apt-get; returns the path of ``redis-server``.

    Runs as root, or through ``sudo -n`` (never prompts). The package lists are
    refreshed once if the package is not found in them. In a container the
    package's own service is not started (policy-rc.d, or no init system); on a
    host with systemd it is, on its default port, which this helper never uses.

    Raises
    ------
    RedisUnavailable
        No apt-get, no way to become root without a password, or apt-get failed.
    """
    how = "install it (Debian/Ubuntu: apt-get install redis-server) or pass --redis-addr HOST:PORT of a running Redis"
    if shutil.which("apt-get") is None:
        raise RedisUnavailable(f"redis-server is not on PATH and there is no apt-get to install it: {how}")
    if os.geteuid() == 0:
        prefix = []
    elif shutil.which("sudo") is not None:
        prefix = ["sudo", "-n"]
    else:
        raise RedisUnavailable(f"redis-server is not on PATH; installing it needs root and there is no sudo: {how}")
    done = _apt_get(prefix, "install", "--no-install-recommends", PACKAGE)
    if done.returncode != 0:  # stale or missing package lists: refresh once and retry
        _apt_get(prefix, "update")
        done = _apt_get(prefix, "install", "--no-install-recommends", PACKAGE)
    path = _find()
    if done.returncode != 0 or path is None:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-5:])
        raise RedisUnavailable(f"could not install {PACKAGE} with {' '.join([*prefix, 'apt-get'])} "
                               f"(exit {done.returncode}):\n{tail}\n{how}")
    return path


def redis_server_path(install: bool = True) -> str:
    """The ``redis-server`` executable: on PATH, else installed by :func:`install_redis` if ``install``."""
    path = _find()
    if path is not None:
        return path
    if not install:
        raise RedisUnavailable("redis-server is not on PATH")
    return install_redis()


def die_with_parent():
    """A ``preexec_fn`` for child processes: on Linux they get SIGTERM when their parent dies, even by SIGKILL, so a
    crashed server or test run never leaves Redis or a RE manager behind. ``None`` elsewhere."""
    if sys.platform != "linux":
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved before the fork; the child only calls it
    return lambda: prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG


def ping(address: str, timeout_s: float = 1.0) -> bool:
    """Whether a Redis server answers at ``address`` (``HOST:PORT``)."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    host, _, port = address.rpartition(":")
    try:
        client = redis.Redis(host=host or "127.0.0.1", port=int(port or 6379), socket_timeout=timeout_s,
                             socket_connect_timeout=timeout_s, retry=Retry(NoBackoff(), 0))  # one answer, now
        try:
            return bool(client.ping())
        finally:
            client.close()
    except (redis.RedisError, OSError, ValueError):
        return False


class RedisServer:
    """A private Redis: ``host:port`` (a free port by default), no persistence, a temporary directory.

    Use as a context manager, or :meth:`start` and :meth:`stop`.

    Parameters
    ----------
    host : str
        Address Redis binds to; 127.0.0.1 keeps it local to this machine.
    port : int, optional
        TCP port; default a free one.
    install : bool
        Install Debian's package if ``redis-server`` is not on PATH.
    """

    def __init__(self, host: str = "127.0.0.1", port: int | None = None, *, install: bool = True):
        self.host, self.port, self.install = host, port, install
        self.process: subprocess.Popen | None = None
        self.directory: Path | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> RedisServer:
        """Start Redis and wait until it answers.

        Raises
        ------
        RedisUnavailable
            Redis is missing and cannot be installed, or it did not start (its log is in the message).
        """
        executable = redis_server_path(self.install)
        self.port = self.port or free_port(self.host)
        self.directory = Path(tempfile.mkdtemp(prefix="femtospin-redis-"))
        log = self.directory / "redis.log"
        command = [executable, "--bind", self.host, "--port", str(self.port), "--save", "", "--appendonly", "no",
                   "--dir", str(self.directory), "--daemonize", "no", "--protected-mode", "yes",
                   "--loglevel", "warning", "--logfile", str(log)]
        # its own session: a Ctrl-C in the terminal reaches the server, which stops Redis last
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=die_with_parent())
        deadline = time.monotonic() + START_TIMEOUT_S
        while not ping(self.address, 0.2):
            if self.process.poll() is not None or time.monotonic() > deadline:
                text = log.read_text() if log.exists() else ""
                self.stop()
                raise RedisUnavailable(f"redis-server did not start on {self.address}:\n{text.strip()}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        """Stop Redis (nothing is saved) and remove its directory."""
        if self.process is not None:
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(5)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
            self.process = None
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc) -> bool:
        self.stop()
        return False
