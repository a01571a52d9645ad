"""Unified quality score (OFIQ 0x41): not assessed.

OFIQ derives it from a MagFace recognition network, which is not among the models bundled in
mediapipe 0.10.21; a stand-in number would look like the standard's score without being it.
"""

from .base import not_assessed, register


@register("unified_quality")
def unified_quality(analysis):
    return not_assessed("unified_quality", "score",
                        "needs the MagFace recognition model, which is not bundled")
