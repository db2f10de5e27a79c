"""What the suite editor shows: problems placed on their line and column, warnings, and
each check's evidence as rows; on the demo catalog's suites and models."""

from __future__ import annotations

import pytest

from modeldesk.debug.predict import predict
from modeldesk.validate.evidence import evidence_table
from modeldesk.validate.lint import ERROR, WARNING, suite_problems, syntax_problem
from modeldesk.validate.registry import add_suite, get_suite
from modeldesk.validate.run import run_suite

HEAD = '[suite]\nname = "g"\nmodel = "breast-cancer"\ndataset = "breast-cancer-test@1"\n'


def _check(body: str) -> str:
    return HEAD + "\n[[check]]\n" + body


@pytest.mark.parametrize(
    ("text", "line", "column", "needle"),
    [
        (HEAD + "seed = [\n", 5, 9, "not valid TOML"),
        (HEAD + "seed = 0 0\n", 5, 10, "not valid TOML"),
        (_check('id = "a"\nkind = "metric"\nmetric = "accuracy"\nmni = 0.9\n'), 10, 0, "'min'"),
        (_check('id = "a"\nkind = "metrics"\n'), 8, 0, "did you mean 'metric'"),
        (
            _check(
                'id = "a"\nkind = "metric"\nmetric = "accuracy"\nmin = 0.9\n'
                'where = "mean radius >> 3"\n'
            ),
            11,
            len('where = "mean radius >>'),  # the second '>'; the first is fine
            "where",
        ),
    ],
)
def test_a_syntax_problem_knows_its_line_and_column(text, line, column, needle):
    suite, problem = syntax_problem(text)
    assert suite is None and problem is not None
    assert (problem.line, problem.column) == (line, column), str(problem)
    assert needle in problem.message and problem.severity == ERROR


def test_the_filter_column_points_at_the_offending_text():
    text = _check('id = "a"\nkind = "metric"\nmetric = "accuracy"\nmin = 0.9\n'
                  'where = \'mean radius > 10 and region = "north"\'\n')  # fmt: skip
    _, problem = syntax_problem(text)
    source = text.splitlines()[problem.line - 1]
    assert source[problem.column - 1 :].startswith('= "north"'), (source, problem.column)


def test_catalog_problems_and_resolution_warnings_name_their_check_line(demo):
    stored = get_suite(demo, "breast-cancer-gate")
    assert suite_problems(demo, stored.suite.text, "breast-cancer@3") == []
    missing = stored.suite.text.replace('"worst concave points"', '"no such column"', 1)
    [problem] = suite_problems(demo, missing, "breast-cancer@3")
    # The first mention is the direction check's column.
    header = next(c.line for c in stored.suite.checks if c.kind == "direction")
    assert problem.severity == ERROR and problem.line == header
    assert "no column 'no such column'" in problem.message
    fine = _check('id = "tight"\nkind = "champion"\nbaseline = "previous"\n'
                  'metric = "accuracy"\nmargin = 0.001\n')  # fmt: skip
    [warning] = suite_problems(demo, fine, "breast-cancer@3")
    assert warning.severity == WARNING and warning.line == 6  # its [[check]] header
    assert "171 rows" in warning.message and "cannot be verified" in warning.message


def test_a_failing_metric_lists_the_rows_the_model_got_wrong(demo):
    text = _check('id = "perfect"\nkind = "metric"\nmetric = "accuracy"\nmin = 0.999\n')
    stored, _ = add_suite(demo, text)
    [result] = run_suite(demo, stored, "breast-cancer@1", record=False).results
    assert result.verdict == "FAIL"
    table = evidence_table(result.to_dict())
    assert table.headers == ["row", "actual", "predicted"] and table.rows
    truth = predict(demo, "breast-cancer@1", "breast-cancer-test@1")
    wrong = [int(i) for i in (truth.predicted != truth.y_true).nonzero()[0]]
    assert table.row_ids == wrong[: len(table.row_ids)]
    assert all(row[1] != row[2] for row in table.rows)


def test_a_regressor_lists_its_largest_errors_first(demo):
    text = HEAD.replace("breast-cancer", "diabetes") + (
        '\n[[check]]\nid = "tiny-error"\nkind = "metric"\nmetric = "mae"\nmax = 1\n'
    )
    stored, _ = add_suite(demo, text)
    [result] = run_suite(demo, stored, "diabetes@1", record=False).results
    table = evidence_table(result.to_dict())
    errors = [abs(row[3]) for row in table.rows]
    assert table.headers[-1] == "error" and errors == sorted(errors, reverse=True)
    assert all(row[2] - row[1] == pytest.approx(row[3]) for row in table.rows)
