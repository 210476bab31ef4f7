"""Thumbs links in the email: signed per reader and paper, a GET that only shows
a button (scanners vote for nobody), a POST that records once, undo, and the
next email's order."""

from __future__ import annotations

import email
import email.policy
import re
from pathlib import Path

import mail_support
import pytest
from mail_support import body, settings_for
from web_support import SECRET, running_web

from digest.mail.delivery import send_digests
from digest.signing import TokenError, make_token, make_vote_token, read_vote_token
from digest.store import open_db
from digest.store.feedback import votes
from digest.store.subscribers import get_subscriber, save_subscriber
from digest.subscriptions import make_subscriber

library_template, library = mail_support.library_template, mail_support.library


def _outbox(folder: Path) -> list[email.message.EmailMessage]:
    return [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        for p in sorted(folder.glob("*.eml"))
    ]


def _send(settings, **kwargs):  # noqa: ANN001, ANN003
    db = open_db(settings.db)
    try:
        return send_digests(db, settings, **kwargs)
    finally:
        db.conn.close()


def _votes(db_path: Path, address: str) -> list[tuple[int, int, str]]:
    db = open_db(db_path)
    sub = get_subscriber(db, address)
    return [(v.paper_id, v.vote, v.source) for v in votes(db, sub.id)]


