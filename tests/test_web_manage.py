"""The manage page behind the signed link in every email: change topics,
keywords and cadence, pause and resume, unsubscribe; hostile posts change nothing."""

from __future__ import annotations

from pathlib import Path

import mail_support
from mail_support import settings_for
from web_support import SECRET, csrf_of, running_web

from digest.signing import make_token
from digest.store import open_db
from digest.store.delivery_stats import delivery_summary
from digest.store.subscribers import get_subscriber, save_subscriber
from digest.subscriptions import make_subscriber

library_template, library = mail_support.library_template, mail_support.library


def _reader(db_path: Path) -> tuple[str, str]:
    db = open_db(db_path)
    save_subscriber(db, make_subscriber("ada@example.org", vocabulary=["llm"], tags=["llm"]))
    sub = get_subscriber(db, "ada@example.org")
    return (
        make_token(SECRET, "manage", sub.id or 0, sub.token_version),
        make_token(SECRET, "unsubscribe", sub.id or 0, sub.token_version),
    )


def test_a_reader_changes_topics_cadence_and_cap_then_pauses_and_resumes(library: Path) -> None:
    manage, _ = _reader(library)
    with running_web(settings_for(library)) as site, site.client() as client:
        page = client.get(f"/m/{manage}")
        assert page.status_code == 200
        assert "ada@example.org" in page.text
        assert 'value="llm" checked' in page.text
        csrf = csrf_of(page.text)
        saved = client.post(
            f"/m/{manage}",
            data={
                "csrf": csrf,
                "action": "save",
                "name": "Ada",
                "tags": ["diffusion", "3d"],
                "keywords": "gaussian splatting",
                "frequency": "weekly",
                "weekday": "fri",
                "max_papers": "5",
            },
        )
        assert saved.status_code == 200 and "Saved." in saved.text
        sub = get_subscriber(open_db(library), "ada@example.org")
        assert (sub.name, sub.tags, sub.keywords) == (
            "Ada",
            ("diffusion", "3d"),
            ("gaussian splatting",),
        )
        assert (sub.frequency, sub.weekday, sub.max_papers, sub.active) == (
            "weekly",
            "fri",
            5,
            True,
        )
        paused = client.post(f"/m/{manage}", data={"csrf": csrf, "action": "pause"})
        assert "Resume emails" in paused.text
        assert get_subscriber(open_db(library), "ada@example.org").active is False
        client.post(f"/m/{manage}", data={"csrf": csrf, "action": "resume"})
        assert get_subscriber(open_db(library), "ada@example.org").active is True


def test_unsubscribing_from_the_manage_page_retires_its_link(library: Path) -> None:
    manage, one_click = _reader(library)
    with running_web(settings_for(library)) as site, site.client() as client:
        csrf = csrf_of(client.get(f"/m/{manage}").text)
        left = client.post(f"/m/{manage}", data={"csrf": csrf, "action": "unsubscribe"})
        assert left.status_code == 200 and "You are unsubscribed" in left.text
        assert get_subscriber(open_db(library), "ada@example.org").active is False
        assert client.get(f"/m/{manage}").status_code == 410  # a reused link
        replay = client.post(f"/m/{manage}", data={"csrf": csrf, "action": "resume"})
        assert replay.status_code == 410
        assert client.post(f"/u/{one_click}").status_code == 200  # still "unsubscribed"
    assert get_subscriber(open_db(library), "ada@example.org").active is False


def test_hostile_manage_posts_change_nothing(library: Path) -> None:
    manage, one_click = _reader(library)
    with running_web(settings_for(library)) as site, site.client() as client:
        csrf = csrf_of(client.get(f"/m/{manage}").text)
        with site.client() as stranger:  # no cookie: a cross-site forgery
            forged = stranger.post(f"/m/{manage}", data={"csrf": csrf, "action": "unsubscribe"})
            assert forged.status_code == 403
        wrong_purpose = client.get(f"/m/{one_click}")
        assert wrong_purpose.status_code == 400
        bad = client.post(
            f"/m/{manage}",
            data={"csrf": csrf, "action": "save", "keywords": "<script>alert(1)</script>" * 10},
        )
        assert bad.status_code == 400 and "<script>alert(1)" not in bad.text
        cap = client.post(f"/m/{manage}", data={"csrf": csrf, "action": "save", "max_papers": "-1"})
        assert cap.status_code == 400 and "1 to 1000" in cap.text
        odd = client.post(f"/m/{manage}", data={"csrf": csrf, "action": "drop tables"})
        assert odd.status_code == 400
        markup = client.post(
            f"/m/{manage}", data={"csrf": csrf, "action": "save", "name": '"><b>x</b>'}
        )
        assert markup.status_code == 200 and "&#34;&gt;&lt;b&gt;x" in markup.text
    sub = get_subscriber(open_db(library), "ada@example.org")
    assert sub.active and sub.tags == () and sub.name == '"><b>x</b>'


