"""How well the checks find what people labelled, over ../shared/faces/MANIFEST.csv.

For each tag, the share of tagged images where the matching requirement fails (detection);
for compliant_pose images, the share where each face requirement fails wrongly (false
rejects), London neutral faces separately; and the iris-centre error against the manual
pupil points of london/neutral/*.tem, as a share of the manual inter-eye distance.

    .venv/bin/python benchmarks/accuracy.py [--faces ../shared/faces] [--csv out.csv]
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

import photocore
from photocore.judge import load_profile

# tag -> requirement codes, any of which failing counts as detecting the tag
TAG_REQUIREMENTS = {
    "smile": ["expression.neutral", "mouth.closed"],
    "expression": ["expression.neutral", "mouth.closed"],
    "mouth_open": ["mouth.closed"],
    "eyes_closed": ["eyes.open"],
    "one_eye_closed": ["eyes.open"],
    "sunglasses": ["eyes.visible", "glasses.tinted"],
    "multiple_faces": ["face.count"],
    "yaw": ["pose.yaw"],
    "pitch": ["pose.pitch"],
    "roll": ["pose.roll"],
    "glasses_clear": ["glasses.present"],
    "head_covering": ["head.covering"],
    "hair_over_eyes": ["eyes.visible", "face.occlusion"],
    "hand_on_face": ["face.occlusion"],
    "shadow_face": ["lighting.uniform"],
    "underexposed": ["image.exposure"],
    "greyscale": ["image.colour"],
    "low_resolution": ["face.size"],
    "face_small": ["face.size"],
    "tight_crop": ["frame.margins"],
    "face_too_close": ["frame.margins"],
    "busy_background": ["background.uniform"],
    "shadow_background": ["background.shadow"],
    "coloured_background": ["background.colour"],
    "dark_background": ["background.colour"],
    "grey_background": ["background.colour"],
}
TARGET_TAGS = ["smile", "mouth_open", "eyes_closed", "sunglasses", "multiple_faces", "yaw", "roll"]
FACE_REQUIREMENTS = ["face.count", "face.size", "pose.yaw", "pose.pitch", "pose.roll", "eyes.open",
                     "eyes.visible", "mouth.closed", "expression.neutral", "glasses.tinted", "glasses.glare",
                     "head.covering", "face.occlusion", "image.sharpness", "image.exposure", "lighting.uniform"]


def statuses(report) -> dict[str, str]:
    """Requirement -> status; glasses.present counts as failing when glasses are seen."""
    out = {v.code: v.status for v in report.results[0].verdicts}
    rule = next(r for r in load_profile("capture").rules if r.code == "glasses.present")
    m = report.measurements[rule.measure]
    out["glasses.present"] = "fail" if m.assessed and m.value > rule.limit else (
        "pass" if m.assessed else "not_assessed")
    return out


def pupil_error(report, tem: Path) -> float | None:
    lines = tem.read_text().split("\n")
    manual = np.array([[float(v) for v in lines[i].split()] for i in (1, 2)])
    a = report.analysis
    if not a.has_face:
        return None
    found = np.array([a.right_iris, a.left_iris]) * a.scale
    # match each manual pupil to the nearer found iris
    if np.linalg.norm(found[0] - manual[0]) > np.linalg.norm(found[1] - manual[0]):
        found = found[::-1]
    ied = np.linalg.norm(manual[0] - manual[1])
    return float(np.mean(np.linalg.norm(found - manual, axis=1)) / ied)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--faces", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "faces"))
    parser.add_argument("--csv", help="write every image's statuses and measures here")
    args = parser.parse_args(argv)
    faces = Path(args.faces)
    rows = list(csv.DictReader(open(faces / "MANIFEST.csv", encoding="utf-8")))
    detected = defaultdict(lambda: [0, 0])
    false_rejects = {"compliant_pose": defaultdict(lambda: [0, 0]), "london/neutral": defaultdict(lambda: [0, 0])}
    errors, dumped, typed_errors = [], [], 0
    for row in rows:
        try:
            report = photocore.check(faces / row["file"])
        except photocore.PhotocoreError as exc:
            typed_errors += 1
            print(f"{row['file']}: {exc}", file=sys.stderr)
            continue
        st = statuses(report)
        tags = [t for t in row["tags"].split(";") if t]
        for tag in tags:
            if tag in TAG_REQUIREMENTS:
                detected[tag][1] += 1
                detected[tag][0] += any(st.get(code) == "fail" for code in TAG_REQUIREMENTS[tag])
        if "compliant_pose" in tags:
            groups = ["compliant_pose"] + (["london/neutral"] if row["file"].startswith("london/neutral") else [])
            for group in groups:
                for code in FACE_REQUIREMENTS:
                    false_rejects[group][code][1] += 1
                    false_rejects[group][code][0] += st[code] == "fail"
        if row["file"].startswith("london/neutral"):
            err = pupil_error(report, (faces / row["file"]).with_suffix(".tem"))
            if err is not None:
                errors.append(err)
        dumped.append({"file": row["file"], "tags": row["tags"], **{c: s for c, s in st.items()},
                       **{f"m.{k}": m.value for k, m in report.measurements.items()}})
    print("\nDetection: share of tagged images where the matching requirement fails")
    print(f"{'tag':22} {'images':>6} {'detected':>8} {'rate':>6}  requirements")
    for tag in sorted(detected, key=lambda t: (t not in TARGET_TAGS, t)):
        hit, n = detected[tag]
        mark = " (target >= 95%)" if tag in TARGET_TAGS else ""
        print(f"{tag:22} {n:6d} {hit:8d} {hit / n:6.0%}  {', '.join(TAG_REQUIREMENTS[tag])}{mark}")
    for group, table in false_rejects.items():
        print(f"\nFalse rejects on {group} images (target on london/neutral: <= 2% each)")
        for code in FACE_REQUIREMENTS:
            bad, n = table[code]
            if n:
                print(f"  {code:22} {bad:3d}/{n:<3d} {bad / n:6.1%}")
    if errors:
        print(f"\nIris centre vs manual pupils (london/neutral, {len(errors)} faces): mean error "
              f"{statistics.mean(errors):.2%} of inter-eye distance, median {statistics.median(errors):.2%}, "
              f"max {max(errors):.2%} (target mean <= 3%)")
    print(f"\nImages with a typed error instead of a result: {typed_errors}")
    if args.csv:
        keys = sorted({k for d in dumped for k in d}, key=lambda k: (k not in ("file", "tags"), k))
        with open(args.csv, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=keys)
            writer.writeheader()
            writer.writerows(dumped)
    return 0


if __name__ == "__main__":
    sys.exit(main())