@pytest.fixture
def site_and_mail(library: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DIGEST_WEB_SECRET", SECRET)
    db = open_db(library)
    save_subscriber(db, make_subscriber("ada@example.org", vocabulary=[], max_papers=3))
    db.conn.close()
    settings = settings_for(library, outbox_dir=str(tmp_path / "out"))
    with running_web(settings) as site:
        assert _send(settings).sent == 1
        (msg,) = _outbox(tmp_path / "out")
        yield site, settings, msg


def test_every_paper_has_signed_thumbs_links_in_both_parts(site_and_mail) -> None:
    site, _, msg = site_and_mail
    text, html = body(msg, "plain"), body(msg, "html")
    ups = re.findall(r"More like this: (\S+)", text)
    downs = re.findall(r"Less like this: (\S+)", text)
    assert len(ups) == len(downs) == 3
    for link in ups + downs:
        assert link.startswith(site.url + "/v/")
        assert link in html
    read = [read_vote_token(SECRET, u.rsplit("/", 1)[1]) for u in ups]
    assert [t.vote for t in read] == [1, 1, 1]
    assert read_vote_token(SECRET, downs[0].rsplit("/", 1)[1]).vote == -1
    assert len({t.paper for t in read}) == 3


def test_a_get_only_shows_a_button_and_two_clicks_are_one_vote(site_and_mail, library) -> None:
    site, _, msg = site_and_mail
    up = re.findall(r"More like this: (\S+)", body(msg, "plain"))[0]
    paper = read_vote_token(SECRET, up.rsplit("/", 1)[1]).paper
    with site.client() as client:
        page = client.get(up)
        assert page.status_code == 200
        assert "More papers like this?" in page.text and '<form method="post"' in page.text
        assert _votes(library, "ada@example.org") == []  # a scanner's GET votes for nobody
        first = client.post(up)
        second = client.post(up)
        assert first.status_code == second.status_code == 200
        assert "will come first" in second.text
        assert _votes(library, "ada@example.org") == [(paper, 1, "email")]
        assert "You already said so" in client.get(up).text
        undone = client.post(up, data={"undo": "1"})
        assert "Vote undone" in undone.text
        assert _votes(library, "ada@example.org") == []


def test_a_thumbs_down_replaces_a_thumbs_up(site_and_mail, library) -> None:
    site, _, msg = site_and_mail
    text = body(msg, "plain")
    up = re.findall(r"More like this: (\S+)", text)[1]
    down = re.findall(r"Less like this: (\S+)", text)[1]
    with site.client() as client:
        client.post(up)
        assert "will come later" in client.post(down).text
    paper = read_vote_token(SECRET, down.rsplit("/", 1)[1]).paper
    assert _votes(library, "ada@example.org") == [(paper, -1, "email")]


def test_forged_foreign_and_stale_vote_links_are_refused(site_and_mail, library) -> None:
    site, _, msg = site_and_mail
    sub = get_subscriber(open_db(library), "ada@example.org")
    forged = make_vote_token("another-key-0123456789abcdef", sub.id, 0, 1, 1)
    manage = make_token(SECRET, "manage", sub.id, 0)  # a token made for something else
    stale = make_vote_token(SECRET, sub.id, sub.token_version + 1, 1, 1)
    nobody = make_vote_token(SECRET, 999, 0, 1, 1)
    with site.client() as client:
        for token, status in ((forged, 400), (manage, 400), (stale, 410), (nobody, 410)):
            answer = client.post(f"/v/{token}")
            assert answer.status_code == status, token
        assert client.post("/v/x", content=b"x" * 20_000,
                           headers={"content-type": "application/x-www-form-urlencoded"}
                           ).status_code in (400, 413)  # fmt: skip
    assert _votes(library, "ada@example.org") == []
    with pytest.raises(TokenError):
        read_vote_token(SECRET, manage)


def test_a_thumbs_up_in_the_email_changes_the_next_emails_order(site_and_mail, library) -> None:
    site, settings, msg = site_and_mail
    up = re.findall(r"More like this: (\S+)", body(msg, "plain"))[0]
    with site.client() as client:
        client.post(up)
    assert _send(settings, force=True).sent == 1
    second = _outbox(Path(settings.email.outbox_dir))[-1]
    assert "which you liked" in body(second, "plain")


def test_without_a_web_the_email_has_no_thumbs_links(library: Path, tmp_path: Path) -> None:
    db = open_db(library)
    save_subscriber(db, make_subscriber("ada@example.org", vocabulary=[], max_papers=2))
    settings = settings_for(library, outbox_dir=str(tmp_path / "out"))
    assert send_digests(db, settings).sent == 1
    (msg,) = _outbox(tmp_path / "out")
    assert "More like this" not in body(msg, "plain")
    assert "/v/" not in body(msg, "html")


def test_the_manage_page_edits_interests_lists_thumbs_and_undoes_one(library: Path) -> None:
    from web_support import csrf_of

    from digest.signing import make_token
    from digest.store.feedback import set_vote

    db = open_db(library)
    save_subscriber(
        db,
        make_subscriber(
            "ada@example.org", vocabulary=[], interests="graph networks", min_relevance=0.04
        ),
    )
    sub = get_subscriber(db, "ada@example.org")
    titles = dict(db.execute("SELECT id, title FROM papers WHERE id IN (2, 5)").fetchall())
    set_vote(db, sub.id, 2, 1, "email")
    set_vote(db, sub.id, 5, -1, "email")
    manage = make_token(SECRET, "manage", sub.id, sub.token_version)
    with running_web(settings_for(library)) as site, site.client() as client:
        page = client.get(f"/m/{manage}")
        assert ">graph networks</textarea>" in page.text
        assert page.text.count('value="undo_vote"') == 2
        assert f"More like this: “{titles[2]}”" in page.text
        assert f"Less like this: “{titles[5]}”" in page.text
        csrf = csrf_of(page.text)
        undone = client.post(
            f"/m/{manage}", data={"csrf": csrf, "action": "undo_vote", "paper": "5"}
        )
        assert f"Your vote on “{titles[5]}” is undone." in undone.text
        assert _votes(library, "ada@example.org") == [(2, 1, "email")]
        again = client.post(
            f"/m/{manage}", data={"csrf": csrf, "action": "undo_vote", "paper": "5"}
        )
        assert again.status_code == 400 and "already gone" in again.text
        no_csrf = client.post(f"/m/{manage}", data={"action": "undo_vote", "paper": "2"})
        assert no_csrf.status_code == 403
        saved = client.post(
            f"/m/{manage}",
            data={"csrf": csrf, "action": "save", "interests": "  text VAEs,  diffusion "},
        )
        assert "Saved." in saved.text
    after = get_subscriber(open_db(library), "ada@example.org")
    assert (after.interests, after.min_relevance) == ("text VAEs, diffusion", 0.04)
    assert _votes(library, "ada@example.org") == [(2, 1, "email")]
