"""The database schema, as sqlite-utils migrations applied on every open.

One function per change, append-only: never edit a step that has shipped;
add a new one. Each runs in its own transaction. The steps live by era
(`initial`: m001-m009, `later`: m020 on); the order they are applied in is
the list below, once and for all (m070 ran before m040 in the field, so it
stays there: a step's name is its identity, its number only a label).
"""

from __future__ import annotations

from sqlite_utils import Migrations

from digest.store.migrations import initial, later

STEPS = (
    initial.m001_papers,
    initial.m002_summaries,
    initial.m003_llm_calls,
    initial.m004_runs,
    initial.m005_mail,
    initial.m006_fetch_state,
    initial.m007_mail_delivery_papers,
    initial.m008_paper_links,
    initial.m009_fts_update_only_on_text,
    later.m020_subscriber_cadence,
    later.m021_link_lookups,
    later.m030_web,
    later.m050_llm_call_finish_reason,
    later.m070_subscriber_last_sent,
    later.m040_relevance,
    later.m071_delivery_indexes,
    later.m072_compact_deliveries,
    later.m080_subscriber_paused,
    later.m100_subscriber_held_back,
)

migrations = Migrations("digest")
for _step in STEPS:
    migrations()(_step)
