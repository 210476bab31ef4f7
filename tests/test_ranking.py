"""Each reader's papers ranked by what they care about: interests, likes and
thumbs; the reason line; min relevance; feedback; embeddings and the offline path."""

from __future__ import annotations

import email
import email.policy
import socket
from pathlib import Path

import mail_support
import numpy as np
import pytest
from mail_support import body, delivered, listed_titles, settings_for
from openai_server import FakeOpenAI

from digest.config import load_settings
from digest.mail.delivery import send_digests
from digest.rank import Ranking
from digest.rank.lexical import Matrix, Vectorizer, terms
from digest.rank.score import Corpus, Ranker, logistic_weights, phrases
from digest.store import open_db, open_memory
from digest.store.feedback import set_vote, votes
from digest.store.subscribers import get_subscriber, save_subscriber
from digest.subscriptions import make_subscriber

library_template, library = mail_support.library_template, mail_support.library

PAPERS = [  # trending order: id, title, abstract
    (1, "Scaling laws for large language models", "We fit scaling laws of LLM pre-training."),
    (2, "Gaussian splatting for 3D scenes", "Real-time radiance fields with 3D Gaussians."),
    (
        3,
        "Text VAEs without posterior collapse",
        "A variational autoencoder for text generation whose latent variable is used.",
    ),
    (
        4,
        "Latent variable models for language generation",
        "We study latent variable models and variational inference for generating sentences.",
    ),
    (5, "Offline reinforcement learning with rewards", "Policies learnt from logged rewards."),
    (6, "Diffusion models for image editing", "Image diffusion models edit photographs."),
]


def _ranker() -> Ranker:
    ids, titles, abstracts = zip(*PAPERS, strict=True)
    return Ranker(Corpus(list(ids), list(titles), list(abstracts)))


def _read(path: Path) -> email.message.EmailMessage:
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)


def _text(db, ids: list[int]) -> list[str]:
    rows = {
        r[0]: f"{r[1]} {r[2]}".lower() for r in db.execute("SELECT id, title, abstract FROM papers")
    }
    return [rows[i] for i in ids]


# --- the model ------------------------------------------------------------------


def test_interests_put_the_matching_papers_first_and_say_which_interest() -> None:
    ranked = _ranker().rank(
        [1, 2, 3, 4, 5, 6], "text VAEs, latent variable models for language generation", {}
    )
    assert ranked is not None
    assert {r.paper_id for r in ranked[:2]} == {3, 4}
    assert [r.score for r in ranked] == sorted((r.score for r in ranked), reverse=True)
    by_id = {r.paper_id: r.reason for r in ranked}
    assert by_id[4] == "matches your interest in “latent variable models for language generation”"
    assert by_id[3] == "matches your interest in “text VAEs”"
    assert ranked[-1].score == 0.0


def test_a_reader_with_no_interests_and_no_votes_is_not_ranked() -> None:
    assert _ranker().rank([1, 2, 3], None, {}) is None
    assert _ranker().rank([1, 2, 3], "   ", {}) is None


def test_equal_scores_keep_the_trending_order() -> None:
    ranked = _ranker().rank([6, 5, 2, 1], "text VAEs", {})
    assert ranked is not None
    assert [r.paper_id for r in ranked] == [6, 5, 2, 1]  # none matches: trending order


def test_a_liked_paper_pulls_similar_papers_up_and_is_named_as_the_reason() -> None:
    ranked = _ranker().rank([1, 2, 4, 5, 6], None, {3: 1})
    assert ranked is not None
    assert ranked[0].paper_id == 4
    assert ranked[0].reason == "like “Text VAEs without posterior collapse”, which you liked"


def test_a_thumbs_down_pushes_similar_papers_down() -> None:
    plain = _ranker().rank([1, 2, 3, 5, 6], "models", {})
    down = _ranker().rank([1, 2, 3, 5, 6], "models", {4: -1})
    assert plain is not None and down is not None
    assert [r.paper_id for r in plain].index(3) < [r.paper_id for r in down].index(3)