def test_a_reader_who_paused_is_paused_to_the_operator_and_resumes_with_their_filters(
    library: Path, invoke
) -> None:  # noqa: ANN001
    d = ["--db", str(library)]
    filters = "tags: llm; keywords: agents; at most 7 papers"
    invoke(*d, "subscribe", "ada@example.org", "--name", "Ada", "--tag", "llm")
    invoke(*d, "subscribe", "ada@example.org", "--keyword", "agents", "--max-papers", "7")
    sub = get_subscriber(open_db(library), "ada@example.org")
    assert (sub.name, sub.tags, sub.keywords, sub.max_papers) == ("Ada", ("llm",), ("agents",), 7)
    manage = make_token(SECRET, "manage", sub.id or 0, sub.token_version)
    with running_web(settings_for(library)) as site, site.client() as client:
        csrf = csrf_of(client.get(f"/m/{manage}").text)
        client.post(f"/m/{manage}", data={"csrf": csrf, "action": "pause"})
        form = {"name": "Ada", "tags": "llm", "keywords": "agents", "max_papers": "7"}
        saved = client.post(f"/m/{manage}", data={"csrf": csrf, "action": "save", **form})
        assert saved.status_code == 200 and "Resume emails" in saved.text  # still paused
    assert invoke(*d, "subscribers").stdout == f"ada@example.org (Ada): {filters}  (paused)\n"
    assert (
        "ada@example.org: paused" in invoke(*d, "status", "--subscriber", "ada@example.org").stdout
    )
    assert delivery_summary(open_db(library))["paused"] == 1
    send = invoke(*d, "send", "--subscriber", "ada@example.org")
    assert send.exit_code == 1 and "paused their emails" in send.stderr
    assert "unsubscribed" not in send.stderr
    resumed = invoke(*d, "subscribe", "ada@example.org")
    assert resumed.stdout == f"resumed ada@example.org ({filters})\n"
    # Leaving and coming back keeps them too; options given change only themselves.
    invoke(*d, "unsubscribe", "ada@example.org")
    assert invoke(*d, "subscribers").stdout.endswith("  (unsubscribed)\n")
    back = invoke(*d, "subscribe", "ada@example.org", "--max-papers", "3")
    assert (
        back.stdout == "resumed ada@example.org (tags: llm; keywords: agents; at most 3 papers)\n"
    )
    sub = get_subscriber(open_db(library), "ada@example.org")
    assert (sub.name, sub.active, sub.paused) == ("Ada", True, False)
    fresh = invoke(*d, "subscribe", "ada@example.org", "--reset", "--tag", "3d")
    assert fresh.stdout == "updated ada@example.org (tags: 3d)\n"
    assert get_subscriber(open_db(library), "ada@example.org").name is None


def test_the_manage_page_saves_whatever_papers_per_email_the_operator_set(
    library: Path, invoke
) -> None:  # noqa: ANN001
    # One limit for `digest subscribe --max-papers` and the form, and a stored value
    # above it (written before the limit existed) saves unchanged.
    assert invoke("--db", str(library), "subscribe", "ada@example.org", "--max-papers", "500")
    refused = invoke("--db", str(library), "subscribe", "ada@example.org", "--max-papers", "1001")
    assert refused.exit_code == 2 and "1<=x<=1000" in refused.stderr
    db = open_db(library)
    save_subscriber(db, make_subscriber("old@example.org", vocabulary=[], max_papers=5000))
    for address, cap in (("ada@example.org", "500"), ("old@example.org", "5000")):
        sub = get_subscriber(db, address)
        manage = make_token(SECRET, "manage", sub.id or 0, sub.token_version)
        with running_web(settings_for(library)) as site, site.client() as client:
            page = client.get(f"/m/{manage}")
            assert f'max="{max(int(cap), 1000)}" value="{cap}"' in page.text
            form = {"csrf": csrf_of(page.text), "action": "save", "name": "Ada"}
            saved = client.post(f"/m/{manage}", data={**form, "max_papers": cap})
            assert saved.status_code == 200 and "Saved." in saved.text
            assert get_subscriber(open_db(library), address).name == "Ada"
            over = client.post(f"/m/{manage}", data={**form, "max_papers": "1001"})
            assert over.status_code == 400 and "a whole number from 1 to 1000" in over.text
        assert get_subscriber(open_db(library), address).max_papers == int(cap)
