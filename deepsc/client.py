"""Python clients of the sender: REST (httpx) and gRPC (deepsc.v1.EditService).

Both submit an image with an instruction, report progress through a callback and return the same
``EditResult``: the final job fields, the summary and the three PNG images.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import grpc
import httpx

from deepsc.grpc_server import GRPC_OPTIONS

# Called with (stage, step, total) whenever the job reports progress.
ProgressHook = Callable[[str, int, int], None]


class EditFailed(RuntimeError):
    """The job ended failed or cancelled, or the sender rejected it.

    Attributes:
        status: final job status, or "rejected" when it was never accepted.
    """

    def __init__(self, message: str, status: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class EditResult:
    """A finished edit.

    Attributes:
        job_id: the sender's job id.
        summary: the keys of summary.json.
        images: PNG bytes by kind: "original", "reconstruction", "edited".
    """

    job_id: str
    summary: dict
    images: dict[str, bytes] = field(default_factory=dict)


class RestClient:
    """Client of the sender's REST API.

    Args:
        base_url: e.g. "http://127.0.0.1:8000".
        timeout: seconds for each HTTP request.
    """

    def __init__(self, base_url: str = "http://127.0.0.1:8000", timeout: float = 30.0) -> None:
        self._http = httpx.Client(base_url=base_url, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RestClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def submit(
        self,
        image: bytes,
        instruction: str,
        snr_db: float = 6.0,
        channel: str = "awgn",
        seed: int = 0,
        latent_space: str = "w",
    ) -> dict:
        """Upload an edit; return the accepted job. Raises EditFailed when rejected."""
        response = self._http.post(
            "/v1/edits",
            files={"image": ("image", image, "application/octet-stream")},
            data={
                "instruction": instruction,
                "snr_db": str(snr_db),
                "channel": channel,
                "seed": str(seed),
                "latent_space": latent_space,
            },
        )
        if response.status_code != 202:
            raise EditFailed(f"the sender rejected the edit ({response.status_code}): {_detail(response)}", "rejected")
        return response.json()

    def wait(self, job_id: str, progress: ProgressHook | None = None, timeout: float = 600.0) -> EditResult:
        """Follow a job's Server-Sent Events to its end and fetch the images."""
        deadline = time.monotonic() + timeout
        final = None
        with self._http.stream(
            "GET", f"/v1/edits/{job_id}/events", timeout=httpx.Timeout(timeout, connect=10.0)
        ) as response:
            if response.status_code != 200:
                raise EditFailed(f"cannot follow job {job_id} ({response.status_code})", "rejected")
            event = None
            for line in response.iter_lines():
                if time.monotonic() > deadline:
                    raise TimeoutError(f"job {job_id} did not finish within {timeout:.0f} s")
                if line.startswith("event: "):
                    event = line[len("event: ") :]
                elif line.startswith("data: "):
                    job = json.loads(line[len("data: ") :])
                    if progress is not None:
                        progress(job["stage"], job["progress"]["step"], job["progress"]["total"])
                    if event in ("done", "failed", "cancelled"):
                        final = job
                        break
        if final is None:
            raise EditFailed(f"the event stream of job {job_id} ended without a final event", "unknown")
        if final["status"] != "done":
            raise EditFailed(f"job {job_id} ended {final['status']}: {final['error']}", final["status"])
        images = {
            kind: self._http.get(f"/v1/edits/{job_id}/images/{kind}").content
            for kind in ("original", "reconstruction", "edited")
        }
        return EditResult(job_id, final["summary"], images)

    def edit(self, image: bytes, instruction: str, progress: ProgressHook | None = None, **options) -> EditResult:
        """Submit and wait: the whole job in one call."""
        job = self.submit(image, instruction, **options)
        return self.wait(job["id"], progress)

    def cancel(self, job_id: str) -> dict:
        response = self._http.delete(f"/v1/edits/{job_id}")
        if response.status_code != 202:
            raise EditFailed(f"cannot cancel job {job_id} ({response.status_code}): {_detail(response)}", "rejected")
        return response.json()


class GrpcClient:
    """Client of the sender's gRPC API (deepsc.v1.EditService).

    Args:
        address: "host:port", e.g. "127.0.0.1:50051".
    """

    def __init__(self, address: str = "127.0.0.1:50051") -> None:
        from deepsc.v1 import editing_pb2_grpc

        self._channel = grpc.insecure_channel(address, options=GRPC_OPTIONS)
        self._stub = editing_pb2_grpc.EditServiceStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> GrpcClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def edit(
        self,
        image: bytes,
        instruction: str,
        progress: ProgressHook | None = None,
        snr_db: float = 6.0,
        channel: str = "awgn",
        seed: int = 0,
        latent_space: str = "w",
        timeout: float = 600.0,
        request_id: str | None = None,
    ) -> EditResult:
        """Submit an edit and follow its server stream to the result.

        Raises:
            EditFailed: rejected (with the gRPC status message), failed or cancelled.
        """
        from deepsc.v1 import editing_pb2

        request = editing_pb2.SubmitEditRequest(
            image=image, instruction=instruction, snr_db=snr_db, channel=channel, seed=seed, latent_space=latent_space
        )
        metadata = [("x-request-id", request_id)] if request_id else None
        try:
            for event in self._stub.SubmitEdit(request, timeout=timeout, metadata=metadata):
                job = event.job
                if progress is not None:
                    progress(job.stage, job.step, job.total)
                if event.event == "done":
                    images = {
                        "original": event.images.original,
                        "reconstruction": event.images.reconstruction,
                        "edited": event.images.edited,
                    }
                    return EditResult(job.id, json.loads(job.summary_json), images)
                if event.event in ("failed", "cancelled"):
                    raise EditFailed(f"job {job.id} ended {event.event}: {job.error}", event.event)
        except grpc.RpcError as error:
            raise EditFailed(
                f"the sender rejected the edit ({error.code().name}): {error.details()}", "rejected"
            ) from None
        raise EditFailed("the event stream ended without a final event", "unknown")


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except ValueError:
        return response.text
    return detail if isinstance(detail, str) else json.dumps(detail)