def test_the_learnt_model_separates_the_rated_papers() -> None:
    x = np.array([[1, 0, 0.2], [0.9, 0.1, 0], [1, 0, 0], [0, 1, 0.1], [0.1, 1, 0], [0, 0.8, 0]])
    y = np.array([1.0, 1, 1, 0, 0, 0])
    w = logistic_weights(x, y)
    assert (x[:3] @ w).min() > (x[3:] @ w).max()


def test_ten_ratings_of_both_kinds_let_the_learnt_model_join() -> None:
    ids = list(range(1, 41))
    titles = [("graph networks " if i % 2 else "speech audio ") + f"study {i}" for i in ids]
    ranker = Ranker(Corpus(ids, titles, ["An abstract."] * len(ids)))
    votes = {i: (1 if i % 2 else -1) for i in range(1, 13)}  # 6 up (graphs), 6 down (speech)
    ranked = ranker.rank(list(range(13, 41)), None, votes)
    assert ranked is not None
    top = [r.paper_id % 2 for r in ranked[:14]]
    assert top == [1] * 14  # every graph paper before any speech paper


def test_interests_are_split_into_phrases() -> None:
    assert phrases("text VAEs, latent variable models; diffusion and flows") == [
        "text VAEs",
        "latent variable models",
        "diffusion",
        "flows",
    ]


def test_terms_fold_plurals_and_pair_adjacent_words() -> None:
    assert terms("Latent variable models.") == [
        "latent",
        "variabl",
        "latent variabl",
        "model",
        "variabl model",
    ]
    assert "llm" in terms("LLMs") and terms("the of and") == []


def test_sparse_scores_equal_a_dense_product() -> None:
    docs = [terms(f"{t} {a}") for _, t, a in PAPERS] + [[]]  # and one empty row
    vec = Vectorizer(docs)
    matrix = Matrix(vec, docs)
    dense = np.stack([matrix.row(i) for i in range(matrix.n)])
    q = vec.dense(terms("language models and latent variables"))
    assert np.allclose(matrix.scores(q), dense @ q, atol=1e-6)
    assert np.allclose(np.linalg.norm(dense[:-1], axis=1), 1.0, atol=1e-5)


# --- feedback -------------------------------------------------------------------


def test_a_vote_recorded_twice_is_one_vote_and_undo_removes_it() -> None:
    db = open_memory()
    db["papers"].insert({"id": 7, "key": "k", "title": "T", "abstract": "A", "first_seen": "x"})
    sub_id, _ = save_subscriber(db, make_subscriber("ada@example.org", vocabulary=[]))
    assert set_vote(db, sub_id, 7, 1, "email") == "recorded"
    assert set_vote(db, sub_id, 7, 1, "web") == "unchanged"
    assert [(v.paper_id, v.vote, v.source) for v in votes(db, sub_id)] == [(7, 1, "email")]
    assert set_vote(db, sub_id, 7, -1, "web") == "changed"
    assert [(v.vote, v.source) for v in votes(db, sub_id)] == [(-1, "web")]
    assert set_vote(db, sub_id, 7, 0, "web") == "removed"
    assert set_vote(db, sub_id, 7, 0, "web") == "unchanged"
    assert votes(db, sub_id) == []


def test_cli_feedback_up_down_undo_and_unknown_paper(invoke, library: Path) -> None:
    invoke("subscribe", "ada@example.org")
    first = open_db(library).execute("SELECT id, title FROM papers ORDER BY id").fetchone()
    out = invoke("feedback", "ada@example.org", str(first[0]), "up")
    assert out.exit_code == 0
    assert out.stdout == f"ada@example.org: thumbs up for {first[1]!r}\n"
    assert "already so" in invoke("feedback", "ada@example.org", str(first[0]), "up").stdout
    assert "now thumbs down" in invoke("feedback", "ada@example.org", str(first[0]), "down").stdout
    assert "undone" in invoke("feedback", "ada@example.org", str(first[0]), "undo").stdout
    bad = invoke("feedback", "ada@example.org", "9999.99999", "up")
    assert bad.exit_code == 2
    assert bad.stderr == (
        "Error: no stored paper '9999.99999': give a store id or an arXiv id from `digest papers`\n"
    )


