"""Face occlusion (hands, hair, masks across the face): not assessed.

The face mesh predicts landmarks under an occluder rather than marking it, and no bundled
model segments occluders, so the measure reports not assessed instead of a silent pass.
"""

from .base import not_assessed, register


@register("face_occlusion")
def face_occlusion(analysis):
    return not_assessed("face_occlusion", "share",
                        "no bundled model finds hands, hair or masks over the face; check by eye")
