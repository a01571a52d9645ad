"""A reference agency receiver for photocore deliveries (see README.md)."""
