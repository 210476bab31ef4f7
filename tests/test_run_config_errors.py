"""A run stopped by a configuration mistake leaves nothing behind: no half-made
run that `digest status` would then report as interrupted."""

from __future__ import annotations

from pathlib import Path


def test_a_bad_timezone_stops_the_run_before_anything_is_recorded(invoke) -> None:
    Path("digest.toml").write_text('[schedule]\ntimezone = "Mars/Base"\n', encoding="utf-8")
    result = invoke("--db", "tz.db", "run")
    assert result.exit_code == 2
    assert "Mars/Base" in result.stderr
    assert "Traceback" not in result.output
    assert not Path("tz.db").exists()  # found when the settings loaded: nothing was opened
    status = invoke("--db", "tz.db", "status")
    assert "interrupted" not in status.stdout
