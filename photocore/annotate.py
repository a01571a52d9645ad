"""Draw what the checks saw: landmarks, eye line, crown and chin lines, faces, failures.

For the clerk and for whoever tunes a threshold: one picture shows where the models put the
face and which requirements failed. Drawn on the analysis-size image.
"""

from __future__ import annotations

import cv2
import numpy as np

from .analysis import Analysis
from .judge import FAIL, NOT_ASSESSED, Result

GREEN, RED, YELLOW, CYAN, WHITE = (40, 200, 40), (230, 40, 40), (240, 200, 0), (0, 190, 230), (255, 255, 255)


def annotate(analysis: Analysis, results: list[Result] | tuple[Result, ...] = ()) -> np.ndarray:
    """An RGB copy of the analysed image with the analysis and the failed requirements drawn on it."""
    canvas = analysis.image.copy()
    h, w = canvas.shape[:2]
    thick = max(1, round(max(h, w) / 600))
    for i, face in enumerate(analysis.faces):
        x, y, fw, fh = (int(round(v)) for v in face.box)
        cv2.rectangle(canvas, (x, y), (x + fw, y + fh), GREEN if i == 0 else YELLOW, thick)
    if analysis.has_face:
        for px, py in analysis.mesh[:468, :2].astype(int):
            cv2.circle(canvas, (int(px), int(py)), max(1, thick // 2), CYAN, -1)
        for centre in (analysis.right_iris, analysis.left_iris):
            cv2.circle(canvas, tuple(int(v) for v in centre), 2 * thick, RED, -1)
        cv2.line(canvas, tuple(int(v) for v in analysis.right_iris), tuple(int(v) for v in analysis.left_iris),
                 YELLOW, thick)
        (cx, cy), inside = analysis.crown
        cv2.line(canvas, (0, int(cy)), (w - 1, int(cy)), GREEN if inside else RED, thick)
        cv2.line(canvas, (0, int(analysis.chin[1])), (w - 1, int(analysis.chin[1])), GREEN, thick)
    lines = []
    for result in results:
        for verdict in result.verdicts:
            if verdict.status in (FAIL, NOT_ASSESSED):
                value = "" if verdict.value is None else f" {verdict.value:g}"
                lines.append((f"{verdict.status.upper()} {verdict.code}{value}",
                              RED if verdict.status == FAIL else YELLOW))
    scale = max(0.4, max(h, w) / 1600)
    for i, (text, colour) in enumerate(lines):
        y = int((i + 1) * 28 * scale * 1.1)
        cv2.putText(canvas, text, (8, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thick + 2, cv2.LINE_AA)
        cv2.putText(canvas, text, (8, y), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thick, cv2.LINE_AA)
    return canvas


def save_annotation(path, analysis: Analysis, results=()) -> None:
    """Write the annotation as PNG (or whatever the extension says); no metadata."""
    from PIL import Image
    Image.fromarray(annotate(analysis, results)).save(path)
