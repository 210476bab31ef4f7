"""`digest send` with the default file backend, dry runs, empty digests,
exit codes and what `digest status` says per subscriber."""

from __future__ import annotations

import email
import email.policy
import re
from pathlib import Path

import mail_support
from mail_support import body, delivered, expected_ids, listed_titles, settings_for, titles_of

from digest.mail.delivery import send_digests
from digest.status.readers import reader_lines
from digest.store import open_db
from digest.store.subscribers import save_subscriber
from digest.subscriptions import make_subscriber

library_template, library = mail_support.library_template, mail_support.library


def _read(path: Path) -> email.message.EmailMessage:
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)


def test_default_backend_writes_eml_and_html_into_the_outbox(invoke, library: Path) -> None:
    invoke("subscribe", "ada@example.org", "--tag", "vae", "--max-papers", "3")
    out = invoke("send")
    assert out.exit_code == 0
    (eml,) = Path("outbox").glob("*.eml")
    assert out.stdout == f"ada@example.org: sent 3 papers ({eml})\n1 email sent\n"
    local = _read(eml)["Message-ID"].strip("<>").split("@")[0]
    assert re.fullmatch(r"\d{8}T\d{6}\.\d{6}Z\.[0-9a-f]{10}\.digest", local)
    assert eml.name == f"{local}_ada_example.org.eml"  # sorts by creation time
    html = eml.with_suffix(".html")
    msg = _read(eml)
    assert html.read_text(encoding="utf-8") == body(msg, "html")
    assert listed_titles(msg) == titles_of(library, expected_ids(library, tags=("vae",), cap=3))
    assert sorted(p.name for p in Path("outbox").iterdir()) == sorted([eml.name, html.name])


def test_a_rerun_sends_only_what_is_left(invoke, library: Path) -> None:
    invoke("subscribe", "ada@example.org", "--tag", "vae", "--max-papers", "5")
    vae = expected_ids(library, tags=("vae",), cap=100)
    assert len(vae) == 8
    assert invoke("send").exit_code == 0
    same_day = invoke("send")  # one email per reader per digest day
    assert "nothing new: already sent the digest of" in same_day.stdout
    assert len(list(Path("outbox").glob("*.eml"))) == 1
    assert "sent 3 papers" in invoke("send", "--force").stdout  # the rest of the 8
    again = invoke("send", "--force")
    assert again.stdout == (
        "ada@example.org: nothing new: all 44 new papers filtered out by"
        " tags/keywords\n0 emails sent, 1 with nothing new\n"
    )
    assert delivered(library, "ada@example.org") == sorted(vae)
    assert len(list(Path("outbox").glob("*.eml"))) == 2


def test_dry_run_reports_and_records_nothing(invoke, library: Path) -> None:
    invoke("subscribe", "ada@example.org", "--max-papers", "4")
    invoke("subscribe", "bob@example.org", "--keyword", "zzzznothing")
    out = invoke("send", "--dry-run")
    assert out.exit_code == 0
    assert out.stdout == (
        "ada@example.org: would send 4 papers\n"
        "bob@example.org: nothing new: all 52 new papers filtered out by tags/keywords\n"
        "dry run: 1 email would be sent\n"
    )
    db = open_db(library)
    assert db["deliveries"].count == 0 and db["delivered"].count == 0
    assert not Path("outbox").exists()


def test_subscriber_option_sends_to_that_one_only(invoke, library: Path) -> None:
    invoke("subscribe", "ada@example.org", "--max-papers", "1")
    invoke("subscribe", "bob@example.org", "--max-papers", "1")
    out = invoke("send", "--subscriber", "BOB@example.org")
    assert out.stdout.startswith("bob@example.org: sent 1 paper (")
    assert delivered(library, "ada@example.org") == []
    missing = invoke("send", "--subscriber", "eve@example.org")
    assert (missing.exit_code, missing.stderr) == (
        2,
        "Error: eve@example.org is not a subscriber: add it with"
        " `digest subscribe eve@example.org`\n",
    )
    invoke("unsubscribe", "bob@example.org")
    assert invoke("send", "--subscriber", "bob@example.org").stderr == (
        "Error: bob@example.org unsubscribed: `digest subscribe` it to resume\n"
    )


