"""Suites as untrusted text: the filter grammar, the schema, and errors with their line."""

from __future__ import annotations

import numpy as np
import pytest

from modeldesk.validate.expr import ExpressionError, parse_expression
from modeldesk.validate.stats import (
    FAIL,
    INCONCLUSIVE,
    PASS,
    Interval,
    bootstrap,
    holm_all_rejected,
    holm_any_rejected,
    mcnemar_exact,
    percentiles,
    quantiles,
    rows_to_decide,
    verdict_at_least,
)
from modeldesk.validate.suite import SuiteError, parse_suite

TABLE = {
    "mean radius": np.array([9.0, 11.0, np.nan, 12.0]),
    "region": np.array(["north", "south", None, "north"], dtype=object),
    "age": np.array([70.0, 60.0, 66.0, 65.0]),
}


@pytest.mark.parametrize(
    ("text", "rows"),
    [
        ("mean radius > 10", [False, True, False, True]),
        ('age >= 65 and region == "north"', [True, False, False, True]),
        ("region == 'south' or age < 61", [False, True, False, False]),
        ('region in ["north", "east"]', [True, False, False, True]),
        ('region not in ["south"]', [True, False, False, True]),  # missing never matches
        ("not (age > 65)", [False, True, False, True]),
        ("`mean radius` <= -1 or age == 60", [False, True, False, False]),
        ("true", [True, True, True, True]),
    ],
)
def test_filters_keep_the_rows_they_say(text, rows):
    assert parse_expression(text).mask(TABLE).tolist() == rows


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("age >", "expected a column, a number or a string, found the end at column 6"),
        ("(age > 1", "expected ')', found the end at column 9"),
        ("age @ 3", "unexpected '@' at column 5"),
        ("age > 1 1", "unexpected '1' at column 9"),
        ("__import__('os')", "unexpected '(' at column 11"),
        ("age", "'age' is a value, not a condition"),
        ("region == 3", "compares text with a number at column 8"),
        ("nope > 1", "no column 'nope' at column 1"),
        ("age in [age]", "a list holds numbers, strings, true or false"),
        ("(" * 60 + "age > 1" + ")" * 60, "nested deeper than 40 levels"),
        ("x" * 3000, "the filter is longer than 2000 characters"),
        ("", "the filter is empty"),
    ],
)
def test_bad_filters_are_refused_with_their_position(text, problem):
    with pytest.raises(ExpressionError) as raised:
        parse_expression(text, where="gate.toml line 4").mask(TABLE)
    assert str(raised.value).startswith(f"gate.toml line 4: {problem}")


SUITE = """[suite]
name = "gate"
model = "breast-cancer"
dataset = "breast-cancer-test@1"

[[check]]
id = "accuracy"
kind = "metric"
metric = "accuracy"
min = 0.93
where = "mean radius > 10"

[[check]]
id = "champ"
kind = "champion"
baseline = "previous"
metric = "accuracy"
margin = 0.01
"""


def test_a_suite_parses_with_its_defaults_and_lines():
    suite = parse_suite(SUITE, path="gate.toml")
    assert (suite.name, suite.model, suite.dataset) == (
        "gate",
        "breast-cancer",
        "breast-cancer-test@1",
    )
    assert (suite.confidence, suite.on_inconclusive, suite.seed, suite.resamples) == (
        0.95,
        "fail",
        0,
        2000,
    )
    assert [(c.id, c.kind, c.line) for c in suite.checks] == [
        ("accuracy", "metric", 6),
        ("champ", "champion", 13),
    ]
    assert suite.checks[0].where.columns == ["mean radius"]
    assert len(suite.sha256) == 64


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ('metric = "accuracy"\nmin', 'metrc = "accuracy"\nmin',
         "gate.toml line 9: check 'accuracy' (metric) has no field 'metrc'; "
         "did you mean 'metric'?"),
        ('kind = "metric"', 'kind = "metrik"',
         "gate.toml line 8: unknown check kind 'metrik'; did you mean 'metric'?"),
        ('"champ"', '"accuracy"',
         "gate.toml line 13: check id 'accuracy' is used already (line 6)"),
        ("mean radius > 10", "mean radius >",
         "gate.toml line 11: check 'accuracy': where: expected a column, a number or a string, "
         "found the end at column 14"),
        ("margin = 0.01", "", "gate.toml line 13: check 'champ' (champion) needs margin"),
        ("min = 0.93", 'min = "high"', "gate.toml line 10: check 'accuracy': min must be a number"),
        ("min = 0.93", "", "gate.toml line 6: check 'accuracy': set min or max"),
        ('name = "gate"', 'nam = "gate"',
         "gate.toml line 2: [suite] has no field 'nam'; did you mean 'name'?"),
        ("[[check]]\nid = \"champ\"", "[[check]]\nid = \"no way\"",
         "gate.toml line 13: a check needs an id of letters, digits, '.', '_' or '-'"),
    ],
)  # fmt: skip
def test_bad_suites_name_the_line_and_the_field(old, new, problem):
    assert old in SUITE
    with pytest.raises(SuiteError) as raised:
        parse_suite(SUITE.replace(old, new, 1), path="gate.toml")
    assert str(raised.value) == problem


