"""Adapters: each consuming system's layout of a delivery (names, metadata, format), carried by a
transport (``photocore.deliver.transports``: folder, sftp, s3, http).

A system in the systems file names its adapter; the adapter's settings go in the table of the
same name::

    [[system]]
    id = "hrss-card"
    credentials = ["hrss.*"]
    transport = "sftp"
    adapter = "folder-xml"
    [system.sftp]
    ...
    [system.folder-xml]
    name = "{reference}"

Adapters are found through the ``photocore.adapters`` entry point group, photocore's own three
as well as an integrator's, who ships theirs as a package of its own (see
``adapters/example-agency/`` in the repository) and checks it with
``photocore.adapters.contract.check_adapter``. Reference adapters:

- ``json-api``: one HTTP POST with the photo and its facts as JSON fields (``json_api.py``);
- ``folder-xml``: a folder drop, photo and XML sidecar named by application reference
  (``folder_xml.py``);
- ``s3-archive``: keys by agency, date and reference, with a metadata JSON (``s3_archive.py``).

A system without ``adapter`` gets the transport's own layout (``<photo id>-<file name>`` and its
``.jws``; HTTP's JSON or multipart body).
"""

from ..deliver.transports.base import Delivery, File, Receipt, Request
from .base import Adapter, Facts, NameTemplate, Payload, check_name, facts
from .registry import GROUP, Adapted, Installed, adapter_class, available, make_adapter, make_sender

__all__ = ["GROUP", "Adapted", "Adapter", "Delivery", "Facts", "File", "Installed", "NameTemplate", "Payload",
           "Receipt", "Request", "adapter_class", "available", "check_name", "facts", "make_adapter", "make_sender"]
