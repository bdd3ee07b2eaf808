"""Outputs: never clobber a symlink, FIFO or device; keep modes; honour the umask.

Device nodes are made with os.mknod in a temporary directory (never the real /dev files):
a character device with /dev/null's numbers, so writing to it is harmless.
"""

import io
import json
import os
import stat
import subprocess
import sys
import threading

import pytest

from twpolicy._cli._common import CliError, open_output
from twpolicy._cli._main import main

RECORD = {"id": 30, "id_str": "30", "text": "x", "user": {"id": 1, "id_str": "1"}}


@pytest.fixture(name="dataset")
def _dataset(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps(RECORD) + "\n", encoding="utf-8")
    return path


def dehydrate(*argv):
    return main(["dehydrate", "--quiet", *map(str, argv)], out=io.StringIO())


def scan_to(path, source):
    return main(["scan", "--output", str(path), str(source)], out=io.StringIO())


class TestRegularFiles:
    def test_existing_file_keeps_its_mode(self, dataset, tmp_path):
        out = tmp_path / "ids.txt"
        out.write_text("old\n")
        out.chmod(0o640)
        assert 0 == dehydrate(dataset, out)
        assert "30\n" == out.read_text()
        assert 0o640 == stat.S_IMODE(out.stat().st_mode)

    @pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
    def test_new_file_honours_the_umask(self, dataset, tmp_path, umask):
        out = tmp_path / "ids.txt"
        old = os.umask(umask)
        try:
            assert 0 == dehydrate(dataset, out)
            assert 0 == scan_to(tmp_path / "report.txt", dataset)
        finally:
            os.umask(old)
        assert 0o666 & ~umask == stat.S_IMODE(out.stat().st_mode)
        assert 0o666 & ~umask == stat.S_IMODE((tmp_path / "report.txt").stat().st_mode)

    def test_failed_run_leaves_the_file_as_it_was(self, tmp_path):
        out = tmp_path / "ids.txt"
        out.write_text("precious\n")
        broken = tmp_path / "in.gz"
        broken.write_bytes(b"\x1f\x8b\x08\x00" + b"\x00" * 6 + b"garbage")
        assert 2 == dehydrate(broken, out)
        assert "precious\n" == out.read_text()
        assert {out.name, broken.name} == {p.name for p in tmp_path.iterdir()}  # no leftovers

    def test_a_directory_is_refused(self, dataset, tmp_path):
        with pytest.raises(CliError, match="is a directory"):
            open_output(str(tmp_path), None)
        assert 2 == dehydrate(dataset, tmp_path)


class TestNotRegular:
    def test_symlink_is_followed_and_stays_a_link(self, dataset, tmp_path):
        target = tmp_path / "real.txt"
        target.write_text("old\n")
        target.chmod(0o604)
        link = tmp_path / "link.txt"
        link.symlink_to(target)
        assert 0 == dehydrate(dataset, link)
        assert link.is_symlink()
        assert "30\n" == target.read_text()
        assert 0o604 == stat.S_IMODE(target.stat().st_mode)

    def test_dangling_symlink_creates_its_target(self, dataset, tmp_path):
        link = tmp_path / "link.txt"
        link.symlink_to(tmp_path / "new.txt")
        assert 0 == scan_to(link, dataset)
        assert link.is_symlink()
        assert "1 record" in (tmp_path / "new.txt").read_text()

    @pytest.mark.parametrize("command", ["dehydrate", "scan"])
    def test_fifo_is_written_in_place(self, dataset, tmp_path, command):
        fifo = tmp_path / "pipe"
        os.mkfifo(fifo)
        got = []
        reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
        reader.start()
        try:
            code = dehydrate(dataset, fifo) if command == "dehydrate" else scan_to(fifo, dataset)
        finally:
            reader.join(timeout=60)
        assert 0 == code
        assert stat.S_ISFIFO(fifo.lstat().st_mode)
        assert (b"30\n" if command == "dehydrate" else b"1 record") in got[0]

    def test_device_node_is_written_in_place(self, dataset, tmp_path):
        node = tmp_path / "null"
        try:
            os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        except PermissionError:  # no CAP_MKNOD: a FIFO stands in for the device
            os.mkfifo(node)
            threading.Thread(target=node.read_bytes, daemon=True).start()
        before = node.lstat()
        assert 0 == dehydrate(dataset, node)
        after = node.lstat()
        assert (before.st_ino, before.st_mode, before.st_rdev) == (
            after.st_ino,
            after.st_mode,
            after.st_rdev,
        )
        assert [] == [p for p in tmp_path.iterdir() if p.name.startswith(".")]

    def test_input_is_never_overwritten_even_through_a_link(self, dataset, tmp_path):
        link = tmp_path / "alias.jsonl"
        link.symlink_to(dataset)
        before = dataset.read_bytes()
        assert 2 == dehydrate(dataset, link)
        assert before == dataset.read_bytes()


def test_a_report_is_never_written_over_an_input(dataset, tmp_path):
    before = dataset.read_bytes()
    link = tmp_path / "alias"
    link.symlink_to(dataset)
    for target in (dataset, link):
        assert 2 == scan_to(target, dataset)
        assert before == dataset.read_bytes()


def test_console_script_never_replaces_a_device(tmp_path, dataset):
    """As root, `dehydrate in.jsonl NODE` used to turn a device node into a regular file."""
    node = tmp_path / "null"
    kind = stat.S_ISCHR
    try:
        os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except PermissionError:  # no CAP_MKNOD: a FIFO stands in for the device
        os.mkfifo(node)
        threading.Thread(target=node.read_bytes, daemon=True).start()
        kind = stat.S_ISFIFO
    done = subprocess.run(
        [sys.executable, "-m", "twpolicy", "dehydrate", str(dataset), str(node)],
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert (0, "") == (done.returncode, done.stdout)
    assert kind(node.lstat().st_mode)
