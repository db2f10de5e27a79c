"""Row filters in suites (``where = "age >= 65 and region == 'north'"``), without ``eval``.

A suite is untrusted text, so its filters are parsed by this small grammar and
evaluated column by column with numpy; nothing in them can call, import or index::

    expr     := and ("or" and)*
    and      := unary ("and" unary)*
    unary    := "not" unary | compare
    compare  := operand (("==" | "!=" | "<" | "<=" | ">" | ">=") operand
                         | ["not"] "in" "[" literal ("," literal)* "]")?
    operand  := NUMBER | STRING | "true" | "false" | column | "(" expr ")"
    column   := WORD (WORD)*  |  `any name`

A column is named as it is written, words joined by one space (``mean radius > 10``),
or between backticks for any other name. A comparison with a missing value (null, NaN)
is false, and ``not`` keeps exactly the rows its operand drops (as pandas' ``query``).
Errors name the position (1-based column in the expression) and the problem.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from modeldesk.errors import BadInputError

__all__ = ["Expression", "ExpressionError", "parse_expression"]

MAX_LENGTH = 2000  # characters; a filter is a line, not a program
MAX_DEPTH = 40  # nested parentheses and nots
KEYWORDS = {"and", "or", "not", "in", "true", "false"}
COMPARISONS = ("==", "!=", "<=", ">=", "<", ">")

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<quoted>`[^`\n]+`)
  | (?P<op>==|!=|<=|>=|<|>|\(|\)|\[|\]|,|-)
  | (?P<word>[^\W\d]\w*|\d\w*[^\W\d]\w*)
    """,
    re.VERBOSE,
)


class ExpressionError(BadInputError):
    """A filter that does not parse, or names a column it cannot use.

    ``column`` is the 1-based position of the problem in the filter, when it has one
    (an editor underlines it there)."""

    def __init__(self, message: str, *, column: int | None = None) -> None:
        super().__init__(message)
        self.column = column


@dataclass(frozen=True)
class _Token:
    kind: str  # number, string, quoted, op, word, end
    text: str
    at: int  # 0-based offset in the expression


@dataclass(frozen=True)
class Literal:
    value: float | str | bool
    at: int


@dataclass(frozen=True)
class Column:
    name: str
    at: int


@dataclass(frozen=True)
class Compare:
    op: str
    left: Node
    right: Node
    at: int


@dataclass(frozen=True)
class Member:
    operand: Node
    values: tuple[float | str | bool, ...]
    negated: bool
    at: int


@dataclass(frozen=True)
class Logic:
    op: str  # and, or
    parts: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    operand: Node


Node = Literal | Column | Compare | Member | Logic | Not


def _tokens(text: str, where: str) -> list[_Token]:
    found, position = [], 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise ExpressionError(
                f"{where}: unexpected {text[position]!r} at column {position + 1}",
                column=position + 1,
            )
        kind = match.lastgroup or ""
        if kind != "space":
            found.append(_Token(kind, match.group(), position))
        position = match.end()
    found.append(_Token("end", "", len(text)))
    return found


def _unquote(token: _Token) -> str:
    body = token.text[1:-1]
    return re.sub(r"\\(.)", r"\1", body)


