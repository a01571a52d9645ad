"""The capture station (`photocore station`): the counter PC's browser app.

The page shows the camera with the live overlay and one instruction at a time, sends frames
to this process over a WebSocket (``live_socket``), shows the photo automatic capture took with
its check and the clerk's checklist, and on accept converts every credential, signs and hands
the capture over (``handover``): to the shared photo library when one is configured, else to a
folder. Nothing is stored before the clerk accepts.

    from photocore.station import StationConfig, create_app
    app = create_app(StationConfig(keys="keys", library="http://127.0.0.1:8400", station="zs-001"))
"""

from .app import create_app
from .config import StationConfig

__all__ = ["StationConfig", "create_app"]
