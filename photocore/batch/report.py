"""The batch reports: report.csv and report.json (one row per capture and credential) and
report.html for people: counts per credential, per failure reason and per requirement to check
by eye (not assessed), and a grid of the failed captures with their annotated thumbnails and
the reasons in Chinese and English. The HTML is
one self-contained file (thumbnails inline) that opens offline.
"""

from __future__ import annotations

import csv
import html
import json
from collections import Counter
from pathlib import Path

from ..private_files import open_private, write_private
from .job import MEASURES

COLUMNS = ["capture", "credential", "status", "codes", "not_assessed", "file", *MEASURES]


def write_reports(out_dir, records: list[dict]) -> dict:
    out = Path(out_dir)
    rows = [row for record in records for row in record["rows"]]
    with open_private(out / "report.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "codes": ";".join(row["codes"]),
                             "not_assessed": ";".join(row.get("not_assessed", []))})
    write_private(out / "report.json", json.dumps(rows, ensure_ascii=False, indent=1).encode("utf-8"))
    summary = {
        "captures": len(records),
        "captures_unreadable": sum(r["status"] == "error" for r in records),
        "captures_all_ok": sum(r["status"] == "done" and all(x["status"] == "ok" for x in r["rows"]) for r in records),
        "photos": sum(row["status"] == "ok" for row in rows),
        "rows": len(rows),
    }
    write_private(out / "report.html", _html(records, rows, summary).encode("utf-8"))
    return summary


def _html(records, rows, summary) -> str:
    per_credential: dict[str, Counter[str]] = {}
    for row in rows:
        counts = per_credential.setdefault(row["credential"], Counter())
        counts[row["status"]] += 1
    reasons = Counter(code for row in rows for code in row["codes"])
    by_eye = Counter(code for record in records for code in {c for row in record["rows"]
                                                               for c in row.get("not_assessed", [])})
    messages, check_messages = {}, {}
    for record in records:
        messages.update(record.get("messages", {}))
        check_messages.update(record.get("check_messages", {}))
        if record["error"]:
            messages.setdefault(record["error"]["code"], [record["error"]["message"]] * 2)
    esc = html.escape
    parts = ["<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'><title>photocore batch report</title>",
             "<style>body{font-family:system-ui,'Noto Sans CJK SC',sans-serif;margin:24px;color:#222}"
             "table{border-collapse:collapse;margin-bottom:24px}td,th{border:1px solid #ccc;padding:3px 8px;"
             "font-size:13px}th{background:#eee}.grid{display:grid;grid-template-columns:repeat(auto-fill,"
             "minmax(260px,1fr));gap:12px}.card{border:1px solid #c62828;border-radius:6px;padding:8px;"
             "font-size:12px}.card img{max-width:100%;display:block;margin-bottom:6px}.code{font-family:monospace}"
             "</style></head><body><h1>photocore batch report</h1>",
             f"<p id='summary'>{summary['captures']} captures ({summary['captures_unreadable']} unreadable, "
             f"{summary['captures_all_ok']} fully converted); {summary['photos']} photos written from "
             f"{summary['rows']} capture-credential pairs.</p>",
             "<h2>Per credential</h2><table id='per-credential'><tr><th>credential</th><th>ok</th><th>failed</th>"
             "<th>error</th></tr>"]
    for credential, counts in sorted(per_credential.items()):
        parts.append(f"<tr><td class='code'>{esc(credential)}</td><td>{counts['ok']}</td>"
                     f"<td>{counts['failed']}</td><td>{counts['error']}</td></tr>")
    parts.append("</table><h2>Per failure reason</h2><table id='per-reason'><tr><th>code</th><th>count</th>"
                 "<th>说明</th><th>meaning</th></tr>")
    for code, n in reasons.most_common():
        zh, en = messages.get(code, ["", ""])
        parts.append(f"<tr><td class='code'>{esc(code)}</td><td>{n}</td><td>{esc(zh)}</td><td>{esc(en)}</td></tr>")
    parts.append("</table><h2>请人工核对 / Check by eye (not assessed automatically)</h2><table id='check-by-eye'>"
                 "<tr><th>code</th><th>captures</th><th>说明</th><th>meaning</th></tr>")
    for code, n in sorted(by_eye.items()):
        zh, en = check_messages.get(code, ["", ""])
        parts.append(f"<tr><td class='code'>{esc(code)}</td><td>{n}</td><td>{esc(zh)}</td><td>{esc(en)}</td></tr>")
    parts.append("</table><h2>Failed captures</h2><div class='grid' id='failed'>")
    for record in records:
        failed = sorted({c for row in record["rows"] if row["status"] != "ok" for c in row["codes"]})
        if not failed:
            continue
        parts.append(f"<div class='card'><div class='code'>{esc(record['capture'])}</div>")
        if record.get("thumbnail"):
            parts.append(f"<img alt='{esc(record['capture'])}' src='data:image/jpeg;base64,{record['thumbnail']}'>")
        for code in failed:
            zh, en = messages.get(code, ["", ""])
            parts.append(f"<div><span class='code'>{esc(code)}</span>: {esc(zh)} / {esc(en)}</div>")
        parts.append("</div>")
    parts.append("</div></body></html>\n")
    return "".join(parts)
