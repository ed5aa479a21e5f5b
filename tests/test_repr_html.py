"""Results a notebook shows render as HTML (``_repr_html_``): the numbers users look for, escaped."""

from __future__ import annotations

import html.parser

import numpy as np
import polars as pl

from lakeml.session import Lake
from tests.scoring.models import packed_logreg, training_frame


class _Checker(html.parser.HTMLParser):
    """Collects the text; fails on unbalanced tags (a broken card would garble the notebook)."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack.pop() == tag, f"unbalanced </{tag}>"

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _text(markup: str) -> str:
    checker = _Checker()
    checker.feed(markup)
    assert not checker.stack, f"unclosed tags {checker.stack}"
    assert "<script" not in markup and "http" not in markup
    return " ".join(checker.text)


def _regression_frame() -> pl.DataFrame:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(200, 2))
    return pl.DataFrame({"a": x[:, 0], "<b>": x[:, 1], "y": 2 * x[:, 0] - x[:, 1]})


def test_train_result_html(lake: Lake) -> None:
    result = lake.train(_regression_frame(), target="y", model="linear")
    text = _text(result._repr_html_())
    assert "linear" in text and "regression" in text and "rmse" in text and "passed" in text
    assert "<b>" in text  # the column name is shown as text, not as markup
    assert "feature importance" in text


def test_automl_result_html(lake: Lake) -> None:
    result = lake.automl(_regression_frame(), target="y", time_budget=None, max_trials=2, seed=1, n_jobs=1,
                         allowed=["linear"], ensemble=False)
    text = _text(result._repr_html_())
    assert result.run_id in text and "leaderboard" in text and "guardrails" in text
    assert "linear" in text and "rmse" in text


def test_score_result_and_model_version_html(lake: Lake) -> None:
    mv = lake.models.register(packed_logreg()[0], name="churn", features=["a", "b"], description="<logreg>")
    lake.models.set_alias("churn", mv.version, "champion")
    mv = lake.models.get("churn@champion")
    text = _text(mv._repr_html_())
    assert "churn:1" in text and "champion" in text and "<logreg>" in text and "input" in text
    lake.write("cust", training_frame())
    scored = lake.score("churn:1", "cust", "scores", outputs="label bigint")
    text = _text(scored._repr_html_())
    assert "300" in text and "scores" in text and "churn:1" in text
