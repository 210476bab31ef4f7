"""What a real small model wrote and validation must catch (replies seen from
SmolLM2-135M through llama.cpp), and what a good reply must pass."""

from __future__ import annotations

import pytest

from digest.backends.llm_checks import check_reply
from digest.backends.llm_reply import Reply, ReplyError, render_system
from digest.resources import default_vocabulary

TITLE = "Sparse Attention for Long Documents"
SYSTEM = render_system(list(default_vocabulary()), "English", "json_schema")
GOOD = Reply(
    tldr="SparseDoc cuts attention memory fourfold on book-length inputs with no loss in accuracy.",
    summary=(
        "Attention over long inputs costs memory that grows with the square of their length. "
        "The authors keep only a learned set of key blocks per query. On three long-document "
        "benchmarks this matches dense attention while using a quarter of the memory."
    ),
    tags=("nlp",),
)


def check(**changes: str) -> None:
    fields = {"tldr": GOOD.tldr, "summary": GOOD.summary, "tags": GOOD.tags, **changes}
    check_reply(Reply(**fields), title=TITLE, instructions=SYSTEM)


def test_a_good_reply_passes():
    check()


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"tldr": "Sparse attention for long documents."}, "only restates the title"),
        ({"tldr": "This paper proposes Sparse Attention for Long Documents."}, "restates"),
        (
            {"summary": "InP, InP, InP, InP nanowires are grown. They are measured later on."},
            '"summary" repeats itself ("inp" again and again)',
        ),
        (
            {
                "summary": "The model is trained on data. The model is trained on data. "
                "It works well."
            },
            '"summary" repeats itself',
        ),
        ({"tldr": "<pre>SparseDoc cuts memory fourfold on long inputs.</pre>"}, "markup"),
        ({"summary": GOOD.summary + " **Result**: it is fast."}, "markup"),
        (
            {"tldr": "One sentence of at most 30 words: what the paper does and finds."},
            "repeats the instructions",
        ),
        (
            {"summary": GOOD.tldr + " It is evaluated on three benchmarks of long texts."},
            "the summary repeats the tldr",
        ),
    ],
)
def test_what_a_small_model_writes_is_an_invalid_reply_with_its_reason(changes, complaint):
    with pytest.raises(ReplyError, match=".") as caught:
        check(**changes)
    assert complaint in str(caught.value)


def test_token_names_and_math_are_not_markup_and_one_repeat_is_not_a_loop():
    check(
        tldr="A <SEG> token and a 2x2 grid let SparseDoc cut memory on book-length inputs.",
        summary=(
            "Attention over long inputs is costly, very costly. The authors keep only learned "
            "key blocks. It reaches p < 0.05 gains on three benchmarks."
        ),
    )
