"""The background a person asks for: white, blue, red or an exact colour, where the credential
allows it.

Most credentials list one colour; a few list several (white, light blue, red, ...), and the
first is the default. A choice for the whole run applies to every credential that lists it and
leaves the others at their default; a choice per credential must be one it lists. Names match
a listed colour by its hue, so "blue" finds #64C5FF on one card and #628BCE on another.
"""

from __future__ import annotations

import colorsys
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, TypeAlias

from .errors import ConfigError

if TYPE_CHECKING:
    from .catalogue import PhotoProfile

NAMES = ("white", "blue", "red", "grey")
# What a caller asks for: None (each credential's default), a name or #RRGGBB for all, or
# {credential id: name or #RRGGBB}.
Background: TypeAlias = str | dict[str, str] | None
_HEX = re.compile(r"#[0-9A-Fa-f]{6}")


def colour_name(hex_colour: str) -> str:
    """white, grey, red or blue (or "other") for a catalogue colour."""
    r, g, b = (int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5))
    hue, lightness, saturation = colorsys.rgb_to_hls(r, g, b)
    if saturation < 0.15:
        return "white" if lightness > 0.9 else "grey"
    degrees = hue * 360
    if degrees < 30 or degrees > 330:
        return "red"
    if 180 <= degrees <= 260:
        return "blue"
    return "other"


def _match(choice: str, allowed: tuple[str, ...]) -> str | None:
    """The listed colour ``choice`` names, or None."""
    if _HEX.fullmatch(choice):
        return next((c for c in allowed if c.upper() == choice.upper()), None)
    return next((c for c in allowed if colour_name(c) == choice), None)


def _check(choice: object) -> str:
    if not isinstance(choice, str) or not (choice.lower() in NAMES or _HEX.fullmatch(choice)):
        raise ConfigError(f"a background is one of {', '.join(NAMES)} or #RRGGBB, not {choice!r}",
                          code="config.invalid_background")
    return choice.lower() if choice.lower() in NAMES else choice


def choose(profiles: Sequence[PhotoProfile], choice: Background) -> dict[str, str]:
    """{credential id: background colour} for the credentials whose background is replaced.

    ``choice``: None (each credential's default), one name or #RRGGBB for all, or a dict
    {credential id: name or #RRGGBB}. Raises ConfigError ``config.background_not_allowed``
    when a credential is given a colour it does not list, or no credential lists a run's choice.
    """
    replaced = [p for p in profiles if p.background_replace]
    out = {p.id: p.background[0] for p in replaced}
    if choice is None:
        return out
    if isinstance(choice, dict):
        by_id = {p.id: p for p in profiles}
        for credential, wanted in choice.items():
            profile = by_id.get(credential)
            if profile is None:
                raise ConfigError(f"a background was chosen for {credential}, which is not being made",
                                  code="config.unknown_credential")
            colour = _match(_check(wanted), profile.background) if profile.background_replace else None
            if colour is None:
                raise ConfigError(f"{credential} does not allow a {wanted} background (it allows "
                                  f"{', '.join(profile.background)})", code="config.background_not_allowed")
            out[credential] = colour
        return out
    wanted = _check(choice)
    matched = {p.id: _match(wanted, p.background) for p in replaced}
    if not any(matched.values()):
        raise ConfigError(f"none of these credentials allows a {choice} background",
                          code="config.background_not_allowed")
    out.update({credential: colour for credential, colour in matched.items() if colour})
    return out
