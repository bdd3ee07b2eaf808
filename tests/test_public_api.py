import ast
import importlib
import importlib.util
import inspect
import json
import subprocess
import sys
from importlib.metadata import version

import pytest
import tweepy

import twpolicy


class TestPublicApi:
    def test_location_memory_is_public(self):
        """The guard's memory of location read (I.B.7) is exported with the storage tools."""
        assert {"LocationMemory", "GeoSafeMapping", "check_storable"} <= set(twpolicy.__all__)
        assert twpolicy.Guard().locations.__class__ is twpolicy.LocationMemory

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


HEAVY = ("tweepy", "requests", "oauthlib", "requests_oauthlib")


def _loaded_after(code, modules=HEAVY):
    """Which of ``modules`` a fresh interpreter has imported after running code."""
    check = f"{code}\nimport sys\nprint(*[m for m in {modules!r} if m in sys.modules])"
    done = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, check=False
    )
    assert 0 == done.returncode, done.stderr
    return done.stdout.split()


class TestLazyLoading:
    """Names load on first use, so that start-up pays only for what a program touches."""

    def test_import_loads_no_http_stack(self):
        """Importing twpolicy and the command line imports no tweepy, requests or oauthlib."""
        assert [] == _loaded_after("import twpolicy; import twpolicy._cli._main")

    @pytest.mark.parametrize("command", [["scan"], ["dehydrate", "-"], ["clauses"]])
    def test_dataset_commands_load_no_http_stack(self, command, tmp_path):
        """Commands that talk to no API run without importing tweepy, requests or oauthlib."""
        data = tmp_path / "data.jsonl"
        data.write_text('{"data": {"id": "20", "text": "hi"}}\n', encoding="utf-8")
        argv = [command[0], str(data), *command[1:]] if command != ["clauses"] else command
        code = (
            "import io\nfrom twpolicy._cli._main import main\n"
            f"assert main({argv!r}, out=io.StringIO()) == 0"
        )
        assert [] == _loaded_after(code)

    @pytest.mark.parametrize(("text", "loaded"), [("hi", []), ("seen 8a283082800ffff", ["h3"])])
    def test_scan_loads_h3_only_for_a_token_shaped_like_an_h3_cell(self, text, loaded, tmp_path):
        """h3 takes tens of milliseconds to import: only data that may hold a cell pays it."""
        point = {"type": "Point", "coordinates": [-122.41942, 37.77493]}
        lines = [
            {"id_str": "1000000000000000001", "text": "hello", "coordinates": point},
            {"note": text},  # standalone: its text is looked at for the point read
        ]
        data = tmp_path / "data.jsonl"
        data.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
        code = (
            "import io\nfrom twpolicy._cli._main import main\n"
            f"main(['scan', {str(data)!r}], out=io.StringIO())"
        )
        assert loaded == _loaded_after(code, modules=("h3",))

    def test_a_client_loads_tweepy(self):
        """The HTTP stack loads with the first client: the check above can fail."""
        assert "tweepy" in _loaded_after("import twpolicy; twpolicy.Client")

    def test_lazy_names_match_the_type_checking_imports(self):
        """Every lazily loaded name is imported for type checkers from the same place."""
        tree = ast.parse(inspect.getsource(twpolicy))
        (block,) = [
            node
            for node in tree.body
            if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING"
        ]
        imported = {
            alias.asname or alias.name: (node.module, alias.name)
            for node in block.body
            if isinstance(node, ast.ImportFrom)
            for alias in node.names
        }
        assert twpolicy._LAZY == imported

    def test_dir_lists_names_before_they_load(self):
        """dir() shows every public name, loaded or not."""
        assert set(twpolicy.__all__) <= set(dir(twpolicy))

    def test_submodules_are_attributes(self):
        """twpolicy.rules works without importing it, as when __init__ imported it."""
        assert "twpolicy.rules" == twpolicy.rules.__name__
        assert callable(twpolicy.rules.default)

    @pytest.mark.parametrize("name", ["nonexistent", "__wrapped__", "not a name"])
    def test_unknown_names_raise_attribute_error(self, name):
        """Names that are neither exports nor submodules raise AttributeError."""
        with pytest.raises(AttributeError, match="has no attribute"):
            getattr(twpolicy, name)

    def test_missing_async_extra_names_the_fix(self, monkeypatch):
        """Without the async extra, AsyncClient raises a ConfigurationError naming it."""
        real = importlib.import_module
        monkeypatch.delitem(twpolicy.__dict__, "AsyncClient", raising=False)
        monkeypatch.delitem(twpolicy.__dict__, "AsyncStreamingClient", raising=False)

        def fail(name, *args):
            if name.endswith("._async"):
                raise tweepy.TweepyException("tweepy.asynchronous needs aiohttp")
            return real(name, *args)

        found = importlib.util.find_spec
        monkeypatch.setattr(importlib, "import_module", fail)
        monkeypatch.setattr(
            importlib.util, "find_spec", lambda name: None if name == "aiohttp" else found(name)
        )
        with pytest.raises(twpolicy.ConfigurationError, match=r"pip install 'twpolicy\[async\]'"):
            _ = twpolicy.AsyncClient

    def test_other_import_errors_pass_through(self, monkeypatch):
        """An error loading a module is not disguised as a missing extra."""

        real = importlib.import_module
        monkeypatch.delitem(twpolicy.__dict__, "AsyncClient", raising=False)
        monkeypatch.delitem(twpolicy.__dict__, "AsyncStreamingClient", raising=False)

        def fail(name, *args):
            if name.endswith("._async"):
                raise tweepy.TweepyException("broken")
            return real(name, *args)

        monkeypatch.setattr(importlib, "import_module", fail)
        with pytest.raises(tweepy.TweepyException, match="broken"):
            _ = twpolicy.AsyncClient

    def test_errors_of_other_modules_are_not_blamed_on_the_extra(self, monkeypatch):
        """Only the async clients' import errors are read as a missing extra."""
        real = importlib.import_module
        monkeypatch.delitem(twpolicy.__dict__, "Guard", raising=False)

        def fail(name, *args):
            if name == "twpolicy._guard":
                raise ImportError("broken install")
            return real(name, *args)

        monkeypatch.setattr(importlib, "import_module", fail)
        with pytest.raises(ImportError, match="broken install"):
            _ = twpolicy.Guard
