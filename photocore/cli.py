"""The ``photocore`` command line.

Exit codes (all commands): 0 everything checked passed, 1 something failed, 2 unusable input
or configuration (the error code is printed), 3 an internal error (a bug: please report it).
No traceback is ever printed for bad input.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path

from . import __name__ as _pkg
from .errors import PhotocoreError

EXIT_OK, EXIT_FAIL, EXIT_UNUSABLE, EXIT_INTERNAL = 0, 1, 2, 3
STATUS_MARK = {"pass": "PASS", "fail": "FAIL", "not_assessed": "N/A "}


def _format_value(value) -> str:
    return "-" if value is None else f"{value:g}"


def _print_human(path: str, report) -> None:
    print(f"{path}: {report.faces} face(s)")
    for result in report.results:
        verdict = "compliant" if result.compliant else "NOT compliant"
        print(f"  [{result.credential}] {verdict}")
        for v in result.verdicts:
            line = f"    {STATUS_MARK[v.status]} {v.code:20} value {_format_value(v.value):>8}  limit {v.limit or '-'}"
            print(f"{line}\n           {v.message_zh} / {v.message_en}")


def _annotation_path(base: str, image: str, several: bool) -> Path:
    base_path = Path(base)
    if not several:
        return base_path
    return base_path.with_name(f"{base_path.stem}-{Path(image).stem}{base_path.suffix or '.png'}")


def cmd_check(args) -> int:
    from .annotate import save_annotation
    from .check import check

    outputs, exit_code = [], EXIT_OK
    for image in args.images:
        try:
            report = check(image, credentials=args.credential or ())
        except PhotocoreError as exc:
            exit_code = EXIT_UNUSABLE
            outputs.append({"file": image, "error": exc.to_dict()})
            if not args.json:
                print(f"{image}: {exc.code}: {exc.message}", file=sys.stderr)
            continue
        if not report.compliant and exit_code == EXIT_OK:
            exit_code = EXIT_FAIL
        outputs.append(report.to_dict(file=image))
        if args.annotate:
            target = _annotation_path(args.annotate, image, len(args.images) > 1)
            try:
                save_annotation(target, report.analysis, report.results)
            except (OSError, ValueError) as exc:
                print(f"{image}: output.unwritable: cannot write {target}: {exc}", file=sys.stderr)
                exit_code = EXIT_UNUSABLE
        if not args.json:
            _print_human(image, report)
    if args.json:
        print(json.dumps(outputs[0] if len(outputs) == 1 else outputs, ensure_ascii=False, indent=2))
    return exit_code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="photocore", description="ID-photo checks for every credential.")
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="check captures and say what to fix")
    check.add_argument("images", nargs="+", metavar="IMAGE")
    check.add_argument("--credential", action="append", metavar="ID",
                       help="judge against this credential's profile (repeatable); default: the master capture")
    check.add_argument("--json", action="store_true", help="machine-readable output (see README)")
    check.add_argument("--annotate", metavar="OUT.png", help="write the image with what the checks saw")
    check.set_defaults(run=cmd_check)
    return parser


@contextlib.contextmanager
def _quiet_native_logs():
    """Send what the models' C++ code writes to fd 2 to /dev/null; keep Python's stderr.

    TensorFlow Lite and MediaPipe log start-up chatter straight to file descriptor 2, which
    would bury the clerk's messages. Set PHOTOCORE_NATIVE_LOGS=1 to see it.
    """
    if os.environ.get("PHOTOCORE_NATIVE_LOGS") == "1":
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    original = sys.stderr
    try:
        os.dup2(devnull, 2)
        sys.stderr = os.fdopen(os.dup(saved), "w", buffering=1, encoding=original.encoding or "utf-8",
                               errors="replace")
        yield
    finally:
        sys.stderr.flush()
        sys.stderr.close()
        sys.stderr = original
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with _quiet_native_logs():
            return args.run(args)
    except PhotocoreError as exc:
        print(f"{exc.code}: {exc.message}", file=sys.stderr)
        return EXIT_UNUSABLE
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug, not bad input: say so without a traceback
        print(f"internal.error: {type(exc).__name__}: {exc} (please report this to the {_pkg} team)",
              file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
