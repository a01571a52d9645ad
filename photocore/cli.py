"""The ``photocore`` command line.

Exit codes (all commands): 0 everything checked passed, 1 something failed, 2 unusable input
or configuration (the error code is printed), 3 an internal error (a bug: please report it).
No traceback is printed unless asked: ``--debug`` (before or after the subcommand) or ``PHOTOCORE_DEBUG=1`` prints
it to stderr, for typed errors and internal errors alike, before the usual one-line message.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .catalogue import load_catalogue
from .errors import ConfigError, PhotocoreError

if TYPE_CHECKING:  # imported where used: a command loads only what it needs
    from .deliver.outbox import Outbox
    from .library.config import LibraryConfig

EXIT_OK, EXIT_FAIL, EXIT_UNUSABLE, EXIT_INTERNAL = 0, 1, 2, 3
STATUS_MARK = {"pass": "PASS", "fail": "FAIL", "not_assessed": "N/A "}


def _format_value(value) -> str:
    return "-" if value is None else f"{value:g}"


def _print_human(path: str, report) -> None:
    print(f"{path}: {report.faces} face(s)")
    if report.analysis.quarter_turns:
        print(f"  turned {90 * report.analysis.quarter_turns} degrees counter-clockwise: the capture was on its "
              "side or upside down")
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


def cmd_check(args: argparse.Namespace) -> int:
    from .annotate import save_annotation
    from .check import check

    captured_at = _parse_time(args.captured_at) if args.captured_at else None
    credentials = _credential_ids(args, default_all=False)
    outputs, exit_code = [], EXIT_OK
    for image in args.images:
        try:
            report = check(image, credentials=credentials, catalogue=args.catalogue, captured_at=captured_at)
        except PhotocoreError as exc:
            if args.debug:
                traceback.print_exc(file=sys.stderr)
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
                _save_annotation_private(save_annotation, target, report.analysis, report.results)
            except (OSError, ValueError) as exc:
                print(f"{image}: output.unwritable: cannot write {target}: {exc}", file=sys.stderr)
                exit_code = EXIT_UNUSABLE
        if not args.json:
            _print_human(image, report)
    if args.json:
        print(json.dumps(outputs[0] if len(outputs) == 1 else outputs, ensure_ascii=False, indent=2))
    return exit_code


def _save_annotation_private(save_annotation, target: Path, analysis, results) -> None:
    """The annotation shows the face: create it 0600 (or $PHOTOCORE_FILE_MODE) before Pillow
    writes into it, so it is never readable by others, even for a moment."""
    from .private_files import file_mode
    fd = os.open(target, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        os.fchmod(fd, file_mode())
    finally:
        os.close(fd)
    save_annotation(target, analysis, results)


def _credential_ids(args: argparse.Namespace, default_all: bool) -> list[str]:
    """The --credential ids in order (unknown ones fail before any work), plus every credential
    with --all, or when none is named and ``default_all``."""
    catalogue = load_catalogue(args.catalogue)
    credentials = list(dict.fromkeys(args.credential or ()))
    for credential in credentials:
        catalogue.get(credential)
    if args.all or (default_all and not credentials):
        credentials += [c for c in catalogue.credentials if c not in credentials]
    return credentials


def _credential_options(parser: argparse.ArgumentParser, default_all: bool) -> None:
    parser.add_argument("--credential", action="append", metavar="ID",
                        help="this credential (repeatable)" + ("" if default_all else "; default: the master capture"))
    parser.add_argument("--all", action="store_true",
                        help="every credential in the catalogue" + (" (the default)" if default_all else ""))
    parser.add_argument("--catalogue", metavar="DIR", type=_path,
                        help="overlay this catalogue folder (or $PHOTOCORE_CATALOGUE)")


def cmd_convert(args: argparse.Namespace) -> int:
    from .contact_sheet import write_conversion
    from .convert import convert

    catalogue = load_catalogue(args.catalogue)
    credentials = _credential_ids(args, default_all=True)
    captured_at = _parse_time(args.captured_at) if args.captured_at else None
    signing = _signing_options(args, captured_at) if args.sign else None
    conversion = convert(args.image, credentials, catalogue=args.catalogue, captured_at=captured_at, signing=signing,
                         deadline=args.deadline, background=args.background, largest=args.largest)
    out = Path(args.out)
    rows = write_conversion(conversion, out, catalogue, f"photocore: {Path(args.image).name}")
    failed = [r for r in rows if r["status"] != "ok"]
    if args.json:
        _print_json(rows)
    else:
        print(f"{args.image}: {len(rows) - len(failed)} of {len(rows)} credential photos written to {out}/ "
              f"from {conversion.distinct_renders} distinct renders "
              f"({conversion.timings['total'] * 1000:.0f} ms)")
        if conversion.turned_degrees:
            print(f"  TURNED: the capture was on its side or upside down; turned {conversion.turned_degrees} degrees "
                  "counter-clockwise to make it upright")
        for row in failed:
            reasons = "; ".join(f"{f['code']} {f['message_zh']} / {f['message_en']}" for f in row["failures"])
            print(f"  FAILED {row['credential']}: {reasons}")
        by_eye: dict[str, list] = {}
        for row in rows:
            for item in row["not_assessed"]:
                by_eye.setdefault(item["code"], [item, 0])[1] += 1
        for code, (item, count) in sorted(by_eye.items()):
            print(f"  CHECK BY EYE ({count} credentials) {code}: {item['message_zh']} / {item['message_en']}")
        print(f"contact sheet: {out / 'index.html'}")
    return EXIT_FAIL if failed else EXIT_OK


def cmd_sheet(args: argparse.Namespace) -> int:
    """Lay one credential's photo out on a standard print (photocore/sheet.py)."""
    from .private_files import mkdir_private, write_private
    from .sheet import build_sheet, format_for

    fmt = format_for(args.out)
    size = load_catalogue(args.catalogue).get(args.credential) if args.credential else None
    sheet = build_sheet(args.photo, size, paper=args.paper, fmt=fmt, copies=args.copies)
    out = Path(args.out)
    try:
        mkdir_private(out.parent)
        write_private(out, sheet.data)
    except OSError as exc:
        raise ConfigError(f"cannot write {out}: {exc}", code="output.unwritable") from exc
    for note in sheet.notes:
        print(f"note: {note}", file=sys.stderr)
    if args.json:
        _print_json({"file": str(out), **sheet.to_dict()})
    else:
        (w, h), (pw, ph) = sheet.page_mm, sheet.photo_mm
        name = f" ({size.name_zh} / {size.name_en})" if size is not None else " (size from the photo's DPI)"
        print(f"{out}: {sheet.copies} copies of {pw:.1f} x {ph:.1f} mm{name} on {sheet.paper} ({w:.1f} x {h:.1f} mm, "
              f"{sheet.orientation}{', 300 dpi' if sheet.format == 'jpeg' else ''}); print at actual size (100 %)")
    return EXIT_OK