def test_toml_that_does_not_parse_is_refused():
    with pytest.raises(SuiteError, match=r"gate.toml: not valid TOML: .*line 20"):
        parse_suite(SUITE + "\n[[check]\n", path="gate.toml")
    with pytest.raises(SuiteError, match="has no \\[\\[check\\]\\]"):
        parse_suite(SUITE.split("[[check]]")[0], path="gate.toml")


def test_interval_verdicts_pass_fail_or_inconclusive():
    interval = Interval(0.936, 0.901, 0.965, 0.95, 2000)
    assert verdict_at_least(interval, 0.90) == PASS
    assert verdict_at_least(interval, 0.97) == FAIL
    assert verdict_at_least(interval, 0.93) == INCONCLUSIVE
    # Half-width 0.032 against an effect of 0.006 at 171 rows: about 171 * (0.032/0.006)^2.
    assert rows_to_decide(interval, 0.93, 171) == pytest.approx(
        171 * (0.032 / 0.006) ** 2, rel=0.01
    )


def test_the_bootstrap_is_seeded_and_covers_the_truth():
    correct = (np.random.default_rng(5).random(400) < 0.8).astype(float)
    accuracy = lambda w: (w @ correct) / w.sum(axis=1)  # noqa: E731
    first = bootstrap(accuracy, 400, resamples=2000, confidence=0.95, seed=7)
    again = bootstrap(accuracy, 400, resamples=2000, confidence=0.95, seed=7)
    other = bootstrap(accuracy, 400, resamples=2000, confidence=0.95, seed=8)
    assert first == again and first != other
    assert first.value == correct.mean() and first.low < 0.8 < first.high
    # The normal approximation's half-width for a proportion at n = 400.
    expected = 1.96 * np.sqrt(0.8 * 0.2 / 400)
    assert first.half_width == pytest.approx(expected, rel=0.15)


def test_holm_and_mcnemar():
    assert holm_all_rejected([0.001, 0.01, 0.02], 0.05)  # 0.001<=0.0167, 0.01<=0.025, 0.02<=0.05
    assert not holm_all_rejected([0.001, 0.03, 0.04], 0.05)
    assert holm_any_rejected([0.2, 0.01], 0.05) and not holm_any_rejected([0.2, 0.03], 0.05)
    # Exact two-sided binomial tail: 10 vs 2 discordant pairs.
    assert mcnemar_exact(10, 2) == pytest.approx(0.03857, abs=1e-5)
    assert mcnemar_exact(0, 0) == 1.0 and mcnemar_exact(5, 5) == 1.0


def test_percentiles_equal_numpys_bit_for_bit():
    rng = np.random.default_rng(3)
    for size in (1, 2, 3, 7, 200, 1999, 2000):
        values = rng.normal(size=size) * rng.choice([1e-6, 1.0, 1e6])
        for points in ((2.5, 97.5), (0.5, 99.5), (0.0, 100.0), (5.0, 95.0), (50.0,)):
            expected = np.percentile(values, points).tolist()
            assert percentiles(values, points) == expected, (size, points)
    ties = np.repeat([0.1, 0.2, 0.3], 700)
    assert percentiles(ties, (2.5, 97.5)) == np.percentile(ties, [2.5, 97.5]).tolist()


def test_quantiles_equal_numpys_bit_for_bit_at_a_slices_bin_edges():
    rng = np.random.default_rng(4)
    for size in (1, 5, 114, 569):
        values = rng.gamma(2.0, size=size)
        for bins in (1, 3, 5, 7, 10):
            fractions = np.linspace(0, 1, bins + 1)
            expected = np.quantile(values, fractions).tolist()
            assert quantiles(values, fractions.tolist()) == expected, (size, bins)
