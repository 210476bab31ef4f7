"""Files for others to read are written whole or not at all (digest/files.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.files import write_atomic


def test_a_write_replaces_the_file_with_the_given_permissions(tmp_path: Path) -> None:
    target = tmp_path / "2026-12-01.md"
    target.write_bytes(b"yesterday's text")
    write_atomic(target, b"today's text")
    assert target.read_bytes() == b"today's text"
    assert target.stat().st_mode & 0o777 == 0o644
    write_atomic(target, b"private", mode=0o600, durable=True)
    assert target.read_bytes() == b"private" and target.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2026-12-01.md"]  # no temporary left


def test_a_write_that_fails_half_way_leaves_the_old_file_whole(tmp_path: Path) -> None:
    target = tmp_path / "index.html"
    target.write_bytes(b"<p>the old page</p>")
    with pytest.raises(TypeError):
        write_atomic(target, "not bytes")  # type: ignore[arg-type]  # fails inside the write
    assert target.read_bytes() == b"<p>the old page</p>"
    assert [p.name for p in tmp_path.iterdir()] == ["index.html"]