def _signing_options(args, captured_at):
    from .sign import CaptureInfo, load_signer
    from .sign.stage import SigningOptions

    if not args.keys:
        raise ConfigError("--sign needs --keys DIR (see `photocore keys init`)", code="config.invalid")
    sm2 = None
    if args.sm2:
        from .sign.sm2 import Sm2Signer
        sm2 = Sm2Signer(args.keys)
    capture = CaptureInfo(station_id=args.station or os.environ.get("PHOTOCORE_STATION", "station-1"),
                          operator_id=args.operator or os.environ.get("PHOTOCORE_OPERATOR"),
                          captured_at=captured_at.isoformat() if captured_at else None,
                          device=args.device or os.environ.get("PHOTOCORE_DEVICE"))
    return SigningOptions(load_signer(args.keys), capture, c2pa=args.c2pa, sm2=sm2)


def cmd_keys(args: argparse.Namespace) -> int:
    from . import sign

    if args.keys_command == "init":
        sign.init_keys(args.directory, alg=args.alg, station=args.station, usage_days=args.usage_days)
        if args.sm2:
            from .sign.sm2 import create_key
            create_key(args.directory)
        print(f"key store created in {args.directory}; give agencies {Path(args.directory) / 'root.pem'}")
    elif args.keys_command == "add":
        kid = sign.add_station_key(args.directory, station=args.station, usage_days=args.usage_days)
        print(f"station key {kid} added")
    elif args.keys_command == "revoke":
        sign.revoke(args.directory, args.kid)
        print(f"station key {args.kid} revoked (publish {Path(args.directory) / 'revoked.json'})")
    else:
        rows = sign.list_keys(args.directory)
        if args.json:
            _print_json(rows)
        for r in rows if not args.json else ():
            state = "revoked" if r["revoked"] else f"signs {r['usage_from'][:10]} to {r['usage_until'][:10]}"
            print(f"{r['kid']}  {state}  valid until {r['valid_until'][:10]}  {r['subject']}")
    return EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    from .sign import verify
    from .sign.verify import load_trust, revoked_beside

    try:
        photo = Path(args.photo).read_bytes()
        token = Path(args.signature or f"{args.photo}.jws").read_text(encoding="ascii")
        gone = set(json.loads(Path(args.revoked).read_text(encoding="utf-8"))["revoked"]) if args.revoked else None
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"cannot read the photo, signature or revocation list: {exc}",
                          code="verify.unusable") from exc
    # without --revoked, the revocation list published beside the root (keys revoke) is read
    result = verify(photo, token, load_trust(args.trust), gone if gone is not None else revoked_beside(args.trust))
    out = result.to_dict()
    if result.valid and args.sm2_public:
        from .sign.manifest import signed_payload
        from .sign.sm2 import verify_sidecar
        try:
            sidecar = Path(f"{args.photo}.sm2.json").read_bytes()
            ok, signed = verify_sidecar(sidecar, Path(args.sm2_public).read_text(encoding="ascii"))
        except (OSError, ValueError, KeyError) as exc:
            raise ConfigError(f"cannot read the SM2 signature: {exc}", code="verify.unusable") from exc
        if not ok or signed != signed_payload(token):
            out.update(valid=False, code="verify.bad_signature", message="the SM2 signature does not match")
    if args.json:
        _print_json(out)
    else:
        print(f"{args.photo}: {'VALID' if out['valid'] else 'INVALID ' + out['code']}: {out['message']}")
        if out["valid"] and out.get("revocation") == "unknown":
            print("  revocation not checked: no revoked.json beside the root and no --revoked given")
    return EXIT_OK if out["valid"] else EXIT_FAIL


def _outbox(args: argparse.Namespace) -> Outbox:
    from .deliver.outbox import Policy, open_outbox
    policy = Policy(max_attempts=args.max_attempts, lease=args.lease) if hasattr(args, "max_attempts") else None
    return open_outbox(args.data_dir, args.database, args.outbox_key_file, policy)


def cmd_push(args: argparse.Namespace) -> int:
    from .deliver.push import push
    from .deliver.systems import endpoint_system, load_systems

    if bool(args.to) == bool(args.endpoint):
        raise ConfigError("give either --to SYSTEM (with --systems FILE) or --endpoint URL", code="config.invalid")
    if args.endpoint:
        system = endpoint_system(args.endpoint)
    else:
        if not args.systems:
            raise ConfigError("--to needs --systems FILE", code="config.invalid")
        systems = load_systems(args.systems)
        if args.to not in systems:
            raise ConfigError(f"no system {args.to!r} in {args.systems} ({', '.join(systems)})",
                              code="config.unknown_system")
        system = systems[args.to]
    counts = push(_outbox(args), args.paths, system, reference=args.reference)
    print(f"{system.id}: {counts['queued']} queued, {counts['already_queued']} already queued, "
          f"{counts['not_for_system']} not taken by this system")
    return EXIT_OK


