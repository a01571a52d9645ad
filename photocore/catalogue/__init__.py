"""The credential catalogue: agencies and photo profiles as validated data (specs/)."""

from .load import Agency, Catalogue, CatalogueError, PhotoProfile, Range, load_catalogue, validate

__all__ = ["Agency", "Catalogue", "CatalogueError", "PhotoProfile", "Range", "load_catalogue", "validate"]
