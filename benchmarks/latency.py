"""Wall-clock time per stage of one edit job, and the process's peak memory.

Each job takes a held-out renderer face (the seed of ``deepsc eval-edit``, which no training
command draws from) and one of five instructions in turn, read with the bundle's text encoder.
The stages call the pipeline's own entry points, as the services do, with the models on the CPU:

- inversion: ``EditPipeline.invert_image``, that is alignment, the inversion encoder's start and
  the pipeline's default number of Adam steps in W;
- edit: the Semantic Editing Module in W with the default ``EditConfig``, so with the
  channel-aware output determination and the channel-robust refinement for AWGN at 6 dB;
- edit_without_refinement: the same edit with ``refine_steps=0``, so the difference of the two
  is the refinement's own cost;
- channel_and_receiver: ``encode_latent``, ``transmit`` over AWGN at 6 dB and
  ``EditPipeline.run_receiver`` (the receiver's LMMSE estimate and the generator);
- end_to_end: ``EditPipeline.run``, the whole job in one process, from the image to the summary.

Both edit stages report the pipeline's own ``timings["editing"]``, which covers the editor alone.
Memory is the process's maximum resident set size (``getrusage``): before the models load, after
they load, at the end, and how far the jobs raised it above the load-time maximum.

    .venv/bin/python -m benchmarks.latency [--bundle synthetic-64] [--jobs 10] [--threads T] [--json] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from deepsc.bundle import BundleError, load_bundle
from deepsc.channel import transmit
from deepsc.edit_eval import EVAL_SEED
from deepsc.editing import EditConfig
from deepsc.latent_codec import encode_latent
from deepsc.metrics.lpips import load_lpips
from deepsc.pipeline import EditOptions, EditPipeline, to_uint8
from deepsc.renderer import render, sample_params

STAGES: tuple[str, ...] = (
    "inversion",
    "edit",
    "edit_without_refinement",
    "channel_and_receiver",
    "end_to_end",
)
INSTRUCTIONS: tuple[str, ...] = (
    "make her smile a bit more",
    "give him glasses",
    "make him look older",
    "add bangs",
    "remove the beard",
)
SNR_DB = 6.0

# Called after each timed job with (jobs done, jobs in all).
JobProgress = Callable[[int, int], None]


def max_rss_mib() -> float:
    """Return the process's maximum resident set size so far, in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports ru_maxrss in KiB, macOS in bytes.
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def held_out_faces(count: int, resolution: int) -> list[Image.Image]:
    """Render ``count`` held-out renderer faces at ``resolution`` as the images a client would send."""
    params = sample_params(count, torch.Generator().manual_seed(EVAL_SEED))
    faces = render(params, resolution=resolution, noise_seed=EVAL_SEED)
    return [Image.fromarray(to_uint8(faces[i : i + 1])) for i in range(count)]


def time_job(
    refined: EditPipeline, unrefined: EditPipeline, image: Image.Image, instruction: str, options: EditOptions
) -> dict[str, float]:
    """Run one job stage by stage, then once more end to end, and return seconds per stage."""
    seconds: dict[str, float] = {}
    bundle = refined.bundle
    request = bundle.parse(instruction)

    started = time.perf_counter()
    inverted = refined.invert_image(image, options)
    seconds["inversion"] = time.perf_counter() - started

    sender = refined.edit_latent(inverted, instruction, options, request=request)
    seconds["edit"] = sender.timings["editing"]
    without_refinement = unrefined.edit_latent(inverted, instruction, options, request=request)
    seconds["edit_without_refinement"] = without_refinement.timings["editing"]

    assert sender.latent is not None  # edit_latent always returns the latent it sends
    started = time.perf_counter()
    symbols = encode_latent(sender.latent.reshape(-1).cpu(), bundle.latent_stats(options.latent_space))
    received = transmit(symbols, options.channel, options.snr_db, options.seed, frame_symbols=options.frame_symbols)
    refined.run_receiver(received.frames, options.latent_space)
    seconds["channel_and_receiver"] = time.perf_counter() - started

    started = time.perf_counter()
    refined.run(image, instruction, options)
    seconds["end_to_end"] = time.perf_counter() - started
    return seconds


def summarise_seconds(samples: list[float]) -> dict:
    """Median and 90th percentile (linear interpolation) of one stage's samples, in seconds."""
    return {
        "median_s": _round(float(np.median(samples))),
        "p90_s": _round(float(np.percentile(samples, 90))),
        "samples_s": [_round(value) for value in samples],
    }