def cmd_adapters(args: argparse.Namespace) -> int:
    """The adapters installed (entry point group photocore.adapters), or the contract kit on one."""
    from .adapters import available

    if args.adapters_command == "check":
        import tomllib

        from .adapters.contract import check_adapter
        try:
            settings = tomllib.loads(Path(args.settings).read_text(encoding="utf-8")) if args.settings else None
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read adapter settings {args.settings}: {exc}", code="config.invalid") from exc
        report = check_adapter(args.name, settings, raise_on_failure=False)
        if args.json:
            _print_json(report.to_dict())
        else:
            print(report.summary())
        return EXIT_OK if report.ok else EXIT_FAIL
    if args.json:
        _print_json([vars(i) for i in available()])
    else:
        for i in available():
            print(f"{i.name:20} {i.target}  ({i.distribution} {i.version})")
    return EXIT_OK


def cmd_deliver(args: argparse.Namespace) -> int:
    from .deliver.worker import Worker

    worker = Worker(_outbox(args), threads=args.workers, once=args.once)
    stats = worker.run()
    print(f"delivered {stats.delivered}, to retry {stats.retried}, dead letters {stats.dead}")
    if stats.threads_lost:
        print(f"deliver.thread_lost: {stats.threads_lost} delivery thread(s) stopped on {stats.lost_because}; "
              "their rows are claimed again when their lease runs out", file=sys.stderr)
        return EXIT_INTERNAL
    return EXIT_OK


def cmd_outbox(args: argparse.Namespace) -> int:
    from .deliver.outbox import new_key

    if args.outbox_command == "keygen":
        print(new_key())
        return EXIT_OK
    outbox = _outbox(args)
    if args.outbox_command == "status":
        counts = outbox.counts()
        if args.json:
            _print_json(counts)
        else:
            print(", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "empty")
    elif args.outbox_command in ("list", "dead"):
        rows = outbox.rows("dead" if args.outbox_command == "dead" else args.status, args.limit)
        if args.json:
            _print_json(rows)
        else:
            for r in rows:
                print(f"{r['id']}  {r['status']:10} attempts {r['attempts']:2}  {r['credential']} -> "
                      f"{r['destination']}  {r['receipt_id'] or r['last_error'] or ''}")
    elif args.outbox_command == "retry":
        if not outbox.retry(args.id):
            raise ConfigError(f"no dead or waiting row {args.id!r}", code="outbox.unknown_row")
        print(f"{args.id} queued again")
    return EXIT_OK


def cmd_batch(args: argparse.Namespace) -> int:
    from .batch import run_batch
    from .batch.job import BatchSettings
    from .batch.run import local_executor

    credentials = _credential_ids(args, default_all=True)
    out_dir = Path(args.out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"the output folder {args.out_dir} is a file, not a folder", code="output.unwritable")
    cores = os.cpu_count() or 1
    if args.workers > cores and not args.force_workers and not args.scheduler:
        print(f"warning: batch.workers_capped: --workers {args.workers} is more than this machine's {cores} "
              f"cores; using {cores} (add --force-workers to run {args.workers} anyway)", file=sys.stderr)
        args.workers = cores
    if args.sign:
        if not args.keys:
            raise ConfigError("--sign needs --keys DIR", code="config.invalid")
        from .sign import load_signer
        load_signer(args.keys)  # a wrong passphrase or empty store fails now, not in every worker
    settings = BatchSettings(out_dir=str(Path(args.out_dir).resolve()), credentials=tuple(credentials),
                             catalogue=args.catalogue, keys=str(Path(args.keys).resolve()) if args.sign else None,
                             station=args.station, deadline=args.deadline, debug=args.debug)
    client = None
    if args.scheduler:
        try:
            from distributed import Client
        except ImportError as exc:
            raise ConfigError("--scheduler needs the optional extra: pip install 'photocore[dask]'",
                              code="config.invalid") from exc
        try:
            client = Client(args.scheduler, timeout=30)
        except (OSError, TimeoutError) as exc:
            raise ConfigError(f"cannot reach the Dask scheduler {args.scheduler}: {exc}",
                              code="batch.scheduler_unreachable") from exc
        executor = client.get_executor()
        workers = max(1, len(client.scheduler_info().get("workers", {})))
    else:
        executor = local_executor(args.workers)
        workers = args.workers
    try:
        summary = run_batch(args.in_dir, args.out_dir, settings, executor, workers=workers, resume=args.resume,
                            show_progress=not args.quiet)
    finally:
        if client is not None:
            client.close()
        else:
            executor.shutdown(cancel_futures=True)
    if not args.quiet:
        print(f"{summary['captures']} captures ({summary['converted_now']} converted now, "
              f"{summary['captures_unreadable']} unreadable, {summary['captures_all_ok']} fully converted); "
              f"{summary['photos']} photos in {args.out_dir}; report: {Path(args.out_dir) / 'report.html'} "
              f"({summary['seconds']} s)")
    failed = summary["captures"] - summary["captures_all_ok"]
    return EXIT_FAIL if failed else EXIT_OK


def _parse_time(text: str):
    from datetime import datetime
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--captured-at {text!r} is not an ISO 8601 time (2026-11-28T09:30:00+08:00)",
                          code="config.invalid") from None


def _print_json(data) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))


def _summary(p, catalogue=None) -> dict:
    extra = {"catalogue": p.scope, "alias_of": p.alias_of}
    if catalogue is not None:
        extra["photo"] = catalogue.photo_of(p.id)
    return {"id": p.id, "agency": p.agency, "name_zh": p.name_zh, "name_en": p.name_en, **extra,
            "width_px": p.width[0], "height_px": p.height[0], "max_width_px": p.width[1],
            "max_height_px": p.height[1], "dpi": p.dpi, "formats": list(p.formats), "kb_min": p.kb_min,
            "kb_max": p.kb_max, "background": list(p.background), "max_age_days": p.max_age_days,
            "inherits": list(p.chain[1:]), "sources": list(p.sources)}


