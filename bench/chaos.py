"""Chaos: SIGKILL `digest run` at random moments, with faults injected; nothing may be lost.

    python bench/chaos.py [--kills 60] [--seed 7] [--quick] [--keep DIR]

The long version of tests/test_chaos.py, on the same harness
(tests/chaos_harness.py): the real CLI in a subprocess, against a dumps
folder that grows between rounds, a fake OpenAI server (429, 500, truncated
JSON at random) and an aiosmtpd server (451, dropped connections, a dropped
connection after acceptance), is killed over and over: after a random delay,
during the ingest of a large dump, from inside the model server at its Nth
request, and from inside the SMTP server after it kept a message but before
it replied 250. Then clean runs go on until nothing is left to do, and what
every subscriber received (parsed from the messages the server kept) is
compared with what they should have received (worked out from the store
with the rules of docs/email.md). Exit status 1 if a paper was lost, a paper
went out twice under different Message-IDs, or the database is damaged.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))  # the harness and its loopback servers

from chaos_harness import KINDS, ChaosReport, ChaosSettings, run_chaos  # noqa: E402
from chaos_setup import SUBSCRIBERS  # noqa: E402
from common import machine_line, stamp, table, write_section  # noqa: E402

FULL_KILLS, QUICK_KILLS = 60, 10
_KIND_WORDS = {
    "timer": "timer (random delay)",
    "ingest": "during a large ingest",
    "llm": "model server, Nth request",
    "smtp": "SMTP server, after acceptance",
}


def _met(ok: bool) -> str:
    return "yes" if ok else "**no**"


def render(report: ChaosReport, quick: bool) -> str:
    v, s = report.verdict, report.settings
    kills = sum(report.kills.values())
    tried = sum(r.kind is not None for r in report.rounds)
    fault_rounds = len(report.rounds) - report.clean_rounds
    summary = [
        [
            "kills (SIGKILL)",
            f"**{kills}** ({', '.join(f'{k} {report.kills[k]}' for k in KINDS)})",
            f"≥ {50 if not quick else s.kills}",
            _met(kills >= (50 if not quick else s.kills)),
        ],
        ["papers lost", f"**{v.lost}**", "0", _met(v.lost == 0)],
        [
            "papers delivered twice",
            f"{v.twice}, of which {v.twice - v.twice_other_id} with the same Message-ID",
            "only resends with the same Message-ID",
            _met(v.twice_other_id == 0),
        ],
        ["`PRAGMA integrity_check`", v.integrity, "ok", _met(v.integrity == "ok")],
        [
            "`PRAGMA foreign_key_check`",
            f"{v.foreign_keys} rows",
            "0 rows",
            _met(v.foreign_keys == 0),
        ],
        [
            "messages resent (same Message-ID)",
            f"{report.resent_messages}, {report.unexplained_resends} not explained by a"
            " kill or a dropped connection after acceptance",
            "0 unexplained",
            _met(report.unexplained_resends == 0),
        ],
        ["FTS5 `integrity-check`", v.fts, "ok", _met(v.fts == "ok")],
        [
            "digests still pending at the end",
            str(v.pending_deliveries),
            "0",
            _met(v.pending_deliveries == 0 and report.settled),
        ],
        [
            "sent but never due / store and server disagree",
            str(
                sum(len(x.unexpected) for x in v.subscribers)
                + sum(x.recorded_not_received + x.received_not_recorded for x in v.subscribers)
                + len(v.anomalies)
            ),
            "0",
            _met(
                not v.anomalies
                and all(
                    not x.unexpected and not x.recorded_not_received and not x.received_not_recorded
                    for x in v.subscribers
                )
            ),
        ],
        [
            "tracebacks in the runs' output",
            str(len(report.tracebacks)),
            "0",
            _met(not report.tracebacks),
        ],
    ]
    caps = {sub["email"]: sub.get("max_papers", "") for sub in SUBSCRIBERS}
    per_sub = [
        [
            f"`{x.email}`",
            x.filters,
            caps[x.email],
            x.emails,
            x.expected,
            x.received,
            f"**{len(x.lost)}**",
            x.twice,
            x.twice_same_id,
        ]
        for x in v.subscribers
    ]
    phases = [[phase, n] for phase, n in report.phases.most_common()]
    faults = ", ".join(
        [f"model {k} × {n}" for k, n in sorted(report.llm_faults.items())]
        + [f"SMTP {k} × {n}" for k, n in sorted(report.smtp_faults.items())]
    )
    return "\n".join(
        [
            "## Chaos: SIGKILL at random moments, with faults injected",
            "",
            f"`python bench/chaos.py --kills {s.kills}`"
            + (" (`--quick`)" if quick else "")
            + f", seed {s.seed}. The real `digest run` in a subprocess, killed over and over"
            " (" + "; ".join(_KIND_WORDS[k] for k in KINDS) + "), with random model faults"
            " (429, 500, truncated JSON) and SMTP faults (451, dropped connection, dropped"
            " connection after the message was kept), and new dumps added between rounds."
            " Then clean runs until one has nothing left to do, and every subscriber's mail"
            " (parsed from what the SMTP server kept) is compared with what the store says"
            " they should have had (the rules of docs/email.md, worked out independently).",
            "",
            table(["Check", "result", "target", "met"], summary),
            "",
            table(
                [
                    "Subscriber",
                    "filters",
                    "max papers",
                    "emails",
                    "expected",
                    "received",
                    "lost",
                    "delivered twice",
                    "same Message-ID",
                ],
                per_sub,
            ),
            "",
            "Where the kills landed (as far as the servers and the store could tell):",
            "",
            table(["Phase", "kills"], phases),
            "",
            f"{fault_rounds} fault rounds ({tried} with a kill planned, {kills} fired;"
            f" a kill that did not fire is retried), then {report.clean_rounds} clean rounds;"
            f" {report.papers} papers, {report.messages} messages kept by the server, of which"
            f" {report.resent_messages} resends under a Message-ID seen before."
            f" Faults injected: {faults or 'none'}. Wall time {report.seconds:.0f} s.",
            "",
            stamp(),
        ]
    )


def main(
    quick: bool = False, kills: int | None = None, seed: int = 7, keep: Path | None = None
) -> ChaosReport:
    """Run the harness, print and record the report; SystemExit(1) if anything failed."""
    kills = kills or (QUICK_KILLS if quick else FULL_KILLS)
    print(f"chaos benchmark on {machine_line()}: {kills} kills, seed {seed}", flush=True)
    settings = ChaosSettings(kills=kills, seed=seed)
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        report = run_chaos(keep, settings, say=lambda line: print(line, flush=True))
    else:
        with tempfile.TemporaryDirectory(prefix="digest-chaos-") as tmp:
            report = run_chaos(Path(tmp), settings, say=lambda line: print(line, flush=True))
    body = render(report, quick)
    print()
    print(body)
    for problem in report.verdict.anomalies + report.tracebacks:
        print(f"problem: {problem}", file=sys.stderr)
    for x in report.verdict.subscribers:
        for title in x.lost:
            print(f"lost: {x.email}: {title}", file=sys.stderr)
    print(f"\nwritten to {write_section('chaos', body)}")
    if not report.ok:
        raise SystemExit(
            f"chaos: FAILED ({report.verdict.lost} lost, {report.verdict.twice_other_id} sent"
            " twice under different Message-IDs, see above)"
        )
    return report


def _parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help=f"{QUICK_KILLS} kills, not {FULL_KILLS}"
    )
    parser.add_argument("--kills", type=int, help=f"kills to make (default {FULL_KILLS})")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument("--keep", type=Path, help="work in DIR and keep it (logs, database)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    args = _parse()
    main(quick=args.quick, kills=args.kills, seed=args.seed, keep=args.keep)
