"""How often a face's attribute degrees survive the channel, per latent space, SNR and power allocation.

Each face (renderer faces in w, random z in z) is sent unedited through AWGN and decoded with the
receiver's LMMSE estimate. A degree survives when the predictor reads the same degree off the
received image as off the noiseless one. The bundle's power allocation is compared with sending
the standardised latent as it is (w) or each z normalised on its own (z).

    .venv/bin/python -m benchmarks.degree_preservation [--bundle synthetic-64] [--faces 400] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from dataclasses import replace

import torch

from deepsc.attributes import ATTRIBUTES
from deepsc.bundle import load_bundle, resolve_bundle
from deepsc.editing import predict_degrees
from deepsc.latent_codec import LatentStatistics, awgn_round_trip
from deepsc.renderer import sample_params
from deepsc.training.bundle_build import load_param_embedding

SNRS_DB = (18.0, 6.0, 0.0)


def measure(bundle_name: str, faces: int, seed: int = 7) -> dict:
    """Fraction of degrees kept per space, scheme and SNR, and the mean absolute degree change."""
    bundle = load_bundle(bundle_name)
    folder = resolve_bundle(bundle_name)
    z = torch.randn(faces, bundle.latent_size, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        # Renderer faces as the generator learned them; bundles without the embedding use mapped z.
        if (folder / "param_embedding.safetensors").exists():
            w = load_param_embedding(folder)(sample_params(faces, torch.Generator().manual_seed(seed)))
        else:
            w = bundle.generator.mapping(z)
    latents = {"w": w, "z": z}
    schemes = {
        "w": {"allocated": bundle.latent_stats("w"), "plain": replace(bundle.latent_stats("w"), gains=None)},
        "z": {"allocated": bundle.latent_stats("z"), "plain": LatentStatistics.identity(bundle.latent_size)},
    }
    results: dict = {}
    for space, latent in latents.items():
        sent_degrees = predict_degrees(bundle.generator, bundle.predictor, latent, space)
        for scheme, stats in schemes[space].items():
            if scheme == "allocated" and stats.gains is None:
                continue
            rows = {}
            for snr in SNRS_DB:
                # A stream apart from the one that drew z: noise equal to z would only rescale it.
                noise = torch.Generator().manual_seed(seed + 1)
                with torch.no_grad():
                    received = awgn_round_trip(latent, stats, torch.full((faces,), snr), generator=noise)
                degrees = predict_degrees(bundle.generator, bundle.predictor, received, space)
                kept_fraction = (degrees == sent_degrees).float().mean(0)
                rows[str(int(snr))] = {
                    "kept": {name: round(float(kept_fraction[i]), 3) for i, name in enumerate(ATTRIBUTES)},
                    "kept_mean": round(float(kept_fraction.mean()), 3),
                    "mean_abs_change": round(float((degrees - sent_degrees).abs().float().mean()), 3),
                }
            results.setdefault(space, {})[scheme] = rows
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", default="synthetic-64")
    parser.add_argument("--faces", type=int, default=400)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    started = time.perf_counter()
    results = measure(args.bundle, args.faces)
    record = {
        "command": f"python -m benchmarks.degree_preservation --bundle {args.bundle} --faces {args.faces}",
        "machine": (
            f"{platform.machine()}, {os.cpu_count()} CPUs, {torch.get_num_threads()} torch threads, "
            f"torch {torch.__version__}"
        ),
        "faces": args.faces,
        "results": results,
        "seconds": round(time.perf_counter() - started, 1),
    }
    if args.json:
        print(json.dumps(record))
        return
    print(f"{record['command']}  ({record['machine']}, {record['seconds']} s)")
    print("space  scheme     SNR dB  degrees kept  mean |change|")
    for space, schemes in results.items():
        for scheme, rows in schemes.items():
            for snr, row in rows.items():
                print(f"{space:<6} {scheme:<10} {snr:>6}  {row['kept_mean']:>12.3f}  {row['mean_abs_change']:>13.3f}")


if __name__ == "__main__":
    main()