def test_subscribe_with_an_unknown_like_stores_nothing(invoke, library: Path) -> None:
    out = invoke("subscribe", "new@example.org", "--interests", "graphs", "--like", "123456")
    assert out.exit_code == 2
    assert "no stored paper '123456'" in out.stderr
    assert open_db(library).execute("SELECT COUNT(*) FROM subscribers").fetchone()[0] == 0


def test_subscribe_stores_interests_likes_and_min_relevance(invoke, library: Path) -> None:
    out = invoke(
        "subscribe", "ada@example.org", "--interests", " text VAEs,\n latent  variables ",
        "--like", "3", "--min-relevance", "0.05",
    )  # fmt: skip
    assert out.exit_code == 0
    db = open_db(library)
    sub = get_subscriber(db, "ada@example.org")
    assert (sub.interests, sub.min_relevance) == ("text VAEs, latent variables", 0.05)
    assert [(v.paper_id, v.vote, v.source) for v in votes(db, sub.id)] == [(3, 1, "like")]
    assert invoke("subscribe", "ada@example.org", "--min-relevance", "2").exit_code == 2


def test_config_interests_likes_and_min_relevance_and_a_later_thumbs_down_sticks(
    tmp_path: Path, library: Path
) -> None:
    config = tmp_path / "digest.toml"
    config.write_text(
        '[[subscribers]]\nemail = "ada@example.org"\ninterests = "causal inference"\n'
        'like = ["2", "2999.00001"]\nmin_relevance = 0.02\n'
    )
    from digest.roster import sync_config_subscribers

    db = open_db(library)
    changes = sync_config_subscribers(db, load_settings(str(config)))
    assert changes[0] == f"created ada@example.org from {config}"
    assert changes[1].startswith("ada@example.org likes ")
    assert changes[2] == (
        f"ada@example.org: like '2999.00001' from {config} is not a stored paper yet"
        " (it counts once the paper is ingested)"
    )
    sub = get_subscriber(db, "ada@example.org")
    assert (sub.interests, sub.min_relevance) == ("causal inference", 0.02)
    set_vote(db, sub.id, 2, -1, "email")  # the reader changed their mind
    sync_config_subscribers(db, load_settings(str(config)))
    assert [(v.paper_id, v.vote) for v in votes(db, sub.id)] == [(2, -1)]


def test_bad_config_interests_are_named(tmp_path: Path) -> None:
    from digest.errors import ConfigError
    from digest.subscriptions import check_config_subscribers

    config = tmp_path / "digest.toml"
    config.write_text('[[subscribers]]\nemail = "a@example.org"\nmin_relevance = "high"\n')
    with pytest.raises(ConfigError, match="min_relevance must be a number from 0 to 1"):
        check_config_subscribers(load_settings(str(config)))


# --- the email ------------------------------------------------------------------


def test_the_email_is_ranked_before_the_cap_with_a_reason_per_paper(invoke, library: Path) -> None:
    invoke("subscribe", "ada@example.org", "--interests", "reinforcement learning",
           "--max-papers", "3")  # fmt: skip
    out = invoke("send")
    assert out.exit_code == 0
    (eml,) = Path("outbox").glob("*.eml")
    msg = _read(eml)
    db = open_db(library)
    sent = delivered(library, "ada@example.org")
    assert len(sent) == 3
    assert all("reinforcement learning" in t for t in _text(db, sent))
    assert 1 not in sent  # the trending first paper is about VAEs
    text = body(msg, "plain")
    assert text.count("Why: matches your interest in “reinforcement learning”") == 3
    assert body(msg, "html").count("matches your interest in “reinforcement learning”") == 3
    assert len(listed_titles(msg)) == 3


def test_a_reader_with_no_signal_gets_the_trending_order_without_reasons(
    invoke, library: Path
) -> None:
    invoke("subscribe", "ada@example.org", "--max-papers", "4")
    invoke("send")
    (eml,) = Path("outbox").glob("*.eml")
    first = [
        r[0]
        for r in open_db(library).execute("SELECT id FROM papers ORDER BY best_rank, id LIMIT 4")
    ]
    assert delivered(library, "ada@example.org") == sorted(first)
    assert "Why:" not in body(_read(eml), "plain")


