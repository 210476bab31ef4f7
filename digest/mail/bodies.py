"""One render per distinct digest of a send, each reader's own values filled in.

On a given day most readers get the same papers for the same reasons (all
readers without filters, and readers with the same tags): 12,000 readers of
the simulated Hugging Face list get under a thousand distinct digests. Their
emails differ only in the values of `reader_links.Personal` (name, address,
signed links). Rendering both bodies and inlining the CSS is the largest CPU
cost of an email, so `SharedBodies` renders each distinct digest once with
stand-ins (random words no paper text can contain) and replaces them with each
reader's values.

A value is filled in only when it reads the same in every place (no character
that HTML escapes: & < > " ' and no-break space); otherwise, and when the filled
email would pass the size budget, the reader's email is rendered in full. The
first filled email of a send is compared with a full render: a custom template
that transforms a value (`{{ reader | upper }}`) turns sharing off for the send.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
from collections import OrderedDict
from typing import Any

from digest.config import Settings
from digest.mail.compose import HTML_BUDGET, RenderedEmail, filters, render_email
from digest.mail.reader_links import Personal, personal
from digest.models import Subscriber

_ESCAPED = re.compile("[&<>\"'\u00a0]")
# Characters of rendered digests kept for reuse; the least recently used go first.
# Readers are served longest-waiting first, not grouped by digest, so the cache
# holds many digests at once: about 40 MB at this bound, whatever the readers.
CACHE_CHARS = 20_000_000


class SharedBodies:
    """The rendered digests of one send, by what makes two of them alike."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.rendered = 0  # renders: with stand-ins (one per distinct digest) or in full
        self.filled = 0  # emails filled in from a render with stand-ins
        self._word = "zq" + secrets.token_hex(6)
        self._slot = re.compile(self._word + r"([a-z]+)(\d*)" + self._word)
        self._cache: OrderedDict[Any, RenderedEmail] = OrderedDict()
        self._chars = 0
        self._checked = False
        self._off = False

    def render(
        self,
        sub: Subscriber,
        papers: list[dict[str, Any]],
        digest_date: str,
        own: Personal | None = None,
    ) -> RenderedEmail:
        """What `mail.render_email` gives for this reader, rendered once per distinct
        digest. `own`: the reader's values (default: `personal`, links signed now)."""
        own = own or personal(self.settings, sub)
        if self._off or not _plain(own) or any(p.get("id") is None for p in papers):
            return self._full(sub, papers, digest_date, own)
        key = (
            digest_date,
            tuple((p.get("id"), p.get("reason")) for p in papers),
            sub.frequency == "weekly",
            filters(sub),
            bool(own.reader),
            own.unsubscribe is not None,
            own.manage is not None,
            own.vote is not None,
        )
        shared = self._cache.get(key)
        if shared is None:
            shared = self._full(sub, papers, digest_date, self._stand_in(own))
            self._keep(key, shared)
        else:
            self._cache.move_to_end(key)
        if shared.papers < len(papers):  # shortened to fit: the reader's own sizes decide
            return self._full(sub, papers, digest_date, own)
        mine = self._fill(shared, own)
        if mine.size > HTML_BUDGET:
            return self._full(sub, papers, digest_date, own)
        if not self._checked:
            self._checked = True
            full = self._full(sub, papers, digest_date, own)
            if (full.text, full.html, full.subject) != (mine.text, mine.html, mine.subject):
                self._off = True
                return full
        self.filled += 1
        return mine

    def _keep(self, key: Any, shared: RenderedEmail) -> None:
        self._cache[key] = shared
        self._chars += len(shared.text) + len(shared.html)
        while self._chars > CACHE_CHARS and len(self._cache) > 1:
            _, old = self._cache.popitem(last=False)
            self._chars -= len(old.text) + len(old.html)

    def _full(
        self, sub: Subscriber, papers: list[dict[str, Any]], digest_date: str, values: Personal
    ) -> RenderedEmail:
        self.rendered += 1
        return render_email(self.settings, sub, papers, digest_date, values=values)

    def _stand_in(self, own: Personal) -> Personal:
        word = self._word

        def vote(paper: int, verdict: int) -> str:
            return f"{word}{'up' if verdict > 0 else 'down'}{paper}{word}"

        return dataclasses.replace(
            own,
            reader=f"{word}reader{word}" if own.reader else "",
            email=f"{word}email{word}",
            unsubscribe=f"{word}unsubscribe{word}" if own.unsubscribe is not None else None,
            manage=f"{word}manage{word}" if own.manage is not None else None,
            vote=vote if own.vote is not None else None,
        )

    def _fill(self, shared: RenderedEmail, own: Personal) -> RenderedEmail:
        values = {
            "reader": own.reader,
            "email": own.email,
            "unsubscribe": own.unsubscribe or "",
            "manage": own.manage or "",
        }
        vote = own.vote

        def value(match: re.Match[str]) -> str:
            name, paper = match.group(1), match.group(2)
            if paper and vote is not None:
                # [web] public_url + /v/ + a percent-encoded token: plain when the
                # unsubscribe link (the same public_url + /u/ + token) is.
                return vote(int(paper), 1 if name == "up" else -1)
            return values[name]

        return dataclasses.replace(
            shared,
            text=self._slot.sub(value, shared.text),
            html=self._slot.sub(value, shared.html),
            links=own.links,
        )


def _plain(own: Personal) -> bool:
    """Whether every value reads the same in the text part, in HTML text and in attributes."""
    return not any(
        _ESCAPED.search(v) for v in (own.reader, own.email, own.unsubscribe, own.manage) if v
    )
