"""`digest run`: one idempotent pass, recorded, with exit codes that mean something."""

from __future__ import annotations

import email
import email.policy
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import Result

from digest.locks import hold
from digest.store import open_db


def today() -> str:
    """The digest day now (UTC: no time zone is configured), asked when used,
    not at import: a suite that runs across midnight must not go wrong."""
    return datetime.now(UTC).date().isoformat()


def run_day(result: Result, before: str) -> str:
    """The digest day a run reported, checked against the clock read before and
    after it: a run across midnight UTC may report either day, never another."""
    found = re.search(r"(?m)^run (\d{4}-\d\d-\d\d): ", result.stdout)
    assert found, result.output
    assert found.group(1) in {before, today()}, (found.group(1), before)
    return found.group(1)


def same_day(before: str) -> None:
    """Several runs meant for one digest day: a test that ran across midnight UTC
    made two days of them, which proves nothing either way."""
    if today() != before:
        pytest.skip("the test ran across midnight UTC")


def configure(seeds: Path, extra: str = "") -> None:
    Path("digest.toml").write_text(
        f'[sources]\ndumps = ["{seeds}"]\n[digest]\nmax_papers = 1000\n{extra}', encoding="utf-8"
    )


def outbox_messages() -> list[email.message.EmailMessage]:
    return [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        for p in sorted(Path("outbox").glob("*.eml"))
    ]


def test_run_ingests_summarises_mails_and_writes_the_days_digest(invoke, seeds: Path) -> None:
    configure(seeds)
    assert invoke("subscribe", "ada@example.org").exit_code == 0
    before = today()
    result = invoke("run")
    assert result.exit_code == 0, result.output
    day = run_day(result, before)
    assert result.stdout.strip().endswith(
        f"run {day}: 540 new papers, 540 summarised, 1 email sent, 0 failed"
    )
    assert f"digest: digests/{day}.md" in result.stdout
    digest_md = Path("digests", f"{day}.md").read_text(encoding="utf-8")
    # The day's best 200 ([digest] max_digest_papers), and how many more there were.
    assert len(re.findall(r"(?m)^## \d+\. ", digest_md)) == 200
    assert "· 200 of 540 papers ·" in digest_md
    assert f"…and 340 more papers first seen since {day}, not shown here" in digest_md
    [message] = outbox_messages()
    assert message["To"] == "ada@example.org"
    run = list(open_db("digest.db").query("SELECT * FROM runs"))[-1]
    assert run["status"] == "ok" and run["papers_new"] == 540 and run["emails_sent"] == 1


def test_second_run_finds_nothing_new_and_sends_nothing(invoke, seeds: Path) -> None:
    configure(seeds)
    invoke("subscribe", "ada@example.org")
    before = today()
    invoke("run")
    again = invoke("run")
    same_day(before)
    assert again.exit_code == 0
    assert f"run {before}: 0 new papers, 0 summarised, 0 emails sent, 0 failed" in again.stdout
    assert len(outbox_messages()) == 1


def test_a_new_dump_is_picked_up_with_only_its_new_papers(invoke, seeds: Path) -> None:
    configure(seeds)
    invoke("subscribe", "ada@example.org")
    before = today()
    invoke("run")
    known = (seeds / "001_f241505a523fd2a8.txt").read_text(encoding="utf-8").split("\n\n")
    fresh = (
        "A Brand New Paper on Sparse Diffusion\n"
        "We propose sparse diffusion. It halves sampling cost on ImageNet.\n"
        f"{known[6]}\n{known[7]}\n"  # a paper seen before
        "Another Fresh Result in Graph Learning\n"
        "We introduce a graph model. It beats baselines on molecules.\n"
    )
    (seeds / "004_new.txt").write_text(fresh, encoding="utf-8")
    result = invoke("run", "--force")  # a second email the same digest day
    same_day(before)
    assert f"run {before}: 2 new papers, 2 summarised, 1 email sent, 0 failed" in result.stdout
    latest = outbox_messages()[-1]
    text = latest.get_body(preferencelist=("plain",)).get_content()
    assert "A Brand New Paper on Sparse Diffusion" in text
    assert "Another Fresh Result in Graph Learning" in text
    assert known[6].strip() not in text