def test_min_relevance_holds_papers_back_counts_them_and_keeps_them_due(
    invoke, library: Path
) -> None:
    invoke("subscribe", "ada@example.org", "--interests", "reinforcement learning",
           "--min-relevance", "0.05")  # fmt: skip
    out = invoke("send")
    assert out.exit_code == 0
    sent = delivered(library, "ada@example.org")
    held = 52 - len(sent)
    assert 0 < len(sent) < 20
    assert f"; {held} papers under min relevance 0.05 held back" in out.stdout
    status = invoke("status").stdout
    assert f"{held} due papers under min relevance 0.05 held back" in status
    invoke("subscribe", "ada@example.org", "--reset", "--interests", "reinforcement learning")
    again = invoke("send", "--force")  # no floor now: the held-back papers are still due
    assert "sent 25 papers" in again.stdout
    assert len(delivered(library, "ada@example.org")) == len(sent) + 25


def test_every_paper_under_the_floor_is_said_not_silently_dropped(invoke, library: Path) -> None:
    invoke("subscribe", "ada@example.org", "--interests", "quantum chromodynamics lattice",
           "--min-relevance", "0.5")  # fmt: skip
    out = invoke("send")
    assert out.stdout.startswith(
        "ada@example.org: nothing new: all 52 due papers are under min relevance 0.5 (held back)"
    )
    assert delivered(library, "ada@example.org") == []


def test_a_thumbs_up_changes_the_next_emails_order(invoke, library: Path) -> None:
    invoke("subscribe", "ada@example.org", "--max-papers", "2")
    invoke("send")
    db = open_db(library)
    trending = [r[0] for r in db.execute("SELECT id FROM papers ORDER BY best_rank, id")]
    liked = db.execute("SELECT id FROM papers WHERE title LIKE 'Hybrid Latent Reasoning%'")
    liked_id = liked.fetchone()[0]
    invoke("feedback", "ada@example.org", str(liked_id), "up")
    invoke("send", "--force")
    second = _read(sorted(Path("outbox").glob("*.eml"))[-1])
    html = body(second, "html")
    assert (
        html.count("like “Hybrid Latent Reasoning via Reinforcement Learning”, which you liked")
        == 2
    )
    now = set(delivered(library, "ada@example.org")) - set(trending[:2])
    assert now != set(trending[2:4])  # not the trending order any more
    assert all("reasoning" in t or "reinforcement" in t for t in _text(db, sorted(now)))


# --- embeddings and the offline path ----------------------------------------------


def _embedding_settings(library: Path, url: str):
    settings = settings_for(library)
    settings.rank.embeddings_model = "fake-embed"
    settings.llm.base_url = url
    return settings


def test_embeddings_are_requested_once_per_paper_and_model(library: Path) -> None:
    from datetime import UTC, datetime

    db = open_db(library)
    save_subscriber(
        db, make_subscriber("ada@example.org", vocabulary=[], interests="latent reasoning")
    )
    with FakeOpenAI() as server:
        settings = _embedding_settings(library, server.url)
        now = datetime.now(UTC)
        sub = get_subscriber(db, "ada@example.org")
        first = Ranking(db, settings, now)
        plan = first.plan(sub, [1, 2, 3, 10, 13, 18], 3)
        assert plan.ranked and first.note == ""
        papers_embedded = sum(len(batch) for batch in server.embedding_inputs[:-1])
        assert papers_embedded == 52  # every paper once, in batches
        assert server.embedding_inputs[-1] == ["latent reasoning"]
        rows = db.execute(
            "SELECT COUNT(*), MIN(dim) FROM paper_embeddings WHERE model = 'fake-embed'"
        )
        assert rows.fetchone() == (52, 64)
        server.embedding_inputs.clear()
        Ranking(db, settings, now).plan(sub, [1, 2, 3], 3)
        assert server.embedding_inputs == [["latent reasoning"]]  # papers from the cache
        settings.rank.embeddings_model = "other-embed"
        Ranking(db, settings, now).plan(sub, [1, 2, 3], 3)
        assert sum(len(b) for b in server.embedding_inputs) == 1 + 52 + 1  # a new model: again


