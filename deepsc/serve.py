"""``deepsc serve``: run the receiver, the channel emulator and the sender as child processes."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time

import httpx

from deepsc.settings import Settings

logger = logging.getLogger("deepsc.serve")

# Start order: each service's downstream peer first.
SERVICES = (("receiver", "receiver"), ("channel", "channel_sim"), ("sender", "sender"))


class ServiceGroup:
    """The three services as child processes on this machine.

    Args:
        env: environment of the children (``DEEPSC_*`` settings); the current one when None.
        ready_timeout: seconds to wait for the sender's /readyz.
    """

    def __init__(self, env: dict[str, str] | None = None, ready_timeout: float = 300.0) -> None:
        self.env = dict(os.environ if env is None else env)
        self.settings = Settings()
        self.ready_timeout = ready_timeout
        self.processes: dict[str, subprocess.Popen] = {}

    @property
    def sender_url(self) -> str:
        port = self.env.get("DEEPSC_SENDER_HTTP_PORT", str(self.settings.sender_http_port))
        host = self.env.get("DEEPSC_HOST", self.settings.host)
        return f"http://{host}:{port}"

    def start(self) -> None:
        for name, module in SERVICES:
            self.processes[name] = subprocess.Popen([sys.executable, "-m", module], env=self.env)
            logger.info("started %s (pid %d)", name, self.processes[name].pid)
        self.wait_ready()

    def wait_ready(self) -> None:
        """Poll the sender's /readyz until it returns 200; raise if a child exits or time runs out."""
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"the {name} service exited with code {process.returncode} during start-up")
            try:
                if httpx.get(f"{self.sender_url}/readyz", timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"the services were not ready within {self.ready_timeout:.0f} s ({self.sender_url}/readyz)")

    def stop(self, timeout: float = 15.0) -> None:
        """Ask every child to stop (SIGINT), then kill those still running after ``timeout``."""
        for process in reversed(list(self.processes.values())):
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        deadline = time.monotonic() + timeout
        for name, process in self.processes.items():
            try:
                process.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                logger.warning("%s did not stop within %.0f s; killing it", name, timeout)
                process.kill()
                process.wait()

    def __enter__(self) -> ServiceGroup:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def run_serve() -> int:
    """Start the services and block until Ctrl-C or SIGTERM, then stop them cleanly."""
    group = ServiceGroup()
    # A job started in the background by a shell inherits SIGINT ignored; Ctrl-C and kill -INT
    # must stop the services all the same, and so must SIGTERM.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        group.start()
        print(
            f"editable-deepsc is ready: REST at {group.sender_url}/v1/edits (docs at {group.sender_url}/docs); Ctrl-C stops it",
            file=sys.stderr,
        )
        while all(process.poll() is None for process in group.processes.values()):
            time.sleep(0.5)
        exited = [name for name, process in group.processes.items() if process.poll() is not None]
        print(f"deepsc serve: error: the {', '.join(exited)} service exited; stopping the others", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("deepsc serve: stopping", file=sys.stderr)
        return 0
    except RuntimeError as error:
        print(f"deepsc serve: error: {error}", file=sys.stderr)
        return 1
    finally:
        group.stop()
