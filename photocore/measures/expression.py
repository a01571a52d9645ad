"""Neutral expression: the probability, in percent, that the face is smiling.

Why a fitted model: two mouth measurements against neutral faces cannot tell a closed-mouth
smile from a mouth that turns up by nature (they found about 57% of the London set's
smiles). The model weighs the mesh's geometry of the mouth, lips, cheeks and lower lids, the
shading of the nasolabial fold against the skin beside the mouth corners, and the teeth seen
between the lips (``smile_features.py``) in a logistic regression whose coefficients ship as
data, ``smile_model.json``, with their provenance; ``benchmarks/fit_smile.py`` refits them,
validated leave one person out. The probability assumes a smile and a neutral face equally
likely beforehand: above 50% a smile is the likelier reading. The capture profile fails the
face above the threshold that fit found (no neutral face above it) and asks for a check by
eye in between.
"""

import json
import math
from importlib import resources

import numpy as np

from ..analysis import Analysis
from ..caches import memoised
from ..errors import AnalysisError
from .base import NO_FACE, NotAssessed, Outcome, Reading, measure
from .smile_features import FEATURES, features

OUTSIDE = "the mouth and cheeks are outside the image, so the expression cannot be judged"


@memoised
def model() -> dict:
    """The shipped coefficients, checked against the features this version computes."""
    try:
        data = json.loads(resources.files(__package__).joinpath("smile_model.json").read_text(encoding="utf-8"))
        coefficients = [[float(data["features"][name][key]) for key in ("weight", "scale", "mean")]
                        for name in FEATURES]
        intercept = float(data["intercept"])
        matches = tuple(data["features"]) == FEATURES
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise AnalysisError(f"cannot load the smile model: {exc}", code="analysis.models") from exc
    if not matches:
        raise AnalysisError("the smile model does not match the smile features; refit it with "
                            "benchmarks/fit_smile.py", code="analysis.models")
    weight, scale, mean = np.array(coefficients).T
    return {"weights": weight / scale, "offset": intercept - float(weight / scale @ mean)}


@measure
def smile(analysis: Analysis) -> Outcome:
    if not analysis.has_face:
        return NotAssessed(NO_FACE)
    found = features(analysis)
    if found is None:
        return NotAssessed(OUTSIDE)
    m = model()
    logit = m["offset"] + float(m["weights"] @ np.array([found[name] for name in FEATURES]))
    return Reading(100 / (1 + math.exp(-max(-700.0, min(700.0, logit)))),
                   details={name: round(value, 3) for name, value in found.items()})