def test_a_failing_embeddings_server_falls_back_to_the_lexical_model(
    invoke, library: Path, tmp_path: Path
) -> None:
    with FakeOpenAI(every="500") as server:
        (tmp_path / "digest.toml").write_text(
            f'[rank]\nembeddings_model = "fake-embed"\n[llm]\nbase_url = "{server.url}"\n'
            "max_retries = 0\n"
        )
        invoke("subscribe", "ada@example.org", "--interests", "reinforcement learning",
               "--max-papers", "2")  # fmt: skip
        out = invoke("send")
    assert out.exit_code == 0
    assert "sent 2 papers" in out.stdout
    assert "ranked with the lexical model: embeddings model 'fake-embed' failed" in out.stderr
    assert all(
        "reinforcement" in t for t in _text(open_db(library), delivered(library, "ada@example.org"))
    )


def test_status_says_what_the_last_send_held_back_without_asking_the_embeddings_server(
    invoke, library: Path, tmp_path: Path
) -> None:
    with FakeOpenAI() as server:
        (tmp_path / "digest.toml").write_text(
            f'[rank]\nembeddings_model = "fake-embed"\n[llm]\nbase_url = "{server.url}"\n'
        )
        invoke("subscribe", "ada@example.org", "--interests", "reinforcement learning",
               "--min-relevance", "0.3", "--max-papers", "60")  # fmt: skip
        before = invoke("status", "--subscriber", "ada@example.org").stdout
        assert server.embedding_inputs == []
        sent = invoke("send").stdout
        asked = len(server.embedding_inputs)
        assert asked > 0  # the send ranked with the embeddings model
        held = 52 - len(delivered(library, "ada@example.org"))  # no cap: the rest is held
        assert 0 < held < 52
        assert f"; {held} papers under min relevance 0.3 held back" in sent
        after = invoke("status", "--subscriber", "ada@example.org").stdout
        invoke("subscribe", "ada@example.org", "--min-relevance", "0.2")
        changed = invoke("status", "--subscriber", "ada@example.org").stdout
        assert len(server.embedding_inputs) == asked  # status asked nothing
    assert (
        "ada@example.org: ranked by interests; min relevance 0.3:"
        " what it holds back is counted at the next send"
    ) in before
    assert (
        f"ada@example.org: ranked by interests; {held} due papers under min relevance 0.3"
        " held back at the last send"
    ) in after
    assert "min relevance 0.2: what it holds back is counted at the next send" in changed


def test_ranking_offline_opens_no_network_connection(
    library: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a network connection was attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    db = open_db(library)
    save_subscriber(db, make_subscriber("ada@example.org", vocabulary=[], interests="diffusion"))
    report = send_digests(db, settings_for(library))
    assert report.sent == 1
    assert len(delivered(library, "ada@example.org")) == 25


def test_the_migration_adds_interests_feedback_and_embeddings() -> None:
    db = open_memory()
    assert {"interests", "min_relevance"} <= set(db["subscribers"].columns_dict)
    assert db["feedback"].pks == ["subscriber_id", "paper_id"]
    assert set(db["paper_embeddings"].columns_dict) == {
        "paper_id", "model", "dim", "vector", "created",
    }  # fmt: skip
    assert "reason" in db["delivery_papers"].columns_dict


def test_tag_filters_still_decide_what_is_due_and_ranking_orders_it(invoke, library: Path) -> None:
    db = open_db(library)
    tagged = {
        r[0]
        for r in db.execute(
            "SELECT p.id FROM papers p JOIN summaries s ON s.paper_id = p.id"
            " WHERE EXISTS (SELECT 1 FROM json_each(s.tags) WHERE value = 'reinforcement-learning')"
        )
    }
    assert len(tagged) >= 3
    invoke("subscribe", "ada@example.org", "--tag", "reinforcement-learning",
           "--interests", "latent reasoning", "--max-papers", "2")  # fmt: skip
    out = invoke("send")
    assert "sent 2 papers" in out.stdout
    sent = delivered(library, "ada@example.org")
    assert set(sent) <= tagged  # the filter still decides
    assert all("latent" in t and "reasoning" in t for t in _text(db, sent))  # best first
