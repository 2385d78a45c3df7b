import os
import signal
import subprocess
import sys
import time

import httpx

from tests.services import free_port


def test_serve_stops_on_sigint(tiny_bundle, small_photo_path):
    ports = {name: free_port() for name in ("SENDER_HTTP_PORT", "CHANNEL_PORT", "RECEIVER_PORT")}
    env = {
        **os.environ,
        "DEEPSC_BUNDLE": str(tiny_bundle),
        "DEEPSC_INVERSION_STEPS": "2",
        **{f"DEEPSC_{name}": str(port) for name, port in ports.items()},
        "DEEPSC_CHANNEL_ADDRESS": f"127.0.0.1:{ports['CHANNEL_PORT']}",
        "DEEPSC_RECEIVER_ADDRESS": f"127.0.0.1:{ports['RECEIVER_PORT']}",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "deepsc.cli", "serve"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        # Started as a shell starts a background job: with SIGINT ignored, which children inherit.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    base = f"http://127.0.0.1:{ports['SENDER_HTTP_PORT']}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, process.stderr.read()
            time.sleep(0.3)
        response = httpx.post(
            f"{base}/v1/edits",
            files={"image": ("f.png", small_photo_path.read_bytes(), "image/png")},
            data={"instruction": "add glasses"},
            timeout=30,
        )
        assert response.status_code == 202
        location = response.headers["location"]
        while httpx.get(base + location).json()["status"] not in ("done", "failed", "cancelled"):
            time.sleep(0.2)
        assert httpx.get(base + location).json()["status"] == "done"
    finally:
        # kill -INT to the serve process alone must stop all three services.
        os.kill(process.pid, signal.SIGINT)
        code = process.wait(60)
    assert code == 0
    for port in ports.values():
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            raise AssertionError(f"port {port} still answers after Ctrl-C")
        except httpx.ConnectError:
            pass
        except httpx.HTTPError:
            raise AssertionError(f"port {port} still answers after Ctrl-C") from None
