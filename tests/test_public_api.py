from importlib.metadata import version

import twpolicy


class TestPublicApi:
    def test_all_has_no_duplicates(self):
        """__all__ names each export once (ruff's RUF022 keeps it sorted)."""
        assert len(set(twpolicy.__all__)) == len(twpolicy.__all__)

    def test_all_is_complete(self):
        """Every public name of the package is in __all__, and every name in __all__ exists."""
        public = {
            name
            for name in dir(twpolicy)
            if not name.startswith("_")
            and not getattr(getattr(twpolicy, name), "__name__", "").startswith("twpolicy.")
        }
        assert public | {"__version__"} == set(twpolicy.__all__)

    def test_public_classes_show_the_public_path(self):
        """Public classes say twpolicy.X in reprs, whatever private module defines them."""
        for name in twpolicy.__all__:
            obj = getattr(twpolicy, name)
            if isinstance(obj, type) and obj.__module__.startswith("twpolicy"):
                assert obj.__module__ in {"twpolicy", "twpolicy.exceptions", "twpolicy.rules"}, name

    def test_version_is_the_packaged_one(self):
        """__version__ matches the installed distribution's metadata."""
        assert version("twpolicy") == twpolicy.__version__
