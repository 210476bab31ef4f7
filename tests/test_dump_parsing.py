"""The dump parser: both real layouts, and every kind of file that is not a dump."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests_support import SEEDS

from digest.errors import DumpError
from digest.identity import title_key
from digest.sources.dumps import MAX_LINE, parse_dump


def entries(path: Path) -> list:
    return list(parse_dump(path, []))


@pytest.mark.parametrize(
    ("name", "count"),
    [
        ("000_212a8c0834e203e0.txt", 227),
        ("001_f241505a523fd2a8.txt", 52),
        ("002_b52ef846144193ac.txt", 234),
        ("003_03f71fdfc5ea1829.txt", 119),
    ],
)
def test_seed_dumps_yield_every_entry(name: str, count: int) -> None:
    found = entries(SEEDS / name)
    assert len(found) == count
    assert [e.rank for e in found] == list(range(1, count + 1))
    assert all(e.paper.title and len(e.paper.abstract) > 100 for e in found)


def test_seed_dumps_hold_540_distinct_papers() -> None:
    keys = {title_key(e.paper.title) for f in sorted(SEEDS.iterdir()) for e in entries(f)}
    assert len(keys) == 540


def test_compact_layout_unglues_subscribe_from_first_title() -> None:
    first = entries(SEEDS / "000_212a8c0834e203e0.txt")[0]
    assert (
        first.paper.title == "RLFR: Extending Reinforcement Learning for LLMs with Flow Environment"
    )


def test_spaced_layout_skips_banners_and_dates_entries() -> None:
    found = entries(SEEDS / "001_f241505a523fd2a8.txt")
    assert found[0].paper.title.startswith("Multi-modal Gaussian Process Variational")
    assert {e.listed for e in found} == {"Sep 9"}
    assert not any(e.paper.title in {"new", "Daily Papers", "Subscribe"} for e in found)


def test_crlf_bom_and_trailing_spaces_are_tolerated(tmp_path: Path) -> None:
    original = (SEEDS / "003_03f71fdfc5ea1829.txt").read_text(encoding="utf-8")
    messy = "\ufeff" + "\r\n".join(line + "  " for line in original.split("\n"))
    path = tmp_path / "messy.txt"
    path.write_bytes(messy.encode("utf-8"))
    assert [e.paper for e in entries(path)] == [
        e.paper for e in entries(SEEDS / path.name.replace("messy", "003_03f71fdfc5ea1829"))
    ]


def test_dangling_title_is_reported_not_invented(tmp_path: Path) -> None:
    path = tmp_path / "dangling.txt"
    path.write_text(
        "A Good Title\nWe study things. We find results that matter a great deal.\n"
        "Title Without Abstract\n"
        "Another Title\nThis abstract is complete. It has two sentences.\n"
        "Last Title Lost Too\n",
        encoding="utf-8",
    )
    warnings: list[str] = []
    found = list(parse_dump(path, warnings))
    assert [e.paper.title for e in found] == ["A Good Title", "Another Title"]
    assert len(warnings) == 2
    assert "Title Without Abstract" in warnings[0] and "line 3" in warnings[0]
    assert "Last Title Lost Too" in warnings[1]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        (b'{"papers": [{"title": "x"}]}', "JSON"),
        (b'[\n  {"title": "x"}\n]', "JSON"),
        (b"caf\xe9 au lait\nsecond line\n", "not UTF-8"),
        (b"", "no title/abstract pairs"),
        (b"\n\n   \n", "no title/abstract pairs"),
        (b"<!DOCTYPE html><html><body>hi</body></html>", "HTML"),
        (
            b"This file explains the program. Install it first. Then run the command below.\n"
            b"It has paragraphs. Each one is several sentences long. None is a title.\n",
            "paragraph",
        ),
    ],
)
def test_files_that_are_not_dumps_get_a_reason(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(DumpError) as info:
        entries(path)
    message = str(info.value)
    assert str(path) in message and reason in message
    assert "\n" not in message


def test_huge_line_is_refused_without_reading_it_whole(tmp_path: Path) -> None:
    path = tmp_path / "huge.txt"
    with path.open("wb") as fh:
        fh.write(b"A Title\n")
        fh.write(b"x" * (MAX_LINE * 40))
    with pytest.raises(DumpError, match="longer than"):
        entries(path)


def test_title_starting_with_a_bracket_is_not_mistaken_for_json(tmp_path: Path) -> None:
    path = tmp_path / "bracket.txt"
    path.write_text(
        "[MASK] is All You Need\nWe revisit masking. It works well.\n", encoding="utf-8"
    )
    assert [e.paper.title for e in entries(path)] == ["[MASK] is All You Need"]


def test_subscribe_and_header_words_are_only_furniture_in_the_header(tmp_path: Path) -> None:
    path = tmp_path / "titles.txt"
    path.write_text(
        "Get trending papers in your email inbox!\n"
        "SubscribeFirst Paper Title\nWe study a thing. It works well.\n"
        "Subscriber Churn Prediction with Graph Networks\nWe predict churn. It works.\n"
        "New\nA paper titled New. It exists.\n"
        "Daily Papers\nA paper about daily papers. It is meta.\n",
        encoding="utf-8",
    )
    titles = [e.paper.title for e in entries(path)]
    assert titles == [
        "First Paper Title",
        "Subscriber Churn Prediction with Graph Networks",
        "New",
        "Daily Papers",
    ]


def test_titles_without_letters_are_still_distinct_papers() -> None:
    assert title_key("???") != title_key("!!!")
    assert title_key("S^3 -- Semantic Signal Separation") == title_key(
        "s^3 – semantic  signal separation"
    )


def test_dumps_pasted_together_lose_every_glued_subscribe(tmp_path: Path) -> None:
    path = tmp_path / "both.txt"
    path.write_bytes(
        (SEEDS / "000_212a8c0834e203e0.txt").read_bytes()
        + b"\n"
        + (SEEDS / "002_b52ef846144193ac.txt").read_bytes()
    )
    titles = [e.paper.title for e in entries(path)]
    assert len(titles) == 227 + 234
    assert not [t for t in titles if t.startswith("Subscribe")]
    assert "How Post-Training Reshapes LLMs" in titles[227]


SEED = SEEDS / "003_03f71fdfc5ea1829.txt"  # compact layout: title, abstract, title, ...
PROSE = "This line is prose. It has sentences. Many of them, too. None is a title."


def _seed_lines() -> list[str]:
    return SEED.read_text(encoding="utf-8").splitlines()


def _write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "edited.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_one_bad_line_costs_only_itself_and_is_reported_with_its_number(tmp_path: Path) -> None:
    lines = _seed_lines()
    # A date line ends the entry above it, so the prose after it is the rest of nothing.
    lines[100:100] = ["Sep 9", PROSE]
    warnings: list[str] = []
    found = list(parse_dump(_write(tmp_path, lines), warnings))
    assert [e.paper for e in found] == [e.paper for e in entries(SEED)]
    assert warnings == [
        f"{tmp_path / 'edited.txt'}: line 102: a paragraph where a paper title should be; skipped"
    ]


def test_many_bad_lines_show_five_and_count_the_rest(tmp_path: Path) -> None:
    lines = _seed_lines()
    for at in (200, 160, 120, 80, 40, 30, 20, 10):  # from the end, so positions hold
        lines[at:at] = ["Sep 9", PROSE]
    warnings: list[str] = []
    found = list(parse_dump(_write(tmp_path, lines), warnings))
    assert len(found) == 119
    assert len(warnings) == 6
    assert [w.split(": ")[1] for w in warnings[:5]] == [
        "line 12",
        "line 24",
        "line 36",
        "line 48",
        "line 90",
    ]
    assert warnings[5].endswith(": and 3 more lines like these; skipped")


def test_a_file_of_only_bad_lines_is_still_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, ["A Title", "Sep 9", PROSE, PROSE])
    with pytest.raises(DumpError, match="line 3 should be a paper title but is a paragraph"):
        entries(path)


@pytest.mark.parametrize("where", ["mid-sentence", "between sentences"])
def test_an_abstract_wrapped_onto_a_second_line_is_joined_not_a_new_paper(
    tmp_path: Path, where: str
) -> None:
    lines = _seed_lines()
    expected = [e.paper for e in entries(SEED)]
    for n in (237, 121, 51, 3):  # abstracts of entries 118, 60, 25 and 1 (from the end)
        abstract = lines[n]
        cut = (
            abstract.index(" ", len(abstract) // 2)
            if where == "mid-sentence"
            else abstract.index(". ", len(abstract) // 3) + 1
        )
        lines[n : n + 1] = [abstract[:cut], abstract[cut + 1 :]]
    warnings: list[str] = []
    found = [e.paper for e in parse_dump(_write(tmp_path, lines), warnings)]
    assert found == expected
    assert warnings == []


def test_a_wrapped_last_abstract_is_joined_too(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        ["First Title", "We study one thing. It works", "well on three benchmarks."],
    )
    assert [e.paper.abstract for e in entries(path)] == [
        "We study one thing. It works well on three benchmarks."
    ]


def test_a_short_first_line_of_a_wrapped_abstract_does_not_steal_the_title(
    tmp_path: Path,
) -> None:
    path = _write(
        tmp_path,
        [
            "The Free Transformer",
            "We propose an extension of the decoder that conditions on latent variables",
            "learned without supervision. Experiments show large gains on downstream tasks.",
            "Another Title",
            "We study another thing. It works.",
        ],
    )
    found = entries(path)
    assert [e.paper.title for e in found] == ["The Free Transformer", "Another Title"]
    assert found[0].paper.abstract.endswith(
        "latent variables learned without supervision. "
        "Experiments show large gains on downstream tasks."
    )


def test_a_title_that_lost_its_abstract_before_a_question_title_is_reported(
    tmp_path: Path,
) -> None:
    path = _write(
        tmp_path,
        [
            "First Title",
            "We study one thing. It works well on three benchmarks.",
            "Title That Lost Its Abstract",
            "Why Do Small Language Models Underperform?",
            "We find a softmax bottleneck. Small models saturate early in training.",
        ],
    )
    warnings: list[str] = []
    found = list(parse_dump(path, warnings))
    assert [e.paper.title for e in found] == [
        "First Title",
        "Why Do Small Language Models Underperform?",
    ]
    assert found[1].paper.abstract.startswith("We find a softmax bottleneck.")
    assert len(warnings) == 1 and "line 3: title 'Title That Lost Its Abstract'" in warnings[0]


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (b"\xff", "bad byte 0xff on line {n}"),
        (b"\x00", "NUL byte on line {n}"),
        (b"y" * (MAX_LINE * 4), "line {n} is longer than"),
        ("é".encode() * MAX_LINE, "line {n} is longer than"),
    ],
)
def test_damage_deep_in_a_big_dump_names_its_line(
    tmp_path: Path, damage: bytes, reason: str
) -> None:
    """The reader takes valid text in blocks of many lines and the rest line by
    line: a damaged line far past the first block is still named by its number."""
    lines = [line.encode() for line in _seed_lines()] * 8  # about a MiB: several blocks
    at = len(lines) - 7
    lines[at] = b"A Title " + damage
    path = tmp_path / "big.txt"
    path.write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(DumpError) as info:
        entries(path)
    assert reason.format(n=at + 1) in str(info.value)


def test_a_big_dump_reads_as_its_pasted_pieces_do_alone(tmp_path: Path) -> None:
    """Dumps pasted one after another, CRLF, some with accents (characters of
    two bytes) and one behind a byte-order mark: read in blocks whose ends fall
    mid-line, they give each piece's entries in turn."""
    plain = SEED.read_text(encoding="utf-8").replace("\n", "\r\n")
    pieces = [plain.replace(" the ", " thé ") if k % 3 else plain for k in range(20)]
    path = tmp_path / "big.txt"
    path.write_bytes(("\ufeff" + "".join(pieces)).encode())
    expected = []
    for k, piece in enumerate(pieces):
        alone = tmp_path / f"piece{k}.txt"
        alone.write_bytes(piece.encode())
        expected += [e.paper for e in entries(alone)]
    found = entries(path)
    assert [e.paper for e in found] == expected
    assert [e.rank for e in found] == list(range(1, len(expected) + 1))
    assert path.stat().st_size > 8 * 2**18  # more than a few of the reader's blocks
