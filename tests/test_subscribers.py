"""Subscribers: validated addresses, one row per address, config seeding, and
which papers each one is due."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import mail_support
import pytest
from mail_support import LATER_DUMP, add_papers, expected_ids, settings_for

from digest.config import Settings, load_settings
from digest.errors import ConfigError, DigestError
from digest.roster import limits, nothing_due, sync_config_subscribers
from digest.store import open_db
from digest.store.due import select_papers
from digest.store.subscribers import (
    get_subscriber,
    save_subscriber,
    unsubscribe,
)
from digest.subscriptions import make_subscriber, normalize_email

VOCAB = Settings().vocabulary

# Fixtures: a private, summarised copy of the first seed dump per test.
library_template, library = mail_support.library_template, mail_support.library


@pytest.mark.parametrize(
    "address",
    [
        "ada@example.org",
        "Ada.Lovelace+digest@Mail.Example.ORG",
        "o'brien@example.co.uk",
        "x@localhost",
    ],
)
def test_valid_addresses_are_accepted_and_lowercased(address: str) -> None:
    assert normalize_email(f"  {address} ") == address.lower()


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("", "empty"),
        ("ada", "exactly one @"),
        ("ada@@example.org", "exactly one @"),
        ("Ada <ada@example.org>", "without a name"),
        ("ada@example.org, bob@example.org", "without a name"),
        ("ada..x@example.org", "part before @"),
        ("ada@-example.org", "part after @"),
        ("ada@example..org", "part after @"),
        ("ada@exämple.org", "ASCII"),
        ("ada@example.org\nBcc: eve@example.org", "without a name"),
    ],
)
def test_invalid_addresses_are_refused_with_the_reason(address: str, why: str) -> None:
    with pytest.raises(DigestError, match="is not an email address") as caught:
        normalize_email(address)
    assert why in str(caught.value)


def test_subscribing_twice_updates_the_one_row(library: Path) -> None:
    db = open_db(library)
    first, what = save_subscriber(
        db, make_subscriber("ada@example.org", vocabulary=VOCAB, tags=["vae"])
    )
    assert what == "created"
    again, what = save_subscriber(
        db, make_subscriber("ADA@example.org", vocabulary=VOCAB, name="Ada", keywords=["flow"])
    )
    assert (again, what) == (first, "updated")
    sub = get_subscriber(db, "ada@example.org")
    assert (sub.name, sub.tags, sub.keywords) == ("Ada", (), ("flow",))
    assert db["subscribers"].count == 1


def test_unknown_tag_is_refused_with_a_suggestion() -> None:
    with pytest.raises(DigestError, match="unknown tag 'difusion': did you mean 'diffusion'"):
        make_subscriber("ada@example.org", vocabulary=VOCAB, tags=["difusion"])


def test_cli_subscribe_list_and_unsubscribe(invoke) -> None:
    out = invoke(
        "subscribe",
        "Ada@Example.org",
        "--name",
        "Ada",
        "--tag",
        "vae",
        "--keyword",
        "sparse autoencoder",
        "--max-papers",
        "5",
    )
    assert out.exit_code == 0
    assert out.stdout == (
        "subscribed ada@example.org (tags: vae; keywords: sparse autoencoder; at most 5 papers)\n"
    )
    assert invoke("subscribe", "bob@example.org").stdout == "subscribed bob@example.org\n"
    listed = json.loads(invoke("subscribers", "--json").stdout)
    assert [(s["email"], s["tags"], s["max_papers"], s["active"]) for s in listed] == [
        ("ada@example.org", ["vae"], 5, True),
        ("bob@example.org", [], None, True),
    ]
    assert invoke("unsubscribe", "bob@example.org").stdout == "unsubscribed bob@example.org\n"
    assert invoke("unsubscribe", "bob@example.org").stdout == (
        "bob@example.org was already unsubscribed\n"
    )
    assert invoke("subscribers").stdout == (
        "ada@example.org (Ada): tags: vae; keywords: sparse autoencoder; at most 5 papers\n"
        "bob@example.org: every new paper  (unsubscribed)\n"
    )


def test_cli_bad_address_is_one_line_and_stores_nothing(invoke) -> None:
    out = invoke("subscribe", "not-an-address")
    assert out.exit_code == 2
    assert out.stderr == (
        "Error: 'not-an-address' is not an email address: an address has exactly one @\n"
    )
    ghost = invoke("unsubscribe", "ghost@example.org")
    assert ghost.exit_code == 2  # a usage error, like an unknown --subscriber
    assert (
        ghost.stderr == "Error: ghost@example.org is not a subscriber: see `digest subscribers`\n"
    )
    assert invoke("subscribers").stderr.startswith("no subscribers")


def test_config_subscribers_are_seeded_and_updated(tmp_path: Path) -> None:
    config = tmp_path / "digest.toml"
    config.write_text(
        '[[subscribers]]\nemail = "ada@example.org"\ntags = ["vae"]\n'
        '[[subscribers]]\nemail = "bob@example.org"\nmax_papers = 3\n'
    )
    db = open_db(tmp_path / "digest.db")
    changes = sync_config_subscribers(db, load_settings(str(config)))
    assert changes == [
        f"created ada@example.org from {config}",
        f"created bob@example.org from {config}",
    ]
    assert sync_config_subscribers(db, load_settings(str(config))) == []
    config.write_text('[[subscribers]]\nemail = "ada@example.org"\ntags = ["diffusion"]\n')
    assert sync_config_subscribers(db, load_settings(str(config))) == [
        f"updated ada@example.org from {config}"
    ]
    assert get_subscriber(db, "ada@example.org").tags == ("diffusion",)


def test_an_unsubscribe_sticks_even_when_the_config_lists_the_address(tmp_path: Path) -> None:
    config = tmp_path / "digest.toml"
    config.write_text('[[subscribers]]\nemail = "ada@example.org"\n')
    db = open_db(tmp_path / "digest.db")
    settings = load_settings(str(config))
    sync_config_subscribers(db, settings)
    unsubscribe(db, "ada@example.org")
    sync_config_subscribers(db, settings)
    assert get_subscriber(db, "ada@example.org").active is False


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('email = "ada@example.org"\ntag = ["vae"]', "unknown key 'tag' (did you mean 'tags'?)"),
        ('name = "Ada"', 'needs email = "address"'),
        ('email = "ada"', "ada: 'ada' is not an email address"),
        ('email = "ada@example.org"\ntags = "vae"', "tags must be a list of strings"),
        ('email = "ada@example.org"\ntags = ["nope"]', "unknown tag 'nope'"),
        ('email = "ada@example.org"\nmax_papers = 0', "max papers must be a whole number"),
        ('email = "ada@example.org"\nmax_papers = "5"', "max_papers must be a whole number"),
        ('email = "ada@example.org"\nactive = "yes"', "active must be true or false"),
    ],
)
def test_bad_config_subscribers_are_named_clearly(tmp_path: Path, body: str, message: str) -> None:
    config = tmp_path / "digest.toml"
    config.write_text(f"[[subscribers]]\n{body}\n")
    with pytest.raises(ConfigError) as caught:
        sync_config_subscribers(open_db(tmp_path / "x.db"), load_settings(str(config)))
    assert str(caught.value).startswith(f"{config}:1: [[subscribers]]")  # the entry's line
    assert message in str(caught.value)


def test_the_same_address_twice_in_the_config_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "digest.toml"
    config.write_text(
        '[[subscribers]]\nemail = "ada@example.org"\n[[subscribers]]\nemail = "ADA@example.org"\n'
    )
    with pytest.raises(ConfigError, match=r"digest.toml:3: ada@example.org is listed twice"):
        sync_config_subscribers(open_db(tmp_path / "x.db"), load_settings(str(config)))


def _subscribe(db, email: str, **filters):  # noqa: ANN001, ANN202
    save_subscriber(db, make_subscriber(email, vocabulary=VOCAB, **filters))
    return get_subscriber(db, email)


def test_filters_select_tags_any_excluded_none_keywords_any(library: Path) -> None:
    db = open_db(library)
    settings = settings_for(library)
    now = datetime.now(UTC)
    cases = [
        ({}, {}),
        ({"tags": ["vae", "causality"]}, {"tags": ("vae", "causality")}),
        ({"exclude_tags": ["representation-learning"]}, {"exclude": ("representation-learning",)}),
        (
            {"keywords": ["language model", "sparse autoencoder"]},
            {"keywords": ("language model", "sparse autoencoder")},
        ),
        (
            {"tags": ["llm"], "exclude_tags": ["alignment"], "keywords": ["reasoning"]},
            {"tags": ("llm",), "exclude": ("alignment",), "keywords": ("reasoning",)},
        ),
    ]
    for n, (filters, oracle) in enumerate(cases):
        sub = _subscribe(db, f"reader{n}@example.org", max_papers=100, **filters)
        got = select_papers(db, sub, now, limits(settings)).paper_ids
        assert got == expected_ids(library, cap=100, **oracle), filters
        assert got, f"{filters} should match some seed papers"


def test_the_cap_keeps_the_rest_pending_for_the_next_digest(library: Path) -> None:
    db = open_db(library)
    sub = _subscribe(db, "ada@example.org", max_papers=10)
    selection = select_papers(db, sub, datetime.now(UTC), limits(settings_for(library)))
    assert selection.paper_ids == expected_ids(library, cap=10)
    assert selection.matching == len(expected_ids(library, cap=1000)) == 52


def test_default_cap_is_digest_max_papers(library: Path) -> None:
    db = open_db(library)
    sub = _subscribe(db, "ada@example.org")
    settings = settings_for(library)
    settings.digest.max_papers = 7
    assert len(select_papers(db, sub, datetime.now(UTC), limits(settings)).paper_ids) == 7


def test_papers_older_than_max_age_are_no_longer_due(library: Path) -> None:
    db = open_db(library)
    sub = _subscribe(db, "ada@example.org")
    db.execute("UPDATE subscribers SET active_since = '2000-01-01T00:00:00+00:00'")
    settings = settings_for(library)
    later = datetime.now(UTC) + timedelta(days=settings.digest.max_age_days, minutes=1)
    selection = select_papers(db, sub, later, limits(settings))
    assert (selection.paper_ids, nothing_due(selection, sub)) == ([], "no new papers")
    assert select_papers(db, sub, later - timedelta(days=1), limits(settings)).matching == 52


def test_a_new_subscriber_gets_the_last_day_not_the_whole_backlog(library: Path) -> None:
    db = open_db(library)
    db.execute("UPDATE papers SET first_seen = '2026-01-01T06:00:00+00:00' WHERE id % 2 = 0")
    db.execute("UPDATE papers SET first_seen = '2026-01-04T06:00:00+00:00' WHERE id % 2 = 1")
    sub = _subscribe(db, "ada@example.org", max_papers=100)
    db.execute("UPDATE subscribers SET active_since = '2026-01-04T08:00:00+00:00'")
    now = datetime(2026, 1, 4, 9, tzinfo=UTC)
    got = select_papers(db, sub, now, limits(settings_for(library))).paper_ids
    assert got and all(i % 2 == 1 for i in got)
    assert len(got) == db.execute("SELECT COUNT(*) FROM papers WHERE id % 2 = 1").fetchone()[0]


def test_unsummarised_papers_wait_and_the_reason_says_so(library: Path) -> None:
    db = open_db(library)
    sub = _subscribe(db, "ada@example.org", tags=["3d"])
    settings = settings_for(library)
    now = datetime.now(UTC)
    matching = select_papers(db, sub, now, limits(settings)).matching
    assert nothing_due(select_papers(db, sub, now, limits(settings)), sub) == ""
    assert matching == len(expected_ids(library, tags=("3d",)))
    db.execute("DELETE FROM summaries")
    selection = select_papers(db, sub, now, limits(settings))
    assert selection.paper_ids == []
    assert nothing_due(selection, sub) == "no new papers yet (52 wait for a summary)"


def test_reason_names_filters_when_everything_is_filtered_out(library: Path) -> None:
    db = open_db(library)
    sub = _subscribe(db, "ada@example.org", keywords=["zzzzunlikelyword"])
    selection = select_papers(db, sub, datetime.now(UTC), limits(settings_for(library)))
    assert nothing_due(selection, sub) == "all 52 new papers filtered out by tags/keywords"


def test_new_papers_join_the_selection_after_another_dump(library: Path) -> None:
    db = open_db(library)
    sub = _subscribe(db, "ada@example.org", max_papers=1000)
    before = select_papers(db, sub, datetime.now(UTC), limits(settings_for(library))).matching
    db.conn.close()
    add_papers(library, LATER_DUMP)
    db = open_db(library)
    assert (
        select_papers(db, sub, datetime.now(UTC), limits(settings_for(library))).matching
        == before + 111
    )