def test_nothing_new_sends_no_email_unless_send_empty(invoke, library: Path) -> None:
    invoke("subscribe", "ada@example.org", "--keyword", "zzzznothing")
    assert "nothing new" in invoke("send").stdout
    assert not Path("outbox").exists()
    Path("digest.toml").write_text("[digest]\nsend_empty = true\n")
    out = invoke("send")
    assert out.stdout.startswith("ada@example.org: sent 0 papers (")
    (eml,) = Path("outbox").glob("*.eml")
    msg = _read(eml)
    assert msg["Subject"].endswith("(0 papers)")
    assert "No new papers today." in body(msg, "plain")


def test_an_unwritable_outbox_fails_with_exit_1_and_keeps_the_digest(invoke, library: Path) -> None:
    Path("outbox").write_text("a file where the folder should be")
    invoke("subscribe", "ada@example.org", "--max-papers", "2")
    invoke("subscribe", "bob@example.org", "--max-papers", "2")
    out = invoke("send")
    assert out.exit_code == 1
    assert out.stderr.splitlines()[0].startswith(
        "ada@example.org: not sent: cannot write to the outbox outbox: "
    )
    assert out.stderr.splitlines()[1].startswith(
        "bob@example.org: not tried: the mail server is failing (cannot write to the outbox"
    )
    assert out.stdout == "0 emails sent, 2 failed\n"
    Path("outbox").unlink()
    assert invoke("send").exit_code == 0
    (first, second) = sorted(Path("outbox").glob("*.eml"))
    assert {
        _read(first)["To"].addresses[0].addr_spec,
        _read(second)["To"].addresses[0].addr_spec,
    } == {"ada@example.org", "bob@example.org"}


def test_a_retried_digest_rewrites_its_own_file(library: Path, tmp_path: Path) -> None:
    db = open_db(library)
    settings = settings_for(library, outbox_dir=str(tmp_path / "outbox"))
    save_subscriber(
        db, make_subscriber("ada@example.org", vocabulary=settings.vocabulary, max_papers=2)
    )
    assert send_digests(db, settings).sent == 1
    (eml,) = (tmp_path / "outbox").glob("*.eml")
    before = eml.read_bytes()
    # Pretend the commit after writing was lost: the digest is pending again.
    db.execute("DELETE FROM delivered")
    db.execute("UPDATE deliveries SET status = 'pending', sent_at = NULL")
    assert send_digests(db, settings).sent == 1
    assert [p.name for p in (tmp_path / "outbox").glob("*.eml")] == [eml.name]
    assert eml.read_bytes() == before
    assert not list((tmp_path / "outbox").glob(".*"))  # no temporary files left


def test_status_says_per_subscriber_what_happened(invoke, library: Path) -> None:
    invoke("subscribe", "ada@example.org", "--max-papers", "50")
    invoke("subscribe", "bob@example.org", "--keyword", "zzzznothing")
    invoke("subscribe", "carol@example.org", "--max-papers", "2")
    invoke("subscribe", "dan@example.org")
    invoke("unsubscribe", "dan@example.org")
    db = open_db(library)
    lines = reader_lines(db, settings_for(library))
    assert lines == [
        "ada@example.org: never emailed; 52 papers pending",
        "bob@example.org: never emailed; nothing pending: all 52 new papers filtered out by"
        " tags/keywords",
        "carol@example.org: never emailed; 52 papers pending",
        "dan@example.org: unsubscribed",
    ]
    invoke("send")
    lines = reader_lines(db, settings_for(library))
    assert lines[0].startswith("ada@example.org: last email ")
    assert lines[0].endswith(" UTC (50 papers); 2 papers pending")
    assert lines[2].endswith(" UTC (2 papers); 50 papers pending")
    db.execute("DELETE FROM summaries")
    invoke("subscribe", "eve@example.org")
    assert reader_lines(db, settings_for(library))[4] == (
        "eve@example.org: never emailed; nothing pending: no new papers yet (52 wait for a summary)"
    )


def test_status_with_no_subscribers(library: Path) -> None:
    assert reader_lines(open_db(library), settings_for(library)) == [
        "no subscribers: add one with `digest subscribe EMAIL`"
    ]
