"""``make demo``: the main job across the three services, on a real photo.

Starts the receiver, the channel emulator and the sender on 127.0.0.1, uploads scikit-image's
astronaut portrait (Eileen Collins, NASA, public domain; it ships inside scikit-image, so nothing
is downloaded) with an instruction over HTTP, follows the job, writes the three images and prints
the job's summary as one JSON line last, then stops the services.
"""

from __future__ import annotations

import io
import json
import sys
import time
from pathlib import Path

import httpx
from PIL import Image

from deepsc.serve import ServiceGroup

INSTRUCTION = "Give her dark sunglasses."
OUT = Path("out/demo")


def astronaut_png() -> bytes:
    """``skimage.data.astronaut()`` encoded as PNG."""
    from skimage import data

    buffer = io.BytesIO()
    Image.fromarray(data.astronaut()).save(buffer, format="PNG")
    return buffer.getvalue()


def run_job(base_url: str, photo: bytes, instruction: str, out: Path, timeout: float = 600.0) -> dict:
    """Submit one edit, follow it to the end, save its images and return the final job."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        response = client.post(
            "/v1/edits",
            files={"image": ("astronaut.png", photo, "image/png")},
            data={"instruction": instruction, "snr_db": "6", "channel": "awgn", "seed": "0", "latent_space": "w"},
        )
        if response.status_code != 202:
            raise RuntimeError(f"the sender rejected the upload ({response.status_code}): {response.text}")
        location = response.headers["location"]
        print(f"job {response.json()['id']} accepted; following {base_url}{location}", file=sys.stderr)

        deadline = time.monotonic() + timeout
        last_stage = None
        while time.monotonic() < deadline:
            job = client.get(location).json()
            if job["stage"] != last_stage:
                print(f"  stage: {job['stage']}", file=sys.stderr)
                last_stage = job["stage"]
            if job["status"] in ("done", "failed", "cancelled"):
                break
            time.sleep(0.5)
        else:
            raise RuntimeError(f"the job did not finish within {timeout:.0f} s")
        if job["status"] != "done":
            raise RuntimeError(f"the job ended {job['status']}: {job['error']}")

        out.mkdir(parents=True, exist_ok=True)
        (out / "astronaut.png").write_bytes(photo)
        for kind in ("original", "reconstruction", "edited"):
            (out / f"{kind}.png").write_bytes(client.get(f"{location}/images/{kind}").content)
        (out / "summary.json").write_text(json.dumps(job["summary"], indent=2) + "\n")
        return job


def main() -> int:
    photo = astronaut_png()
    print(
        f"starting the receiver, channel emulator and sender; editing the astronaut portrait with {INSTRUCTION!r} at 6 dB AWGN",
        file=sys.stderr,
    )
    try:
        with ServiceGroup() as services:
            job = run_job(services.sender_url, photo, INSTRUCTION, OUT)
    except (RuntimeError, httpx.HTTPError) as error:
        print(f"demo: error: {error}", file=sys.stderr)
        return 1
    print(f"images and summary.json written to {OUT}/", file=sys.stderr)
    print(json.dumps(job["summary"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
