"""Indices into the 478-point MediaPipe face mesh (with refined iris), named once.

"Right" and "left" are the subject's: the subject's right eye appears on the image's left.
"""

RIGHT_EYE_OUTER, RIGHT_EYE_INNER = 33, 133
RIGHT_EYE_UPPER, RIGHT_EYE_LOWER = 159, 145
RIGHT_EYE_UPPER_2, RIGHT_EYE_LOWER_2 = 158, 153
RIGHT_EYE_UPPER_3, RIGHT_EYE_LOWER_3 = 160, 144
LEFT_EYE_OUTER, LEFT_EYE_INNER = 263, 362
LEFT_EYE_UPPER, LEFT_EYE_LOWER = 386, 374
LEFT_EYE_UPPER_2, LEFT_EYE_LOWER_2 = 385, 380
LEFT_EYE_UPPER_3, LEFT_EYE_LOWER_3 = 387, 373

RIGHT_IRIS = list(range(468, 473))  # centre first, then four rim points
LEFT_IRIS = list(range(473, 478))

# Eye outlines (upper and lower lid, corner to corner) for eye-region masks.
RIGHT_EYE_CONTOUR = [33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7]
LEFT_EYE_CONTOUR = [263, 466, 388, 387, 386, 385, 384, 398, 362, 382, 381, 380, 374, 373, 390, 249]
RIGHT_BROW = [70, 63, 105, 66, 107, 55, 65, 52, 53, 46]
LEFT_BROW = [300, 293, 334, 296, 336, 285, 295, 282, 283, 276]

MOUTH_LEFT, MOUTH_RIGHT = 291, 61  # subject's left and right corners
UPPER_LIP_OUTER, LOWER_LIP_OUTER = 0, 17
UPPER_LIP_INNER, LOWER_LIP_INNER = 13, 14
INNER_LIP_PAIRS = [(82, 87), (13, 14), (312, 317)]
MOUTH_INNER_CONTOUR = [78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95]
MOUTH_OUTER_CONTOUR = [61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146]

NOSE_TIP = 1
NOSE_BRIDGE = 168  # between the eyes
FOREHEAD_TOP = 10  # top of the mesh: hairline on most faces, not the crown
CHIN = 152
RIGHT_CHEEK_EDGE, LEFT_CHEEK_EDGE = 234, 454  # face outline at ear (tragion) level

# Face outline, clockwise from the forehead: the "landmarked region" of ISO/IEC 29794-5.
FACE_OVAL = [10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400,
             377, 152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109]

# Cheek points below each eye, used for skin-colour and illumination zones.
RIGHT_CHEEK, LEFT_CHEEK = 205, 425