def cmd_specs(args: argparse.Namespace) -> int:
    from .catalogue import docs, validate

    if args.specs_command == "validate":
        catalogue, problems = validate(args.directory)
        if problems or catalogue is None:  # no catalogue only with problems
            print(f"{args.directory}: {len(problems)} problem(s)", file=sys.stderr)
            for problem in problems:
                print(f"  {problem}", file=sys.stderr)
            return EXIT_UNUSABLE
        print(f"{args.directory}: valid; catalogue {catalogue.version} ({catalogue.content_hash[:12]}) with "
              f"{len(catalogue.agencies)} agencies and {len(catalogue.credentials)} credentials "
              f"({len(catalogue.photos('china'))} distinct photos), and {len(catalogue.international)} international "
              f"credentials ({len(catalogue.photos('international'))} distinct photos)")
        return EXIT_OK
    scope = "china"
    if getattr(args, "list_catalogue", None):  # `specs list --catalogue china|international|all|DIR`
        if args.list_catalogue in ("china", "international", "all"):
            scope = args.list_catalogue
        else:
            args.catalogue = args.list_catalogue
    catalogue = load_catalogue(args.catalogue)
    if args.specs_command == "agencies":
        rows = [{"id": a.id, "name_zh": a.name_zh, "name_en": a.name_en,
                 "credentials": len(catalogue.of_agency(a.id))} for a in catalogue.agencies.values()]
        if args.json:
            _print_json(rows)
        else:
            for r in rows:
                print(f"{r['id']:16} {r['credentials']:3d}  {r['name_zh']} / {r['name_en']}")
        return EXIT_OK
    if args.specs_command == "list":
        if args.agency and args.agency not in catalogue.agencies:
            raise ConfigError(f"unknown agency {args.agency!r} (see `photocore specs agencies`)",
                              code="config.unknown_agency")
        if args.agency and scope != "china":
            raise ConfigError("--agency lists one of the 18 agencies: leave out --catalogue",
                              code="config.unknown_agency")
        if args.distinct:
            photos = [ph for ph in catalogue.photos(scope)
                      if not args.agency or any(c.startswith(args.agency + ".") for c in ph.credentials)]
            if args.json:
                _print_json({"catalogue": scope, "credentials": sum(len(ph.credentials) for ph in photos),
                             "distinct_photos": len(photos), "photos": [ph.to_dict() for ph in photos]})
            else:
                for ph in photos:
                    p = ph.profile
                    size = f"{p.width[0]}x{p.height[0]}" + ("" if p.fixed_size else f"..{p.width[1]}x{p.height[1]}")
                    print(f"{ph.id:44} {size:>17} {len(ph.credentials):4d}  {', '.join(ph.credentials)}")
                print(f"{sum(len(ph.credentials) for ph in photos)} credentials, {len(photos)} distinct photos")
            return EXIT_OK
        profiles = catalogue.of_agency(args.agency) if args.agency else catalogue.in_scope(scope)
        if args.json:
            _print_json([_summary(p, catalogue) for p in profiles])
        else:
            for p in profiles:
                size = f"{p.width[0]}x{p.height[0]}" + ("" if p.fixed_size else f"..{p.width[1]}x{p.height[1]}")
                print(f"{p.id:44} {size:>17}  {p.chain[1]:14} {p.name_zh} / {p.name_en}")
        return EXIT_OK
    if args.specs_command == "show":
        profile = catalogue.bases.get(args.id) or catalogue.get(args.id)
        if args.json:
            _print_json(profile.to_dict())
        else:
            print(f"{profile.id}: {profile.name_zh} / {profile.name_en}")
            print(f"- inherits: {' -> '.join(profile.chain[1:])}")
            print("\n".join(docs.profile_lines(profile)))
        return EXIT_OK
    if args.specs_command == "docs":
        text = docs.render(catalogue)
        if args.out == "-":
            sys.stdout.write(text)
        else:
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            Path(args.out).write_text(text, encoding="utf-8")
            print(f"wrote {args.out}")
        return EXIT_OK
    raise AssertionError(args.specs_command)


def _library_config(args: argparse.Namespace) -> LibraryConfig:
    from .library.config import LibraryConfig

    return LibraryConfig.from_env(args.data_dir, database=args.database, store=getattr(args, "store", None),
                                  trust=[Path(p) for p in getattr(args, "trust", None) or []],
                                  revoked=[Path(p) for p in getattr(args, "revoked", None) or []],
                                  secret=getattr(args, "secret", None), kek=getattr(args, "kek", None),
                                  clients=Path(args.clients) if getattr(args, "clients", None) else None,
                                  public_url=getattr(args, "public_url", None),
                                  oidc=_oidc_options(args), max_upload=getattr(args, "max_upload", None))


def _oidc_options(args: argparse.Namespace) -> dict | None:
    if not getattr(args, "oidc_issuer", None):
        return None
    return {"issuer": args.oidc_issuer, "client_id": args.oidc_client_id, "client_secret": args.oidc_client_secret,
            "id_claim": args.oidc_id_claim}


def cmd_serve(args: argparse.Namespace) -> int:
    from .library.server import serve

    if args.workers < 1 or args.workers > 64:
        raise ConfigError("--workers must be 1 to 64", code="config.invalid")
    if args.max_upload < 1024 * 1024:
        raise ConfigError("--max-upload must be at least 1 MiB (1048576 bytes)", code="config.invalid")
    config = _library_config(args)
    if not config.trust:
        print("warning: no --trust ROOT.pem given: publishing is refused until a root is trusted", file=sys.stderr)
    print(f"photocore library on http://{args.host}:{args.port} (data in {config.data_dir})", file=sys.stderr)
    serve(config, host=args.host, port=args.port, workers=args.workers)
    return EXIT_OK


def cmd_publish(args: argparse.Namespace) -> int:
    from .library.publish import PublishError, publish_folder

    keys = args.keys or os.environ.get("PHOTOCORE_KEYS")
    if not keys:
        raise ConfigError("publish signs its binding with the station key: give --keys DIR (or PHOTOCORE_KEYS)",
                          code="publish.unusable")
    try:
        answer = publish_folder(args.directory, args.person, args.to, keys, master=args.master)
    except PublishError as exc:
        if not exc.refused:
            raise
        if args.json:
            _print_json({"error": exc.to_dict()})
        print(f"refused: {exc.code}: {exc.message}", file=sys.stderr)
        return EXIT_FAIL
    if args.json:
        _print_json(answer)
    else:
        print(f"capture {answer['capture_id']} stored ({answer['photos']} photos); "
              f"pickup code for the receipt: {answer['pickup_code']}")
    return EXIT_OK


