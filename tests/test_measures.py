"""Every registered measure: a native value with a 0-100 score, or a reason it could not."""

import numpy as np

import photocore
from photocore.analysis import linear_luminance
from photocore.measures import REGISTRY
from photocore.measures.base import NO_FACE, median, percentile
from photocore.measures.table import TABLES

from conftest import jpeg_bytes

NOT_ASSESSABLE = {"head_covering", "face_occlusion", "unified_quality"}


def test_every_measure_reads_a_real_face(neutral_report):
    for name, m in neutral_report.measurements.items():
        assert m.name == name
        if name in NOT_ASSESSABLE:
            assert m.value is None and m.score is None and m.reason
        else:
            assert isinstance(m.value, float) and 0 <= m.score <= 100, name


def test_without_a_face_face_measures_say_why():
    report = photocore.check(jpeg_bytes(np.full((300, 400, 3), 180, np.uint8)))
    for name in ("yaw", "eyes_open", "smile", "sharpness", "exposure", "margins", "inter_eye_distance"):
        m = report.measurements[name]
        assert m.value is None and m.reason == NO_FACE
    assert report.measurements["face_count"].value == 0


def test_ofiq_mappings_reproduce_the_standard_examples():
    # ISO/IEC 29794-5 InterEyeDistance: 100 * S(x; 70, 20)
    ied = TABLES["inter_eye_distance"].score
    assert ied is not None and [ied(x, {}) for x in (45, 60, 70, 90, 120)] == [22, 38, 50, 73, 92]
    # HeadSize: 200 * (1 - S(|x - 0.45|; 0, 0.05))
    head = TABLES["head_size"].score
    assert head is not None and [head(x, {}) for x in (0.3, 0.4, 0.45)] == [9, 54, 100]


def test_registry_names_are_unique_and_callable():
    assert len(REGISTRY) >= 28
    assert all(callable(fn) for fn in REGISTRY.values())


def test_percentiles_and_medians_are_numpys():
    """uint8 pixels are counted per level rather than sorted: the same numbers."""
    rng = np.random.default_rng(0)
    for n in (1, 2, 7, 100, 5000):
        for values in (rng.integers(0, 256, n).astype(np.uint8), (rng.integers(0, 4, (n, 1)) * 60).astype(np.uint8),
                       rng.integers(-500, 500, n)):
            for q in (0, 25, 75, 90, 99, 100):
                assert percentile(values, q) == float(np.percentile(values, q)), (n, q)
            assert median(values) == float(np.median(values)), n


def test_contrast_read_from_the_histogram_equals_the_pixels(neutral_report):
    analysis = neutral_report.analysis
    x0, y0, x1, y1 = analysis.face_box
    values = linear_luminance(analysis.image[y0:y1, x0:x1])[analysis.face_mask > 0]
    assert neutral_report.measurements["luminance_variance"].value == round(float(np.var(values / 255.0)), 5)
    p = np.bincount(values, minlength=256) / values.size
    entropy = float(-(p[p > 0] * np.log2(p[p > 0])).sum())
    assert neutral_report.measurements["dynamic_range"].value == round(entropy, 3)
