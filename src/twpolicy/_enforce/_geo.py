"""The storage enforcement point under its first name: see `twpolicy._enforce._storage`.

`check_storable`, `no_standalone_geo` and `GeoSafeMapping` began as location checks; they
now ask the guard about every storage rule. The names stay importable from here.
"""

from twpolicy._enforce._storage import GeoSafeMapping, check_storable, no_standalone_geo

__all__ = ["GeoSafeMapping", "check_storable", "no_standalone_geo"]
