"""The schedule: cron + time zone (across DST), missed runs, locks, the example files."""

from __future__ import annotations

import configparser
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from tests_support import REPO

from digest.config import load_settings
from digest.errors import ConfigError, LockedError
from digest.locks import hold
from digest.schedule import missed_run, next_run_time

UTC = ZoneInfo("UTC")


def settings_with(cron: str = "0 7 * * *", tz: str | None = "Europe/Berlin"):
    toml = f'[schedule]\ncron = "{cron}"\n' + (f'timezone = "{tz}"\n' if tz else "")
    Path("digest.toml").write_text(toml, encoding="utf-8")
    return load_settings()


def test_next_run_follows_cron_and_time_zone_across_a_dst_change() -> None:
    s = settings_with()
    # Berlin leaves summer time on 2026-10-25: 07:00 local is 05:00 UTC before, 06:00 UTC after.
    before = next_run_time(s, datetime(2026, 10, 23, 8, 0, tzinfo=UTC))
    after = next_run_time(s, datetime(2026, 10, 24, 8, 0, tzinfo=UTC))
    assert before.astimezone(UTC) == datetime(2026, 10, 24, 5, 0, tzinfo=UTC)
    assert after.astimezone(UTC) == datetime(2026, 10, 25, 6, 0, tzinfo=UTC)
    assert before.hour == after.hour == 7
    summer = next_run_time(s, datetime(2026, 7, 1, 0, 0, tzinfo=UTC))
    assert summer.astimezone(UTC) == datetime(2026, 7, 1, 5, 0, tzinfo=UTC)
    assert summer.hour == 7


def test_weekday_cron_skips_the_weekend() -> None:
    s = settings_with("30 6 * * mon-fri", "UTC")
    friday_evening = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)  # a Friday
    assert next_run_time(s, friday_evening) == datetime(2026, 11, 23, 6, 30, tzinfo=UTC)


def test_a_missed_run_is_caught_up_once_however_many_days_were_missed() -> None:
    s = settings_with(tz="UTC")
    last = datetime(2026, 11, 18, 7, 0, 5, tzinfo=UTC)
    now = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)  # three scheduled runs missed
    assert missed_run(s, last, now) == datetime(2026, 11, 19, 7, 0, tzinfo=UTC)
    # After the catch-up run (recorded at `now`), nothing is missed any more.
    assert missed_run(s, now, now + timedelta(minutes=5)) is None
    assert missed_run(s, None, now) is None  # a fresh install has nothing to catch up
    # A run that started on the dot (stored to the second) is that day's run, not a miss.
    on_the_dot = datetime(2026, 11, 21, 7, 0, 0, tzinfo=UTC)
    assert missed_run(s, on_the_dot, datetime(2026, 11, 21, 12, 0, tzinfo=UTC)) is None


def test_nothing_is_missed_before_the_next_scheduled_time() -> None:
    s = settings_with(tz="UTC")
    last = datetime(2026, 11, 21, 7, 0, 3, tzinfo=UTC)
    assert missed_run(s, last, datetime(2026, 11, 22, 6, 59, tzinfo=UTC)) is None


@pytest.mark.parametrize(
    ("cron", "tz", "message"),
    [
        ("0 7 * *", None, "is not a 5-field crontab line"),
        ("61 7 * * *", None, "is not a 5-field crontab line"),
        ("0 7 * * *", "Mars/Olympus", "is not an IANA time zone"),
    ],
)
def test_bad_schedules_are_config_errors(cron: str, tz: str | None, message: str) -> None:
    with pytest.raises(ConfigError, match=message):  # when the settings load, not at use
        settings_with(cron, tz)


def test_the_run_lock_refuses_a_second_holder_and_frees_on_exit(tmp_path: Path) -> None:
    with hold(tmp_path / "x.db", "run"):
        with (
            pytest.raises(LockedError, match=r"already under way \(pid \d+"),
            hold(tmp_path / "x.db", "run"),
        ):
            pass
        with hold(tmp_path / "x.db", "serve"):  # a different lock is free
            pass
    with hold(tmp_path / "x.db", "run"):
        pass


def test_example_crontab_line_is_a_valid_schedule() -> None:
    from apscheduler.triggers.cron import CronTrigger

    lines = [
        line
        for line in (REPO / "examples/cron/digest.crontab").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert len(lines) == 1
    fields = lines[0].split()
    CronTrigger.from_crontab(" ".join(fields[:5]))
    assert "digest" in fields[5:] or any("digest" in f for f in fields[5:])
    assert " run" in lines[0]


def test_example_systemd_units_parse_and_fit_together() -> None:
    units = {}
    for name in ("digest.service", "digest.timer"):
        parser = configparser.ConfigParser(strict=True, interpolation=None)
        parser.optionxform = str  # systemd keys are case-sensitive
        parser.read(REPO / "examples/systemd" / name)
        units[name] = parser
    service, timer = units["digest.service"], units["digest.timer"]
    assert service["Service"]["Type"] == "oneshot"
    assert service["Service"]["ExecStart"].endswith(" run")
    assert timer["Timer"]["Persistent"] == "true"
    assert timer["Timer"]["OnCalendar"] == "*-*-* 07:00:00"
    assert timer["Install"]["WantedBy"] == "timers.target"


def test_example_github_workflow_is_valid_yaml_and_keeps_the_database() -> None:
    workflow = yaml.safe_load((REPO / "examples/github-actions/digest.yml").read_text())
    assert workflow[True]["schedule"][0]["cron"] == "0 7 * * *"  # YAML 1.1 reads `on:` as True
    steps = workflow["jobs"]["digest"]["steps"]
    uses = [s.get("uses", "") for s in steps]
    assert any(u.startswith("actions/cache/restore") for u in uses)
    assert any(u.startswith("actions/cache/save") for u in uses)
    run_step = next(s for s in steps if "digest --config digest.toml run" in s.get("run", ""))
    assert run_step["env"]["DIGEST_DB"] == "state/digest.db"
    assert workflow["concurrency"]["cancel-in-progress"] is False
