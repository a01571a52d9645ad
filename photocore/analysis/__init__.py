"""Analyse a capture once: faces, 478 landmarks, head pose, person mask, key geometry.

Everything downstream (measures, judging, rendering) reads this one ``Analysis`` and never
runs a model again. Geometry is in the pixel coordinates of ``Analysis.image`` (the capture
decoded at analysis size); multiply by ``Analysis.scale`` for full-resolution pixels.

The face detector and the person segmenter see 192 and 256 pixel inputs whatever they are
given, so they get ``Analysis.small`` (long side ``SMALL_SIDE``) and the resize inside
MediaPipe stays cheap; the face mesh runs on a crop of the analysis image around the face.

Thread safety: ``analyse`` may be called from several threads at once; each thread uses its
own model graphs (see ``models.py``). An ``Analysis`` is read-only once built and may be
shared between threads.

The package: ``data`` (the ``Analysis`` and what derives from it), ``run`` (the model runs
and orientation), ``models`` (the MediaPipe graphs, one set per thread), ``images`` (pixel
helpers), ``landmarks`` (mesh indices), ``pose`` and ``hands``.
"""

from .data import Analysis, DetectedFace, Mask, Points
from .images import SMALL_SIDE, linear_luminance, shrink
from .run import analyse

__all__ = ["SMALL_SIDE", "Analysis", "DetectedFace", "Mask", "Points", "analyse", "linear_luminance", "shrink"]
