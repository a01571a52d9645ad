"""Compression: the JPEG quality the capture was saved with, estimated from its tables.

A JPEG's quantisation tables say how hard it was compressed, independently of content. For
other formats there is no table to read; rather than guess, the measure is not assessed.
"""

from .base import Measurement, clamp_score, not_assessed, register, sigmoid


@register("jpeg_quality")
def jpeg_quality(analysis) -> Measurement:
    quality = analysis.jpeg_quality
    if quality is None:
        return not_assessed("jpeg_quality", "quality",
                            "not a JPEG file: no quantisation tables to estimate compression from")
    return Measurement("jpeg_quality", float(quality), clamp_score(100 * sigmoid(quality, 50, 8)), "quality")