class _Parser:
    def __init__(self, text: str, where: str) -> None:
        self.where = where
        self.tokens = _tokens(text, where)
        self.index = 0
        self.depth = 0

    @property
    def token(self) -> _Token:
        return self.tokens[self.index]

    def fail(self, problem: str, at: int | None = None) -> ExpressionError:
        column = (self.token.at if at is None else at) + 1
        return ExpressionError(f"{self.where}: {problem} at column {column}", column=column)

    def shown(self) -> str:
        return repr(self.token.text) if self.token.kind != "end" else "the end"

    def next(self) -> _Token:
        token = self.token
        self.index += 1
        return token

    def is_word(self, *words: str) -> bool:
        return self.token.kind == "word" and self.token.text.lower() in words

    def expect_op(self, text: str) -> _Token:
        if self.token.kind != "op" or self.token.text != text:
            raise self.fail(f"expected {text!r}, found {self.shown()}")
        return self.next()

    def parse(self) -> Node:
        node = self.expression()
        if self.token.kind != "end":
            raise self.fail(f"unexpected {self.token.text!r}")
        return node

    def nested(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(f"nested deeper than {MAX_DEPTH} levels")

    def expression(self) -> Node:
        parts = [self.conjunction()]
        while self.is_word("or"):
            self.next()
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else Logic("or", tuple(parts))

    def conjunction(self) -> Node:
        parts = [self.unary()]
        while self.is_word("and"):
            self.next()
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else Logic("and", tuple(parts))

    def unary(self) -> Node:
        if self.is_word("not"):
            self.next()
            self.nested()
            operand = self.unary()
            self.depth -= 1
            return Not(operand)
        return self.comparison()

    def comparison(self) -> Node:
        left = self.operand()
        token = self.token
        if token.kind == "op" and token.text in COMPARISONS:
            self.next()
            return Compare(token.text, left, self.operand(), token.at)
        negated = False
        if self.is_word("not") and self.tokens[self.index + 1].text.lower() == "in":
            self.next()
            negated = True
        if self.is_word("in"):
            at = self.next().at
            return Member(left, self.literal_list(), negated, at)
        return left

    def literal_list(self) -> tuple[float | str | bool, ...]:
        self.expect_op("[")
        values = [self.literal().value]
        while self.token.kind == "op" and self.token.text == ",":
            self.next()
            values.append(self.literal().value)
        self.expect_op("]")
        return tuple(values)

    def literal(self) -> Literal:
        node = self.operand()
        if not isinstance(node, Literal):
            raise self.fail("a list holds numbers, strings, true or false", getattr(node, "at", 0))
        return node

    def operand(self) -> Node:
        token = self.token
        if token.kind == "op" and token.text == "(":
            self.next()
            self.nested()
            node = self.expression()
            self.depth -= 1
            self.expect_op(")")
            return node
        if token.kind == "op" and token.text == "-":
            self.next()
            number = self.token
            if number.kind != "number":
                raise self.fail("'-' must come before a number")
            self.next()
            return Literal(-float(number.text), token.at)
        if token.kind == "number":
            self.next()
            return Literal(float(token.text), token.at)
        if token.kind == "string":
            self.next()
            return Literal(_unquote(token), token.at)
        if token.kind == "quoted":
            self.next()
            return Column(token.text[1:-1], token.at)
        if token.kind == "word" and token.text.lower() in ("true", "false"):
            self.next()
            return Literal(token.text.lower() == "true", token.at)
        if token.kind == "word" and token.text.lower() not in KEYWORDS:
            words = [self.next()]
            while self.token.kind == "word" and self.token.text.lower() not in KEYWORDS:
                words.append(self.next())
            return Column(" ".join(word.text for word in words), token.at)
        raise self.fail(f"expected a column, a number or a string, found {self.shown()}")


def _columns_of(node: Node) -> list[Column]:
    if isinstance(node, Column):
        return [node]
    if isinstance(node, Compare):
        return _columns_of(node.left) + _columns_of(node.right)
    if isinstance(node, Member):
        return _columns_of(node.operand)
    if isinstance(node, Logic):
        return [column for part in node.parts for column in _columns_of(part)]
    if isinstance(node, Not):
        return _columns_of(node.operand)
    return []


@dataclass(frozen=True)
class Expression:
    """A parsed filter: which columns it reads, and the rows it keeps."""

    text: str
    root: Node
    where: str

    @property
    def columns(self) -> list[str]:
        """The column names it reads, in order of appearance, each once."""
        return list(dict.fromkeys(column.name for column in _columns_of(self.root)))

    def check_columns(self, available: Mapping[str, str]) -> None:
        """Refuse names not in ``available`` (name -> dtype) and text/number mix-ups."""
        for column in _columns_of(self.root):
            if column.name not in available:
                raise ExpressionError(
                    f"{self.where}: no column {column.name!r} at column {column.at + 1}",
                    column=column.at + 1,
                )

    def mask(self, table: Mapping[str, np.ndarray]) -> np.ndarray:
        """A boolean per row: True where the filter holds (a missing value never does)."""
        rows = len(next(iter(table.values()))) if table else 0
        return _condition(self.root, table, rows, self)


def _evaluate(node: Node, table: Mapping[str, np.ndarray], rows: int, expr: Expression) -> Any:
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Column):
        if node.name not in table:
            raise ExpressionError(
                f"{expr.where}: no column {node.name!r} at column {node.at + 1}",
                column=node.at + 1,
            )
        return table[node.name]
    if isinstance(node, Not):
        return ~_condition(node.operand, table, rows, expr)
    if isinstance(node, Logic):
        masks = [_condition(part, table, rows, expr) for part in node.parts]
        combined = masks[0]
        for mask in masks[1:]:
            combined = combined & mask if node.op == "and" else combined | mask
        return combined
    if isinstance(node, Member):
        values = _evaluate(node.operand, table, rows, expr)
        _same_kind(values, node.values, node.at, expr)
        inside = np.isin(np.asarray(values, dtype=object), np.asarray(node.values, dtype=object))
        return ~inside & _present(values) if node.negated else inside
    left = _evaluate(node.left, table, rows, expr)
    right = _evaluate(node.right, table, rows, expr)
    _same_kind(left, (right,), node.at, expr)
    compared = _compare(node.op, left, right)
    return np.broadcast_to(np.asarray(compared, dtype=bool) & _present(left) & _present(right),
                           (rows,)).copy()  # fmt: skip


