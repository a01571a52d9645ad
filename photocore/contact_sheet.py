"""What `photocore convert` (and the station, with no library) writes: the photos with their
signatures, report.json rows and index.html, in one owner-only folder.

The contact sheet is one self-contained HTML file (inline CSS, photos by relative path) that
opens offline: every credential's photo with its name and rules, or the reasons it was not
made, so a clerk or an integrator can see the whole result at a glance.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from .catalogue.docs import profile_lines
from .errors import ConfigError
from .judge import messages
from .private_files import mkdir_private, write_private


def write_conversion(conversion, out: Path, catalogue, title: str) -> list[dict]:
    """Write each made photo (and its ``.jws`` and ``.sm2.json`` when signed), ``report.json`` and
    the contact sheet into ``out``; every file owner-only. Returns the report rows."""
    try:
        mkdir_private(out)
        rows = []
        for outcome in conversion.outcomes:
            name, signed, sm2_name = None, conversion.signed.get(outcome.credential), None
            if outcome.ok:
                name = f"{outcome.credential}.{outcome.rendition.extension}"
                write_private(out / name, signed.data if signed else outcome.rendition.data)
                if signed:
                    write_private(out / f"{name}.jws", signed.jws.encode("ascii"))
                    if signed.sm2:
                        sm2_name = f"{name}.sm2.json"
                        write_private(out / sm2_name, signed.sm2)
            rows.append({**report_row(outcome, name, signed, sm2_name), "turned_degrees": conversion.turned_degrees})
        write_private(out / "report.json", json.dumps(rows, ensure_ascii=False, indent=2).encode("utf-8"))
        profiles = {o.credential: catalogue.get(o.credential) for o in conversion.outcomes}
        write_private(out / "index.html", render_sheet(conversion.outcomes, profiles, rows, title).encode("utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot write to {out}: {exc}", code="output.unwritable") from exc
    return rows


def report_row(outcome, file: str | None, signed=None, sm2_file: str | None = None) -> dict:
    r = outcome.rendition
    row = {
        "credential": outcome.credential,
        "status": "ok" if outcome.ok else "failed",
        "file": file,
        "width": r.width if r else None,
        "height": r.height if r else None,
        "dpi": r.dpi if r else None,
        "width_mm": round(r.width / r.dpi * 25.4, 1) if r and r.dpi else None,
        "height_mm": round(r.height / r.dpi * 25.4, 1) if r and r.dpi else None,
        "bytes": r.bytes if r and r.data else None,
        "quality": r.quality if r else None,
        "reached_target": bool(r and r.reached_target),
        "render_key": r.render_key if r else None,
        "background": r.background if r else None,
        "failures": [f.to_dict() for f in outcome.failures],
        "not_assessed": outcome.not_assessed,
    }
    if signed is not None:
        row.update(bytes=len(signed.data), signature=f"{file}.jws", c2pa=signed.c2pa,
                   photo_id=signed.manifest["photo_id"], sm2_signature=sm2_file)
    return row


_STYLE = """
body{font-family:system-ui,"Noto Sans CJK SC","PingFang SC",sans-serif;margin:24px;background:#f4f4f4;color:#222}
h1{font-size:20px}.summary{margin-bottom:16px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(230px,1fr));gap:14px}
.card{background:#fff;border-radius:6px;padding:10px;box-shadow:0 1px 3px rgba(0,0,0,.15);font-size:12px}
.card.failed{border:2px solid #c62828}
.card img{display:block;margin:0 auto 8px;max-width:100%;max-height:260px;border:1px solid #ccc;background:#fff}
.id{font-family:monospace;font-size:11px;color:#555}.name{font-weight:600;margin:2px 0}
.fail{color:#c62828;margin:4px 0}
.swatch{display:inline-block;width:12px;height:12px;border:1px solid #999;vertical-align:middle}
.eye{color:#7a4f00;background:#fff6e0;margin:4px 0 12px;padding:4px 8px;border-radius:4px}.eye ul{margin:4px 0}
details{margin-top:6px;color:#444}details ul{padding-left:16px;margin:4px 0}
"""


def render_sheet(outcomes, profiles: dict, rows: list[dict], title: str) -> str:
    ok = sum(1 for r in rows if r["status"] == "ok")
    keys = {r["render_key"] for r in rows if r["render_key"] and r["status"] == "ok"}
    cards = []
    for outcome, row in zip(outcomes, rows, strict=True):
        p = profiles[outcome.credential]
        parts = [f'<div class="card {"ok" if row["status"] == "ok" else "failed"}">']
        if row["file"]:
            parts.append(f'<img src="{html.escape(row["file"])}" alt="{html.escape(p.name_en)}" loading="lazy">')
        parts.append(f'<div class="id">{html.escape(p.id)}</div>')
        parts.append(f'<div class="name">{html.escape(p.name_zh)} / {html.escape(p.name_en)}</div>')
        if row["file"]:
            printed = f', {row["width_mm"]:g}x{row["height_mm"]:g} mm' if row["width_mm"] else ""
            if row["background"]:
                parts.append(f'<div>背景 / background <span class="swatch" style="background:{row["background"]}">'
                             f'</span> {html.escape(row["background"])}</div>')
            parts.append(f'<div>{row["width"]}x{row["height"]} px, {row["dpi"] or "-"} dpi{printed}, '
                         f'{row["bytes"] / 1024:.1f} KB, quality {row["quality"] or "-"}</div>')
        for failure in row["failures"]:
            parts.append(f'<div class="fail">{html.escape(failure["code"])}: {html.escape(failure["message_zh"])}'
                         f' / {html.escape(failure["message_en"])}</div>')
        if row["not_assessed"]:
            titles = " · ".join(f'<span title="{html.escape(n["code"])}">{html.escape(_title(n["code"]))}</span>'
                                for n in row["not_assessed"])
            parts.append(f'<div class="eye">请人工核对 / Check by eye: {titles}</div>')
        rules = "".join(f"<li>{html.escape(line[2:])}</li>" for line in profile_lines(p))
        parts.append(f"<details><summary>rules and sources</summary><ul>{rules}</ul></details></div>")
        cards.append("".join(parts))
    return (f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
            f'<div class="summary">{ok} of {len(rows)} credentials produced from {len(keys)} distinct renders.</div>'
            f'{_by_eye_summary(rows)}<div class="grid">{"".join(cards)}</div></body></html>\n')


def _title(code: str) -> str:
    text = messages().get(code, {})
    return f'{text.get("title_zh", code)} / {text.get("title_en", code)}'


def _by_eye_summary(rows: list[dict]) -> str:
    """Each requirement left to the clerk's eye, once, with its full message and how many
    credentials care about it."""
    seen: dict[str, list] = {}
    for row in rows:
        for item in row["not_assessed"]:
            seen.setdefault(item["code"], [item, 0])[1] += 1
    if not seen:
        return ""
    items = "".join(f'<li><b>{html.escape(_title(code))}</b> ({count} credentials, '
                    f'<span class="id">{html.escape(code)}</span>): {html.escape(item["message_zh"])} / '
                    f'{html.escape(item["message_en"])}</li>' for code, (item, count) in sorted(seen.items()))
    return f'<div class="eye" id="check-by-eye"><b>请人工核对 / Check by eye</b><ul>{items}</ul></div>'