def cmd_audit(args: argparse.Namespace) -> int:
    from .library import audit
    from .library.crypto import ServiceKeys

    library_config = _library_config(args)
    from .library.config import ENV_SECRET
    from .library.db import database_url, open_database
    # verifying must not make a library or a secret of its own (that would report a sound log as altered)
    if not library_config.database and not (library_config.data_dir / "library.sqlite3").is_file():
        raise ConfigError(f"no library in {library_config.data_dir}: give --data-dir DIR or --database URL",
                          code="library.config")
    secret_file = library_config.data_dir / "library.secret"
    if not (library_config.secret or os.environ.get(ENV_SECRET) or secret_file.is_file()):
        raise ConfigError("the checkpoints are checked with the service's key: give the service's --secret "
                          "env:NAME|file:PATH", code="library.config")
    engine = open_database(database_url(library_config.database, library_config.data_dir))
    public = audit.public_key_text(ServiceKeys.derive(library_config.service_secret()).checkpoint)
    report = audit.verify(engine, public)
    if args.json:
        _print_json(report.to_dict())
    else:
        state = "intact" if report.intact else "ALTERED"
        print(f"audit log {state}: {report.rows} rows, {report.checkpoints} signed checkpoints")
        for problem in report.problems:
            print(f"  {problem}")
    return EXIT_OK if report.intact else EXIT_FAIL


def cmd_live(args: argparse.Namespace) -> int:
    """Replay a recorded camera stream through a live session (see photocore/live)."""
    import io

    from PIL import Image

    from .live import LiveSession, read_frames
    from .private_files import mkdir_private, write_private

    out = Path(args.out) if args.out else None
    taken, last = False, None
    with LiveSession(fps=args.fps) as session:
        for index, t, frame in read_frames(args.source, fps=args.fps):
            line: dict[str, Any]
            captured = None
            if frame is None:
                line = {"frame": index, "instructions": [], "captured": False,
                        "error": {"code": "decode.corrupt", "message": "this frame could not be decoded"}}
            else:
                result = session.feed(frame, t)
                line, captured = result.to_dict(), result.captured
            if args.json:
                print(json.dumps(line, ensure_ascii=False), flush=True)
            elif line["instructions"] and line["instructions"][0]["code"] != last:
                first = line["instructions"][0]
                last = first["code"]
                print(f"frame {index}: {first['code']}  {first['message_zh']} / {first['message_en']}")
            if captured is not None and not taken:
                taken = True
                if out is not None:
                    try:
                        mkdir_private(out)
                        buffer = io.BytesIO()
                        Image.fromarray(captured.frame).save(buffer, "JPEG", quality=95)  # no EXIF
                        write_private(out / "capture.jpg", buffer.getvalue())
                    except OSError as exc:
                        raise ConfigError(f"cannot write to {out}: {exc}", code="output.unwritable") from exc
                if not args.json:
                    print(f"frame {index}: captured frame {captured.index}"
                          + (f" -> {out / 'capture.jpg'}" if out is not None else ""))
        if not args.json:
            stats = session.stats
            print(f"{stats.frames} frames, detector ran on {stats.detection_runs}, "
                  f"{'a photo was taken' if taken else 'no photo was taken'}")
    return EXIT_OK if taken else EXIT_FAIL


