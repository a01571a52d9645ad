"""Refit the smile model (photocore/measures/smile_model.json) on the London set, validated per person.

The London set photographs each of 51 people twice, neutral and smiling. A logistic
regression on the features of photocore/measures/smile_features.py is fitted with
leave-one-person-out (LOPO) validation: each person's two photos are held out together, the
model, its ridge penalty and its fail threshold are fitted on the other 50 people only (the
penalty and the threshold by an inner LOPO among them), and the held-out photos are judged as
the shipped rule judges them. The fail threshold is the lowest probability above which no
neutral face of the training people falls, each scored by a model that did not see it. The
shipped model is fitted on all 51 people the same way; the outer LOPO's figures go beside it.
The other faces tagged compliant or smiling (Yale, interfaces, misc) are then only judged,
never fitted on: the Yale images may be used for research and evaluation only. It also says
how many held-out smiles were found by a margin of less than CLOSE points (a refit or a
slightly different feature could turn those), and what features() costs per photo.

    .venv/bin/python benchmarks/fit_smile.py [--faces ../shared/faces] [--out photocore/measures/smile_model.json]
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from photocore.analysis import analyse
from photocore.decode import decode
from photocore.measures.smile_features import FEATURES, features

GRID = (0.3, 1.0, 3.0, 10.0, 30.0)  # ridge penalties tried on the standardised coefficients
CLOSE = 5  # percentage points: a held-out verdict this near its threshold could go either way on a refit
SECONDS: list[float] = []  # time of each features() call on an analysis that other measures have used
ROOT = Path(__file__).resolve().parents[1]


def fit(x: np.ndarray, y: np.ndarray, l2: float) -> dict:
    """Logistic regression on standardised features by Newton's method, intercept unpenalised."""
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = np.c_[np.ones(len(x)), (x - mean) / scale]
    penalty = l2 * np.eye(z.shape[1])
    penalty[0, 0] = 0
    w = np.zeros(z.shape[1])
    for _ in range(100):
        p = 1 / (1 + np.exp(-(z @ w)))
        step = np.linalg.solve(z.T @ (z * (p * (1 - p))[:, None]) + penalty, z.T @ (p - y) + penalty @ w)
        w -= step
        if np.abs(step).max() < 1e-10:
            break
    return {"mean": mean, "scale": scale, "intercept": w[0], "weights": w[1:], "l2": l2}


def probability(model: dict, x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-(model["intercept"] + ((x - model["mean"]) / model["scale"]) @ model["weights"])))


def held_out(x: np.ndarray, y: np.ndarray, people: np.ndarray, l2: float) -> np.ndarray:
    """Each photo's probability from a model fitted without its person (LOPO)."""
    p = np.zeros(len(y))
    for person in np.unique(people):
        out = people == person
        p[out] = probability(fit(x[~out], y[~out], l2), x[out])
    return p


def fit_rule(x: np.ndarray, y: np.ndarray, people: np.ndarray) -> tuple[dict, float]:
    """The model and its fail threshold (percent), both from these people only.

    The penalty is the one of ``GRID`` whose LOPO predictions have the least log-loss; the
    threshold is the highest LOPO probability of a neutral face, rounded up to a whole
    percent: the lowest at which none of these neutral faces would have failed.
    """
    def log_loss(p):
        p = np.clip(p, 1e-9, 1 - 1e-9)
        return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    l2, p = min(((l2, held_out(x, y, people, l2)) for l2 in GRID), key=lambda c: log_loss(c[1]))
    return fit(x, y, l2), float(math.ceil(100 * p[y == 0].max()))


def judged_held_out(x: np.ndarray, y: np.ndarray, people: np.ndarray):
    """The outer LOPO: for each person, (person, neutral %, smiling %, fail threshold %, l2),
    the percentages from the model and the threshold fitted on everyone else."""
    for person in np.unique(people):
        out = people == person
        model, limit = fit_rule(x[~out], y[~out], people[~out])
        p = 100 * probability(model, x[out])
        yield person, p[y[out] == 0], p[y[out] == 1], limit, model["l2"]


