"""Two thumbs on one paper at the same moment (a double click, two devices, the
operator at the same time): real `python -m digest feedback` subprocesses on one
database, 10 rounds; each ends with exactly one vote, reported once as new."""

from __future__ import annotations

from pathlib import Path

import mail_support
import pytest
from test_races import ROUNDS, _finish, _start

from digest.store import open_db
from digest.store.subscribers import save_subscriber
from digest.subscriptions import make_subscriber

pytestmark = pytest.mark.slow
library_template, library = mail_support.library_template, mail_support.library


def test_two_identical_thumbs_at_once_make_one_vote_reported_once(library: Path) -> None:
    db = open_db(library)
    sub_id, _ = save_subscriber(db, make_subscriber("ada@example.org", vocabulary=[]))
    papers = [r[0] for r in db.execute("SELECT id FROM papers ORDER BY id LIMIT ?", [ROUNDS])]
    for paper in papers:
        procs = [_start("feedback", "ada@example.org", str(paper), "up") for _ in range(2)]
        results = [_finish(p) for p in procs]
        assert [code for code, _ in results] == [0, 0], results
        outputs = sorted(out.split(": ", 1)[1].split(" for ")[0] for _, out in results)
        assert outputs == ["already so", "thumbs up"], results
    rows = db.execute(
        "SELECT paper_id, vote, COUNT(*) FROM feedback WHERE subscriber_id = ?"
        " GROUP BY paper_id ORDER BY paper_id",
        [sub_id],
    ).fetchall()
    assert rows == [(p, 1, 1) for p in papers]