def _condition(node: Node, table: Mapping[str, np.ndarray], rows: int, expr: Expression) -> Any:
    value = _evaluate(node, table, rows, expr)
    if isinstance(value, np.ndarray) and value.dtype == np.bool_:
        return value
    if isinstance(value, bool):
        return np.full(rows, value)
    raise ExpressionError(f"{expr.where}: {expr.text!r} is a value, not a condition")


def _is_text(value: Any) -> bool:
    if isinstance(value, np.ndarray):
        return value.dtype.kind in "OUS"
    return isinstance(value, str)


def _same_kind(left: Any, others: tuple[Any, ...], at: int, expr: Expression) -> None:
    for other in others:
        if _is_text(left) != _is_text(other):
            raise ExpressionError(
                f"{expr.where}: compares text with a number at column {at + 1}", column=at + 1
            )


def _present(value: Any) -> Any:
    """False where a value is missing (None, NaN); True for a literal."""
    if not isinstance(value, np.ndarray):
        return True
    if value.dtype.kind == "f":
        return ~np.isnan(value)
    if value.dtype.kind == "O":
        return np.array([item is not None for item in value], dtype=bool)
    return np.ones(len(value), dtype=bool)


def _compare(op: str, left: Any, right: Any) -> Any:
    if _is_text(left):
        left = np.asarray(left, dtype=object)
        right = np.asarray(right, dtype=object) if isinstance(right, np.ndarray) else right
        present = _present(left) & _present(right)
        left = np.where(present, left, "")
        right = np.where(present, right, "") if isinstance(right, np.ndarray) else right
    with np.errstate(invalid="ignore"):
        if op == "==":
            return left == right
        if op == "!=":
            return left != right
        if op == "<":
            return left < right
        if op == "<=":
            return left <= right
        if op == ">":
            return left > right
        return left >= right


def parse_expression(text: str, *, where: str = "filter") -> Expression:
    """Parse a filter; ``where`` starts every error (``suite.toml line 12: check 'x'``)."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError(f"{where}: the filter is empty")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"{where}: the filter is longer than {MAX_LENGTH} characters")
    return Expression(text, _Parser(text, where).parse(), where)