def labelled(faces: Path, keep) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Features, labels (1 = smiling), person ids and files of the MANIFEST rows ``keep`` accepts."""
    rows = [r for r in csv.DictReader(open(faces / "MANIFEST.csv", encoding="utf-8")) if keep(r)]
    x, y, people, files = [], [], [], []
    for row in rows:
        analysis = analyse(decode(faces / row["file"]))
        found = features(analysis) if analysis.has_face else None
        if found is not None:  # again, timed (best of 3), now that the analysis's shared grey face crop is made
            times = []
            for _ in range(3):
                start = time.perf_counter()
                features(analysis)
                times.append(time.perf_counter() - start)
            SECONDS.append(min(times))
        if found is None:
            print(f"{row['file']}: no face features, left out", file=sys.stderr)
            continue
        x.append([found[name] for name in FEATURES])
        y.append("smile" in row["tags"].split(";"))
        people.append(Path(row["file"]).stem)
        files.append(row["file"])
    return np.array(x), np.array(y, float), np.array(people), files


def is_london(row: dict) -> bool:
    return row["file"].startswith(("london/neutral/", "london/smiling/"))


def is_other_check(row: dict) -> bool:
    """Faces the model never sees in fitting, only judged: compliant or smiling ones outside London."""
    tags = row["tags"].split(";")
    return not is_london(row) and ("compliant_pose" in tags or "smile" in tags)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--faces", default=str(ROOT.parent / "shared" / "faces"))
    parser.add_argument("--out", default=str(ROOT / "photocore" / "measures" / "smile_model.json"))
    args = parser.parse_args(argv)
    faces = Path(args.faces)
    x, y, people, _ = labelled(faces, is_london)
    persons = np.unique(people)
    print(f"{len(y)} photos of {len(persons)} people; leave-one-person-out, threshold by inner LOPO\n")
    print(f"{'person':8} {'neutral %':>9} {'smiling %':>9} {'fail >':>6} {'l2':>4}  outcome")
    detected = false_rejects = band = close = 0
    nearest_neutral = -100.0
    for person, neutral, smiling, limit, l2 in judged_held_out(x, y, people):
        hits, wrong = int((smiling > limit).sum()), int((neutral > limit).sum())
        detected += hits
        false_rejects += wrong
        band += int(((neutral > 50) & (neutral <= limit)).sum())
        close += int(((smiling > limit) & (smiling <= limit + CLOSE)).sum())
        nearest_neutral = max(nearest_neutral, float((neutral - limit).max()))
        verdict = ("smile found" if hits else "smile missed") + (", NEUTRAL REJECTED" if wrong else "")
        print(f"{person:8} {' '.join(f'{v:.1f}' for v in neutral):>9} {' '.join(f'{v:.1f}' for v in smiling):>9} "
              f"{limit:6.0f} {l2:4g}  {verdict}")
    smiling, neutral = int(y.sum()), int((1 - y).sum())
    print(f"\nLOPO: smiling detected {detected}/{smiling} ({detected / smiling:.0%}); neutral false rejects "
          f"{false_rejects}/{neutral}; neutral between 50% and the fail threshold (check by eye) {band}/{neutral}")
    print(f"margins: {close} of the {detected} smiles found lie within {CLOSE:g} points above their threshold; "
          f"the nearest neutral face lies {-nearest_neutral:.1f} points below its own")
    print(f"features(): median {1000 * float(np.median(SECONDS)):.2f} ms per photo, analysis and grey face crop made")

    model, threshold = fit_rule(x, y, people)
    print(f"shipped model: fitted on all {len(persons)} people (l2 {model['l2']:g}), fails above {threshold:.0f}%")
    ox, oy, _, files = labelled(faces, is_other_check)
    op = 100 * probability(model, ox)
    for name, p, label in zip(files, op, oy, strict=True):
        print(f"  {name:28} {'smile' if label else 'neutral':8} {p:5.1f}%{'  FAILS' if p > threshold else ''}")
    other = {"neutral_fail": f"{int((op[oy == 0] > threshold).sum())}/{int((oy == 0).sum())}",
             "smiling_fail": f"{int((op[oy == 1] > threshold).sum())}/{int((oy == 1).sum())}"}
    print(f"other labelled faces, never fitted on: compliant faces failing {other['neutral_fail']}, "
          f"smiling faces failing {other['smiling_fail']}")
    data = {
        "model": "logistic regression on standardised features, equal numbers of neutral and smiling photos: "
                 "percent = 100 / (1 + exp(-(intercept + sum(weight * (value - mean) / scale))))",
        "intercept": round(float(model["intercept"]), 6),
        "features": {name: {"mean": round(float(m), 6), "scale": round(float(s), 6), "weight": round(float(w), 6)}
                     for name, m, s, w in zip(FEATURES, model["mean"], model["scale"], model["weights"],
                                              strict=True)},
        "fail_above_percent": threshold,
        "provenance": {
            "fitted": datetime.date.today().isoformat(),
            "command": ".venv/bin/python benchmarks/fit_smile.py",
            "data": "Face Research Lab London Set (DeBruine & Jones 2017, CC-BY 4.0, "
                    "doi:10.6084/m9.figshare.5047666.v5): london/neutral and london/smiling of ../shared/faces",
            "people": len(persons),
            "photos": len(y),
            "l2": model["l2"],
            "l2_chosen": f"least LOPO log-loss among {list(GRID)}",
            "fail_above": "the highest LOPO probability of a neutral face, rounded up to a whole percent",
            "lopo": {"smiling_detected": f"{detected}/{smiling}",
                     "neutral_false_rejects": f"{false_rejects}/{neutral}",
                     "neutral_check_by_eye": f"{band}/{neutral}",
                     f"smiling_detected_within_{CLOSE}_points_of_threshold": f"{close}/{detected}",
                     "nearest_neutral_points_below_threshold": round(-nearest_neutral, 1)},
            "other_faces": {"which": "compliant_pose or smile tags outside London (Yale, interfaces, misc), "
                                     "judged only", **other},
        },
    }
    Path(args.out).write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