def cmd_station(args: argparse.Namespace) -> int:
    """The capture station: the counter page, live guidance over a WebSocket, accept and receipt."""
    import logging

    import uvicorn

    from .station import StationConfig, create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    app = create_app(StationConfig.from_args(args))
    where = (f"the library at {args.library}" if args.library else
             f"{Path(args.out).resolve()}/ and the outbox for {args.systems}" if args.systems else
             f"{Path(args.out).resolve()}/")
    print(f"photocore station on http://{args.host}:{args.port} (accepted captures go to {where})", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", ws="websockets-sansio")
    return EXIT_OK


def cmd_library(args: argparse.Namespace) -> int:
    from .library.service import Library

    counts = Library(_library_config(args)).purge()
    if args.json:
        _print_json(counts)
    else:
        print(f"purged {counts['purged']} captures, {counts['expired_requests']} requests expired, "
              f"{counts['orphans']} orphaned uploads removed")
    return EXIT_OK


def _path(text: str) -> str:
    """argparse type of every path argument: an empty string is refused, never read as the
    current folder (argparse prints the message with exit 2, no traceback)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("config.empty_path: an empty path is not allowed (write . for the "
                                         "current folder)")
    if "\0" in text:
        raise argparse.ArgumentTypeError("config.invalid_path: a path cannot contain a NUL character")
    return text


def _count(minimum: int = 1, maximum: int | None = None):
    """argparse type of a count: a whole number in [minimum, maximum]."""
    def count(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"config.invalid_count: {text!r} is not a whole number") from None
        if value < minimum or (maximum is not None and value > maximum):
            bounds = f"at least {minimum}" if maximum is None else f"{minimum} to {maximum}"
            raise argparse.ArgumentTypeError(f"config.invalid_count: must be {bounds}, not {value}")
        return value
    return count


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"config.invalid_count: {text!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"config.invalid_count: must be more than 0, not {text}")
    return value


DEFAULT_DEADLINE = 60.0


def _deadline_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--deadline", type=_seconds, default=DEFAULT_DEADLINE, metavar="SECONDS",
                        help=f"most time one capture may take (default {DEFAULT_DEADLINE:g}); past it the "
                             "capture fails with capture.deadline")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="photocore", description="ID-photo checks for every credential.")
    parser.add_argument("--debug", action="store_true",  # main() also takes it after the subcommand
                        help="print the traceback of an error to stderr (also: PHOTOCORE_DEBUG=1)")
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="check captures and say what to fix")
    check.add_argument("images", nargs="+", metavar="IMAGE", type=_path)
    _credential_options(check, default_all=False)
    check.add_argument("--captured-at", metavar="ISO_TIME", help="when the capture was taken (else its EXIF)")
    check.add_argument("--json", action="store_true", help="machine-readable output (see README)")
    check.add_argument("--annotate", metavar="OUT.png", type=_path, help="write the image with what the checks saw")
    check.set_defaults(run=cmd_check)

    conv = sub.add_parser("convert", help="make each credential's photo from one capture")
    conv.add_argument("image", metavar="IMAGE", type=_path)
    conv.add_argument("--out", required=True, metavar="DIR", type=_path,
                      help="where the photos, report.json and index.html go")
    _credential_options(conv, default_all=True)
    conv.add_argument("--json", action="store_true", help="print report.json's rows")
    conv.add_argument("--background", metavar="COLOUR",
                      help="white, blue, red, grey or #RRGGBB, for every credential that allows it (default: "
                           "each credential's first colour)")
    conv.add_argument("--largest", action="store_true",
                      help="credentials that accept a range of sizes: the largest the capture allows (at the DPI that "
                           "keeps the printed size), not the standard's nominal size")
    _deadline_option(conv)
    conv.add_argument("--captured-at", metavar="ISO_TIME", help="when the capture was taken (else its EXIF)")
    conv.add_argument("--sign", action="store_true", help="sign every photo (writes <photo>.jws)")
    conv.add_argument("--keys", metavar="DIR", type=_path, help="the key store (photocore keys init)")
    conv.add_argument("--station", help="capture station id for the manifest (or $PHOTOCORE_STATION)")
    conv.add_argument("--operator", help="operator id for the manifest (or $PHOTOCORE_OPERATOR)")
    conv.add_argument("--device", help="capture device for the manifest (or $PHOTOCORE_DEVICE)")
    conv.add_argument("--c2pa", action=argparse.BooleanOptionalAction, default=None,
                      help="embed a C2PA manifest in every JPEG (default: as each credential's profile says)")
    conv.add_argument("--sm2", action="store_true", help="also write an SM2-SM3 signature (<photo>.sm2.json)")
    conv.set_defaults(run=cmd_convert)

    sheet_p = sub.add_parser("sheet", help="lay a credential's photo out on a print (6inch, 5inch, A4) at true size")
    sheet_p.add_argument("photo", metavar="PHOTO", type=_path, help="a photo photocore convert made")
    sheet_p.add_argument("--out", required=True, metavar="FILE.jpg|FILE.pdf", type=_path)
    sheet_p.add_argument("--paper", default="6inch", metavar="6inch|5inch|a4",
                         help="6inch (4x6 in, the default), 5inch (3.5x5 in) or a4")
    sheet_p.add_argument("--credential", metavar="ID", help="the photo's credential: its printed size and name "
                                                            "(default: the size from the photo's DPI)")
    sheet_p.add_argument("--copies", type=_count(1), metavar="N", help="this many (default: as many as fit)")
    sheet_p.add_argument("--catalogue", metavar="DIR", type=_path,
                         help="overlay this catalogue folder (or $PHOTOCORE_CATALOGUE)")
    sheet_p.add_argument("--json", action="store_true")
    sheet_p.set_defaults(run=cmd_sheet)

    keys = sub.add_parser("keys", help="the signing key store: root and station certificates")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    k_init = keys_sub.add_parser("init", help="create the issuing root and a first station key")
    k_init.add_argument("directory", metavar="DIR", type=_path)
    k_init.add_argument("--alg", choices=["EdDSA", "ES256"], default="EdDSA", help="EdDSA is Ed25519")
    k_init.add_argument("--sm2", action="store_true", help="also create an SM2 key for national-crypto signatures")
    k_add = keys_sub.add_parser("add", help="issue another station key (rotation)")
    k_add.add_argument("directory", metavar="DIR", type=_path)
    for sub_parser in (k_init, k_add):
        sub_parser.add_argument("--station", default="station-1", help="station id in the certificate")
        sub_parser.add_argument("--usage-days", type=_count(1, 3653), default=90, help="how long the key may sign")
    k_revoke = keys_sub.add_parser("revoke", help="revoke a station key")
    k_revoke.add_argument("directory", metavar="DIR", type=_path)
    k_revoke.add_argument("kid", metavar="KID")
    k_list = keys_sub.add_parser("list", help="station keys, their periods and revocation")
    k_list.add_argument("directory", metavar="DIR", type=_path)
    k_list.add_argument("--json", action="store_true")
    keys.set_defaults(run=cmd_keys)

    ver = sub.add_parser("verify", help="verify a signed photo against the issuing root")
    ver.add_argument("photo", metavar="PHOTO", type=_path)
    ver.add_argument("--signature", metavar="PHOTO.jws", type=_path, help="default: PHOTO.jws")
    ver.add_argument("--trust", required=True, metavar="ROOT.pem", type=_path, help="the issuing root certificate")
    ver.add_argument("--revoked", metavar="FILE", type=_path, help="revoked.json from the issuer")
    ver.add_argument("--sm2-public", metavar="FILE", type=_path,
                     help="also check PHOTO.sm2.json with this SM2 public key")
    ver.add_argument("--json", action="store_true")
    ver.set_defaults(run=cmd_verify)

    def outbox_options(p):
        p.add_argument("--data-dir", type=_path,
                       help="where the SQLite outbox lives (or $PHOTOCORE_HOME, default ~/.photocore)")
        p.add_argument("--database", help="postgresql://... to share the outbox (or $PHOTOCORE_DATABASE_URL)")
        p.add_argument("--outbox-key-file", type=_path, help="file with the outbox key (else $PHOTOCORE_OUTBOX_KEY)")

    push_p = sub.add_parser("push", help="queue signed photos for an agency system")
    push_p.add_argument("paths", nargs="+", metavar="DIR|PHOTO", type=_path)
    push_p.add_argument("--to", metavar="SYSTEM", help="a system of --systems FILE")
    push_p.add_argument("--systems", metavar="FILE", type=_path, help="the agency systems file (TOML)")
    push_p.add_argument("--endpoint", metavar="URL", help="quick test: plain JSON POST to URL")
    push_p.add_argument("--reference", metavar="REF", help="the agency's application reference for the one photo "
                                                           "pushed (adapters name files by it)")
    outbox_options(push_p)
    push_p.set_defaults(run=cmd_push)

    adapters_p = sub.add_parser("adapters", help="adapters installed (entry points), and their contract check")
    adapters_sub = adapters_p.add_subparsers(dest="adapters_command")
    a_list = adapters_sub.add_parser("list", help="every adapter installed (the default)")
    a_list.add_argument("--json", action="store_true")
    a_check = adapters_sub.add_parser("check", help="run the adapter contract kit against one adapter")
    a_check.add_argument("name", metavar="NAME")
    a_check.add_argument("--settings", metavar="FILE.toml", type=_path, help="the adapter's settings table")
    a_check.add_argument("--json", action="store_true")
    adapters_p.set_defaults(run=cmd_adapters, json=False)

    deliver_p = sub.add_parser("deliver", help="drain the outbox (SIGTERM finishes the current attempt)")
    deliver_p.add_argument("--once", action="store_true", help="exit when nothing is due")
    deliver_p.add_argument("--workers", type=_count(1, 256), default=1)
    deliver_p.add_argument("--max-attempts", type=_count(1), default=12)
    deliver_p.add_argument("--lease", type=_seconds, default=60.0, help="seconds a claimed row stays reserved")
    outbox_options(deliver_p)
    deliver_p.set_defaults(run=cmd_deliver)

    outbox_p = sub.add_parser("outbox", help="operators: status, list, retry, dead letters")
    outbox_sub = outbox_p.add_subparsers(dest="outbox_command", required=True)
    for name in ("status", "list", "dead", "retry", "keygen"):
        p = outbox_sub.add_parser(name)
        if name != "keygen":
            outbox_options(p)
            p.add_argument("--json", action="store_true")
        if name in ("list", "dead"):
            p.add_argument("--status", choices=["pending", "delivering", "delivered", "dead"])
            p.add_argument("--limit", type=_count(1), default=100)
        if name == "retry":
            p.add_argument("id", metavar="ID")
    outbox_p.set_defaults(run=cmd_outbox)

    batch = sub.add_parser("batch", help="convert a folder of captures (archives), resumable")
    batch.add_argument("in_dir", metavar="IN_DIR", type=_path)
    batch.add_argument("out_dir", metavar="OUT_DIR", type=_path)
    _credential_options(batch, default_all=True)
    batch.add_argument("--workers", type=_count(1), default=max(1, (os.cpu_count() or 2)),
                       help="local processes (default and most: the machine's cores)")
    batch.add_argument("--force-workers", action="store_true", help="allow --workers above the number of cores")
    batch.add_argument("--sign", action="store_true")
    batch.add_argument("--keys", metavar="DIR", type=_path)
    batch.add_argument("--station", help="capture station id for signed manifests")
    batch.add_argument("--resume", action="store_true", help="skip captures the journal says are done")
    _deadline_option(batch)
    batch.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="run on a Dask cluster instead")
    batch.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    batch.set_defaults(run=cmd_batch)

    specs = sub.add_parser("specs", help="the credential catalogue: list, show, validate, document")
    specs.add_argument("--catalogue", metavar="DIR", type=_path,
                       help="overlay this catalogue folder (or $PHOTOCORE_CATALOGUE)")
    specs_sub = specs.add_subparsers(dest="specs_command", required=True)
    agencies = specs_sub.add_parser("agencies", help="the agencies and how many credentials each has")
    agencies.add_argument("--json", action="store_true")
    listing = specs_sub.add_parser("list", help="credentials, optionally of one agency")
    listing.add_argument("--agency", metavar="ID")
    listing.add_argument("--catalogue", dest="list_catalogue", metavar="china|international|all|DIR",
                         help="which catalogue to list: the 18 agencies' (china, the default), the world's passport "
                              "and visa photos (international) or both; any other value is an overlay folder")
    listing.add_argument("--distinct", action="store_true",
                         help="the distinct photos behind the credentials, each with the credentials that use it")
    listing.add_argument("--json", action="store_true")
    show = specs_sub.add_parser("show", help="one credential's resolved profile with its sources")
    show.add_argument("id", metavar="ID")
    show.add_argument("--json", action="store_true")
    validate = specs_sub.add_parser("validate", help="check a custom catalogue folder (laid over the built-in one)")
    validate.add_argument("directory", metavar="DIR", type=_path)
    docs = specs_sub.add_parser("docs", help="write the reference page")
    docs.add_argument("--out", default="docs/catalogue.md", type=_path, help="path, or - for standard output")
    specs.set_defaults(run=cmd_specs)
    def library_options(p, secrets: bool = True):
        p.add_argument("--data-dir", metavar="DIR", type=_path,
                       help="where the library keeps its data (default $PHOTOCORE_HOME or ~/.photocore)")
        p.add_argument("--database", metavar="URL", help="postgresql://... shared by several processes "
                       "(default $PHOTOCORE_DATABASE_URL, else SQLite in the data dir)")
        if secrets:
            p.add_argument("--secret", metavar="env:NAME|file:PATH", help="the service secret (default "
                           "$PHOTOCORE_LIBRARY_SECRET, else a key file in the data dir)")

    serve_p = sub.add_parser("serve", help="the shared photo library service (API and citizen pages)")
    serve_p.add_argument("--host", default="127.0.0.1")
    serve_p.add_argument("--port", type=int, default=8400)
    library_options(serve_p)
    serve_p.add_argument("--store", metavar="URL", help="s3://BUCKET/PREFIX?endpoint=URL or file:///PATH "
                                                        "(default: encrypted files in the data dir)")
    serve_p.add_argument("--trust", metavar="ROOT.pem", type=_path, action="append",
                         help="an issuing root whose stations may publish (repeatable)")
    serve_p.add_argument("--revoked", metavar="revoked.json", type=_path, action="append",
                         help="a revocation list, re-read at each publish (repeatable)")
    serve_p.add_argument("--kek", metavar="env:NAME|file:PATH", help="the key-encryption key (default: derived "
                                                                     "from the secret)")
    serve_p.add_argument("--clients", metavar="FILE", type=_path, help="agency clients: their keys and agencies (TOML)")
    serve_p.add_argument("--public-url", metavar="URL", help="how agencies and citizens reach this service")
    serve_p.add_argument("--oidc-issuer", metavar="URL", help="OpenID Connect issuer for citizen login")
    serve_p.add_argument("--oidc-client-id", metavar="ID")
    serve_p.add_argument("--oidc-client-secret", metavar="env:NAME|file:PATH")
    serve_p.add_argument("--oidc-id-claim", default="id_number", metavar="CLAIM",
                         help="the ID token claim holding the citizen's ID number")
    serve_p.add_argument("--workers", type=int, default=1, help="service processes (each stateless)")
    serve_p.add_argument("--max-upload", type=int, default=64 * 1024 * 1024, metavar="BYTES",
                         help="the largest publish accepted (default 64 MiB)")
    serve_p.set_defaults(run=cmd_serve)

    pub = sub.add_parser("publish", help="hand a signed conversion to the shared photo library")
    pub.add_argument("directory", metavar="DIR", type=_path, help="what `convert --sign` wrote")
    pub.add_argument("--person", required=True, metavar="ID_NUMBER", help="the citizen's ID number")
    pub.add_argument("--to", required=True, metavar="URL", help="the library, e.g. http://127.0.0.1:8400")
    pub.add_argument("--keys", metavar="DIR", type=_path, help="the station's key store (default $PHOTOCORE_KEYS)")
    pub.add_argument("--master", metavar="IMAGE", type=_path, help="also store the master capture (encrypted)")
    pub.add_argument("--json", action="store_true")
    pub.set_defaults(run=cmd_publish)

    audit_p = sub.add_parser("audit", help="the library's hash-chained access log")
    audit_sub = audit_p.add_subparsers(dest="audit_command", required=True)
    a_verify = audit_sub.add_parser("verify", help="find any row changed, inserted or removed")
    library_options(a_verify)
    a_verify.add_argument("--json", action="store_true")
    a_verify.set_defaults(run=cmd_audit)

    live_p = sub.add_parser("live", help="live guidance and automatic capture over a video or a folder of frames")
    live_p.add_argument("source", metavar="VIDEO_OR_FOLDER_OF_FRAMES", type=_path)
    live_p.add_argument("--json", action="store_true", help="one JSON object per line and frame")
    live_p.add_argument("--out", metavar="DIR", type=_path, help="write the captured frame as DIR/capture.jpg")
    live_p.add_argument("--fps", type=float, default=30.0,
                        help="frame rate of a folder of frames (a video has its own)")
    live_p.set_defaults(run=cmd_live)

    station_p = sub.add_parser("station", help="the capture station: the counter's web app (camera, guidance, receipt)")
    station_p.add_argument("--host", default="127.0.0.1")
    station_p.add_argument("--port", type=int, default=8401)
    station_p.add_argument("--keys", metavar="DIR", type=_path,
                           help="the station's key store (default $PHOTOCORE_KEYS)")
    station_p.add_argument("--library", metavar="URL", help="the shared photo library to publish to, "
                                                            "e.g. http://127.0.0.1:8400")
    station_p.add_argument("--station", metavar="ID", help="this station's id (default $PHOTOCORE_STATION)")
    station_p.add_argument("--operator", metavar="ID", help="the clerk's id (default $PHOTOCORE_OPERATOR)")
    station_p.add_argument("--out", metavar="DIR", default="station-out", type=_path,
                           help="where accepted captures are written when no library is configured")
    station_p.add_argument("--systems", metavar="FILE", type=_path, help="agency systems file: without --library, "
                           "accepted photos are queued in the outbox (photocore deliver)")
    station_p.add_argument("--booth", action="store_true", help="self-service: the citizen takes up to --shots "
                                                                "photos and picks one")
    station_p.add_argument("--shots", type=_count(1, 9), default=3, help="shots a citizen may take in --booth mode")
    station_p.add_argument("--deadline", type=_seconds, default=30.0, metavar="SECONDS",
                           help="most time converting one accepted capture may take (default 30)")
    outbox_options(station_p)
    station_p.set_defaults(run=cmd_station)

    lib_p = sub.add_parser("library", help="operators: the shared photo library's upkeep")
    lib_sub = lib_p.add_subparsers(dest="library_command", required=True)
    purge_p = lib_sub.add_parser("purge", help="remove captures past every reuse window or deleted by their owner")
    library_options(purge_p)
    purge_p.add_argument("--store", metavar="URL")
    purge_p.add_argument("--kek", metavar="env:NAME|file:PATH")
    purge_p.add_argument("--json", action="store_true")
    purge_p.set_defaults(run=cmd_library)

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


def _debug_from_env() -> bool:
    return os.environ.get("PHOTOCORE_DEBUG", "").strip().lower() not in ("", "0", "false", "no", "off")


def _take_debug(argv: list[str]) -> tuple[list[str], bool]:
    """``argv`` without ``--debug``, wherever it stands before a ``--`` (before or after the
    subcommand), and whether it was there."""
    end = argv.index("--") if "--" in argv else len(argv)
    options = argv[:end]
    return [a for a in options if a != "--debug"] + argv[end:], "--debug" in options


def main(argv: list[str] | None = None) -> int:
    argv, asked = _take_debug(list(sys.argv[1:] if argv is None else argv))
    args = build_parser().parse_args(argv)
    # the one answer to "--debug?": commands that report per image read it too
    args.debug = debug = asked or _debug_from_env()
    try:
        with _quiet_native_logs():
            return args.run(args)
    except PhotocoreError as exc:
        if debug:
            traceback.print_exc(file=sys.stderr)
        print(f"{exc.code}: {exc.message}", file=sys.stderr)
        return EXIT_UNUSABLE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # output piped into `head` and the like
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:  # noqa: BLE001 - a bug, not bad input: say so (the traceback with --debug)
        if debug:
            traceback.print_exc(file=sys.stderr)
        print(f"internal.error: {type(exc).__name__}: {exc} (please report this to the photocore team)",
              file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
