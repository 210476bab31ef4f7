"""Live sources from the command line and in the daily run, against a loopback server."""

from __future__ import annotations

import json
from pathlib import Path

from payload_server import PayloadServer, Reply

DAY = "2025-09-09"


def configure(server: PayloadServer, extra: str = "") -> None:
    Path("digest.toml").write_text(
        f'[sources]\nhf_daily = true\nhf_base_url = "{server.url}"\n'
        f'arxiv_base_url = "{server.url}"\n{extra}',
        encoding="utf-8",
    )


def test_ingest_source_hf_fetches_one_day(invoke, server: PayloadServer) -> None:
    configure(server)
    result = invoke("ingest", "--source", "hf", "--date", DAY, "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["new"] == 16 and out["files"][0]["error"] is None
    rows = json.loads(invoke("papers", "--json", "--limit", "1").stdout)
    assert rows[0]["url"].startswith("https://huggingface.co/papers/") and rows[0]["authors"]
    assert rows[0]["upvotes"] == max(
        r["upvotes"] for r in json.loads(invoke("papers", "--json", "--limit", "100").stdout)
    )
    again = invoke("ingest", "--source", "hf", "--date", DAY, "--json")
    assert json.loads(again.stdout)["new"] == 0


def test_ingest_source_options_are_checked(invoke, server: PayloadServer) -> None:
    configure(server)
    both = invoke("ingest", "--source", "hf", "--date", DAY, "--since", DAY)
    assert both.exit_code == 2 and "give --date or --since, not both" in both.stderr
    dumps_with_date = invoke("ingest", "somewhere", "--date", DAY)
    assert dumps_with_date.exit_code == 2 and "--source hf or arxiv" in dumps_with_date.stderr
    bad = invoke("ingest", "--source", "hf", "--date", "09/09/2025")
    assert bad.exit_code == 2 and "use YYYY-MM-DD" in bad.stderr


def test_an_outage_of_a_source_is_reported_and_the_run_goes_on(
    invoke, server: PayloadServer, seeds: Path
) -> None:
    # Looking up links for the dump papers (paced searches) is another test's subject.
    configure(server, f'dumps = ["{seeds}"]\nresolve_links = false\n')
    outage = Reply(503, b"<html>down for maintenance</html>", {"Retry-After": "0"})
    for _ in range(20):
        server.inject("/api/daily_papers", outage)
    result = invoke("run")
    assert result.exit_code == 1
    assert "540 new papers, 540 summarised" in result.stdout
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors and all("hf" in line.lower() or "hugging face" in line.lower() for line in errors)
    assert "Traceback" not in result.output