def measure(
    bundle_name: str,
    jobs: int = 10,
    inversion_steps: int | None = None,
    warmup: int = 1,
    progress: JobProgress | None = None,
) -> dict:
    """Time every stage of ``jobs`` edit jobs after ``warmup`` untimed ones, and read the peak memory.

    Args:
        inversion_steps: Adam steps of the inversion. None uses the pipeline's default.

    Raises:
        ValueError: ``jobs`` below 1 or ``warmup`` below 0.
    """
    if jobs < 1:
        raise ValueError(f"invalid jobs {jobs}; expected at least 1")
    if warmup < 0:
        raise ValueError(f"invalid warmup {warmup}; expected 0 or more")
    rss_before_load = max_rss_mib()
    bundle = load_bundle(bundle_name)
    lpips_model = load_lpips()
    refined = EditPipeline(bundle, lpips_model)
    unrefined = EditPipeline(bundle, lpips_model, replace(EditConfig(), refine_steps=0))
    steps = inversion_steps if inversion_steps is not None else EditOptions().inversion_steps
    images = held_out_faces(jobs, bundle.resolution)
    rss_after_load = max_rss_mib()

    def options_for(index: int) -> EditOptions:
        return EditOptions(snr_db=SNR_DB, channel="awgn", seed=EVAL_SEED + index, inversion_steps=steps)

    # Untimed jobs absorb one-off costs (lazy initialisation, first allocations) of the first run.
    for _ in range(warmup):
        time_job(refined, unrefined, images[0], INSTRUCTIONS[0], options_for(0))

    samples: dict[str, list[float]] = {stage: [] for stage in STAGES}
    for index in range(jobs):
        instruction = INSTRUCTIONS[index % len(INSTRUCTIONS)]
        for stage, seconds in time_job(refined, unrefined, images[index], instruction, options_for(index)).items():
            samples[stage].append(seconds)
        if progress is not None:
            progress(index + 1, jobs)

    rss_end = max_rss_mib()
    return {
        "bundle": bundle.name,
        "jobs": jobs,
        "warmup_jobs": warmup,
        "inversion_steps": steps,
        "latent_space": "w",
        "channel": "awgn",
        "snr_db": SNR_DB,
        "instructions": list(INSTRUCTIONS),
        "stages": {stage: summarise_seconds(samples[stage]) for stage in STAGES},
        # NOTE: the maximum RSS only rises, so the growth is how far the jobs pushed the peak above the
        # load-time peak. Memory the jobs freed again before that point does not show.
        "memory": {
            "max_rss_before_load_mib": round(rss_before_load, 1),
            "max_rss_after_load_mib": round(rss_after_load, 1),
            "max_rss_mib": round(rss_end, 1),
            "max_rss_growth_mib": round(rss_end - rss_after_load, 1),
        },
    }


def hardware() -> dict:
    """Describe the machine and the torch build that the numbers come from."""
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
    }


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"invalid value {value}; expected an integer of at least 1")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", default="synthetic-64", help="bundle name or folder (default synthetic-64)")
    parser.add_argument("--jobs", type=positive_int, default=10, help="timed jobs (default 10)")
    parser.add_argument("--threads", type=positive_int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON object to this file")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    started = time.perf_counter()
    try:
        results = measure(
            args.bundle, args.jobs, progress=lambda done, total: print(f"job {done}/{total} done", file=sys.stderr)
        )
    except BundleError as error:
        sys.exit(f"benchmarks.latency: error: {error}")
    command = ["python", "-m", "benchmarks.latency", "--bundle", args.bundle, "--jobs", str(args.jobs)]
    command += ["--threads", str(torch.get_num_threads())]
    record = {
        "command": shlex.join(command),
        "hardware": hardware(),
        **results,
        "seconds": round(time.perf_counter() - started, 1),
    }
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(record, indent=2) + "\n")
    if args.json:
        print(json.dumps(record))
        return

    machine = record["hardware"]
    print(
        f"{record['command']}  ({machine['machine']}, {machine['cpu_count']} CPUs, {machine['torch_threads']} torch "
        f"threads, torch {machine['torch']}, {record['seconds']} s)"
    )
    print(f"{results['jobs']} jobs, {results['inversion_steps']} inversion steps, AWGN at {SNR_DB:g} dB")
    print("stage                     median s    p90 s")
    for stage, row in results["stages"].items():
        print(f"{stage:<24} {row['median_s']:>9.3f} {row['p90_s']:>8.3f}")
    memory = results["memory"]
    print(f"max RSS {memory['max_rss_mib']:.0f} MiB, {memory['max_rss_growth_mib']:.0f} MiB above the load-time peak")


def _round(seconds: float) -> float:
    """Round to four significant digits, so a sub-millisecond stage keeps its value."""
    return float(f"{seconds:.4g}")


if __name__ == "__main__":
    main()
