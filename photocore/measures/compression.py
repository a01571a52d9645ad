"""Compression: the JPEG quality the capture was saved with, estimated from its tables.

A JPEG's quantisation tables say how hard it was compressed, independently of content. For
other formats there is no table to read; rather than guess, the measure is not assessed.
"""

from ..analysis import Analysis
from .base import NotAssessed, Outcome, measure


@measure
def jpeg_quality(analysis: Analysis) -> Outcome:
    quality = analysis.jpeg_quality
    if quality is None:
        return NotAssessed("not a JPEG file: no quantisation tables to estimate compression from")
    return float(quality)