def test_a_bad_dump_makes_the_run_partial_but_the_rest_is_done(invoke, seeds: Path) -> None:
    configure(seeds)
    (seeds / "junk.txt").write_bytes(b"\x00\x01binary")
    result = invoke("run")
    assert result.exit_code == 1
    assert "junk.txt: binary data" in result.stderr
    assert "540 new papers, 540 summarised" in result.stdout
    run = list(open_db("digest.db").query("SELECT * FROM runs"))[-1]
    assert run["status"] == "partial" and "junk.txt" in json.loads(run["errors"])[0]


def test_configuration_errors_exit_2(invoke, seeds: Path) -> None:
    configure(seeds, "[llm]\nbackend = 'offline'\nconcurrency = -1\n")
    result = invoke("run")
    assert result.exit_code == 2
    assert "[llm] concurrency must be greater than 0" in result.stderr


def test_a_run_refuses_while_another_is_under_way(invoke, seeds: Path) -> None:
    configure(seeds)
    with hold("digest.db", "run"):
        result = invoke("run")
    assert result.exit_code == 1
    assert "a digest run is already under way (pid" in result.stderr
    assert not Path("digests").exists()


def test_nothing_to_do_is_success(invoke) -> None:
    before = today()
    result = invoke("run")
    assert result.exit_code == 0
    day = run_day(result, before)
    assert f"run {day}: 0 new papers, 0 summarised, 0 emails sent, 0 failed" in result.stdout
    assert "no sources configured" in result.stderr


def test_a_dead_model_server_still_lets_the_days_email_go_out(invoke, seeds: Path) -> None:
    # No retries of the refused connection: the SDK's back-off is not this test's subject.
    configure(
        seeds, '[llm]\nbackend = "openai"\nbase_url = "http://127.0.0.1:9/v1"\nmax_retries = 0\n'
    )
    invoke("subscribe", "ada@example.org")
    result = invoke("run")
    assert result.exit_code == 1
    assert "cannot reach the model server at http://127.0.0.1:9/v1" in result.stderr
    assert "540 papers got offline summaries for now" in result.stderr
    assert "540 new papers, 540 summarised (540 offline fallbacks), 1 email sent" in result.stdout
    [message] = outbox_messages()
    html = message.get_body(preferencelist=("html",)).get_content()
    banner = "Today's summaries are extracts from the abstracts: the summarising model was"
    assert html.count(banner) == 1  # one banner for readers, no operator error text
    assert "127.0.0.1:9" not in html and "openai" not in html.lower()
    fallbacks = (
        open_db("digest.db")
        .execute("SELECT COUNT(*) FROM summaries WHERE fallback_from = 'openai:gpt-4o-mini'")
        .fetchone()[0]
    )
    assert fallbacks == 540


def test_configuration_found_wrong_at_start_stops_the_run_with_exit_2(invoke, seeds: Path) -> None:
    configure(seeds, '[email]\nfrom = "nobody"\n')
    result = invoke("run")
    assert result.exit_code == 2
    assert "[email] from" in result.stderr
    assert not Path("digest.db").exists() or not list(
        open_db("digest.db").query("SELECT * FROM runs")
    )  # nothing was started


def test_unusable_paths_are_one_line_errors(invoke, seeds: Path) -> None:
    configure(seeds)
    result = invoke("--db", "/nonexistent/x.db", "run")
    assert result.exit_code == 2 and "folder /nonexistent for the database does not exist" in (
        result.stderr
    )
    served = invoke("serve", "--log-file", "/nonexistent/d/x.log")
    assert served.exit_code == 2 and "cannot write the log file" in served.stderr
    assert "Traceback" not in result.output + served.output


def test_mail_and_template_mistakes_stop_the_run_before_any_work(
    invoke, seeds: Path, tmp_path: Path
) -> None:
    configure(seeds, '[email]\nbackend = "smtp"\n')
    no_host = invoke("run")
    assert no_host.exit_code == 2 and "needs smtp_host" in no_host.stderr
    own = tmp_path / "mine"
    own.mkdir()
    (own / "email.txt.j2").write_text("{% for p in papers %}{{ p.title }\n", encoding="utf-8")
    Path("digest.toml").write_text(
        f'[sources]\ndumps = ["{seeds}"]\n[digest]\ntemplates_dir = "{own}"\n', encoding="utf-8"
    )
    bad_template = invoke("run")
    assert bad_template.exit_code == 2 and "email.txt.j2 line 1" in bad_template.stderr
    assert not Path("digest.db").exists() or open_db("digest.db")["papers"].count == 0
