"""A JQL parser and evaluator for the Jira emulator: the subset relctl and its users need.

Grammar (case-insensitive keywords):

    query   := [or] [ORDER BY field [ASC|DESC] {, field [ASC|DESC]}]
    or      := and {OR and}
    and     := not {AND not}
    not     := NOT not | '(' or ')' | clause
    clause  := field op value | field [NOT] IN '(' value {, value} ')'
             | field IS [NOT] (EMPTY | NULL)
    op      := = | != | ~ | !~ | < | <= | > | >=
    value   := word | "double quoted" | 'single quoted'

Quoted strings take backslash escapes (\\" \\' \\\\ \\n \\t \\r \\uXXXX). Reserved words
and characters must be quoted, as in Jira. Errors carry Jira's wording and position.

This module knows nothing about HTTP: the emulator supplies field values through a
callback.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

OPERATORS = ("=", "!=", "~", "!~", "<", "<=", ">", ">=")
VALID_OPERATORS = "'=', '!=', '<', '>', '<=', '>=', '~', '!~', 'IN', 'NOT IN', 'IS' and 'IS NOT'"
# Jira's reserved words (a subset of its list): unquoted, they are an error as values.
RESERVED = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "changed",
        "do",
        "empty",
        "false",
        "for",
        "from",
        "if",
        "in",
        "into",
        "is",
        "it",
        "like",
        "not",
        "null",
        "of",
        "on",
        "or",
        "order",
        "select",
        "set",
        "such",
        "that",
        "the",
        "then",
        "to",
        "true",
        "was",
        "when",
        "where",
        "while",
        "with",
    ]
)
_RESERVED_CHARS = set("+.,;?|*/%^$#@[]")
_WORD = re.compile(r"[^\s=!~<>()\"',]+")


class JqlError(ValueError):
    """A query Jira would reject with HTTP 400; the message is Jira's."""


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # word, string, op, lparen, rparen, comma, end
    text: str
    position: int  # 1-based character

    def upper(self) -> str:
        return self.text.upper() if self.kind == "word" else ""


def _error(message: str, token: Token) -> JqlError:
    return JqlError(f"Error in the JQL Query: {message} (line 1, character {token.position})")


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char.isspace():
            index += 1
            continue
        start = index + 1
        if char in "\"'":
            value, index = _quoted(text, index)
            tokens.append(Token("string", value, start))
            continue
        if char == "(":
            tokens.append(Token("lparen", char, start))
            index += 1
        elif char == ")":
            tokens.append(Token("rparen", char, start))
            index += 1
        elif char == ",":
            tokens.append(Token("comma", char, start))
            index += 1
        elif text.startswith(("!=", "!~", "<=", ">="), index):
            tokens.append(Token("op", text[index : index + 2], start))
            index += 2
        elif char in "=~<>":
            tokens.append(Token("op", char, start))
            index += 1
        else:
            match = _WORD.match(text, index)
            if match is None:
                raise JqlError(
                    f"Error in the JQL Query: The character '{char}' is a reserved "
                    f"JQL character. You must enclose it in a string or use the "
                    f"escape '\\u{ord(char):04x}' instead. (line 1, character {start})"
                )
            tokens.append(Token("word", match.group(), start))
            index = match.end()
    tokens.append(Token("end", "", len(text) + 1))
    return tokens


def _quoted(text: str, index: int) -> tuple[str, int]:
    quote = text[index]
    out = []
    position = index + 1
    while position < len(text):
        char = text[position]
        if char == "\\":
            if position + 1 >= len(text):
                break
            following = text[position + 1]
            if following == "u" and re.fullmatch(
                r"[0-9a-fA-F]{4}", text[position + 2 : position + 6]
            ):
                out.append(chr(int(text[position + 2 : position + 6], 16)))
                position += 6
                continue
            escapes = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", " ": " "}
            if following not in escapes:
                raise JqlError(
                    f"Error in the JQL Query: '\\{following}' is an illegal JQL "
                    f"escape sequence. The valid escape sequences are \\', \\\", "
                    f"\\t, \\n, \\r, \\\\, '\\ ' and \\uXXXX. "
                    f"(line 1, character {position + 1})"
                )
            out.append(escapes[following])
            position += 2
        elif char == quote:
            return "".join(out), position + 1
        else:
            out.append(char)
            position += 1
    raise JqlError(
        f"Error in the JQL Query: The quoted string '{''.join(out)}' has not been "
        f"completed. (line 1, character {index + 1})"
    )


# --- The syntax tree -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Clause:
    field: str
    operator: str  # =, !=, ~, !~, <, <=, >, >=, in, not in, is, is not
    values: tuple[str | None, ...]  # None stands for EMPTY


@dataclass(frozen=True, slots=True)
class Not:
    operand: Node


@dataclass(frozen=True, slots=True)
class And:
    operands: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    operands: tuple[Node, ...]


Node = Clause | Not | And | Or


@dataclass(frozen=True, slots=True)
class Query:
    where: Node | None
    order_by: tuple[tuple[str, bool], ...]  # (field, descending)


class _Parser:
    def __init__(self, tokens: Sequence[Token], fields: Callable[[str], str | None]) -> None:
        self.tokens = tokens
        self.index = 0
        self.fields = fields

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def take(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def at_word(self, *words: str) -> bool:
        return self.current.upper() in words

    def query(self) -> Query:
        where = None
        if not self.at_word("ORDER") and self.current.kind != "end":
            where = self.or_()
        order: list[tuple[str, bool]] = []
        if self.at_word("ORDER"):
            self.take()
            if not self.at_word("BY"):
                raise _error(f"Expecting 'BY' but got '{self.current.text}'.", self.current)
            self.take()
            while True:
                field = self.field_name()
                descending = False
                if self.at_word("ASC", "DESC"):
                    descending = self.take().upper() == "DESC"
                order.append((field, descending))
                if self.current.kind != "comma":
                    break
                self.take()
        if self.current.kind != "end":
            raise _error(
                f"Expecting either 'OR' or 'AND' but got '{self.current.text}'.", self.current
            )
        return Query(where, tuple(order))

    def or_(self) -> Node:
        operands = [self.and_()]
        while self.at_word("OR"):
            self.take()
            operands.append(self.and_())
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def and_(self) -> Node:
        operands = [self.not_()]
        while self.at_word("AND"):
            self.take()
            operands.append(self.not_())
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def not_(self) -> Node:
        if self.at_word("NOT"):
            self.take()
            return Not(self.not_())
        if self.current.kind == "lparen":
            self.take()
            inner = self.or_()
            if self.current.kind != "rparen":
                raise _error(
                    f"Expecting ')' but got '{self.current.text or '<EOF>'}'.", self.current
                )
            self.take()
            return inner
        return self.clause()

    def field_name(self) -> str:
        token = self.current
        if token.kind not in ("word", "string"):
            raise _error(f"Expecting a field name but got '{token.text or '<EOF>'}'.", token)
        self.take()
        canonical = self.fields(token.text)
        if canonical is None:
            raise JqlError(
                f"Field '{token.text}' does not exist or you do not have permission to view it."
            )
        return canonical

    def clause(self) -> Clause:
        if self.current.kind == "end":
            raise _error("Expecting a field name but got '<EOF>'.", self.current)
        field = self.field_name()
        token = self.current
        if token.kind == "op":
            self.take()
            return Clause(field, token.text, (self.value(),))
        if self.at_word("IN"):
            self.take()
            return Clause(field, "in", self.values())
        if self.at_word("NOT"):
            self.take()
            if not self.at_word("IN"):
                raise _error(f"Expecting 'IN' but got '{self.current.text}'.", self.current)
            self.take()
            return Clause(field, "not in", self.values())
        if self.at_word("IS"):
            self.take()
            negated = False
            if self.at_word("NOT"):
                self.take()
                negated = True
            if not self.at_word("EMPTY", "NULL"):
                raise _error(
                    f"Expecting 'EMPTY' or 'NULL' but got '{self.current.text}'.", self.current
                )
            self.take()
            return Clause(field, "is not" if negated else "is", (None,))
        got = token.text or "<EOF>"
        raise _error(
            f"Expecting operator but got '{got}'. The valid operators are {VALID_OPERATORS}.", token
        )

    def value(self) -> str | None:
        token = self.current
        if token.kind == "string":
            self.take()
            return token.text
        if token.kind == "word":
            word = token.text
            if word.upper() in ("EMPTY", "NULL"):
                self.take()
                return None
            if word.lower() in RESERVED:
                raise _error(
                    f"'{word}' is a reserved JQL word. You must surround it in "
                    "quotation marks to use it in a query.",
                    token,
                )
            bad = next((c for c in word if c in _RESERVED_CHARS and c not in "-.:/"), None)
            if bad is not None:
                raise _error(
                    f"The character '{bad}' is a reserved JQL character. You must "
                    "enclose it in a string or use the escape "
                    f"'\\u{ord(bad):04x}' instead.",
                    token,
                )
            self.take()
            return word
        raise _error(
            f"Expecting either a value, list or function but got '{token.text or '<EOF>'}'.", token
        )

    def values(self) -> tuple[str | None, ...]:
        if self.current.kind != "lparen":
            raise _error(f"Expecting '(' but got '{self.current.text or '<EOF>'}'.", self.current)
        self.take()
        found = [self.value()]
        while self.current.kind == "comma":
            self.take()
            found.append(self.value())
        if self.current.kind != "rparen":
            raise _error(f"Expecting ')' but got '{self.current.text or '<EOF>'}'.", self.current)
        self.take()
        return tuple(found)


def parse(text: str, fields: Callable[[str], str | None]) -> Query:
    """Parse `text`; `fields` maps a field name as written to its canonical name (or None)."""
    return _Parser(tokenize(text), fields).query()


# --- Evaluation --------------------------------------------------------------------------

Values = Callable[[str], Sequence[str] | None]
"""For one issue: a field's values (lower-cased for comparison), or None when empty."""

DATE_FIELDS = frozenset({"updated", "created", "resolutiondate", "duedate"})
_DATE_FORMATS = ("%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M", "%Y-%m-%d", "%Y/%m/%d")


def parse_date(value: str) -> datetime:
    for pattern in _DATE_FORMATS:
        try:
            return datetime.strptime(value, pattern)
        except ValueError:
            continue
    raise JqlError(
        f"Date value '{value}' for field 'updated' is invalid. Valid formats "
        "include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', "
        "'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'."
    )


def matches(node: Node | None, values: Values, dates: Callable[[str], datetime | None]) -> bool:
    """Whether one issue satisfies the query tree."""
    if node is None:
        return True
    if isinstance(node, And):
        return all(matches(n, values, dates) for n in node.operands)
    if isinstance(node, Or):
        return any(matches(n, values, dates) for n in node.operands)
    if isinstance(node, Not):
        return not matches(node.operand, values, dates)
    return _clause(node, values, dates)


def _clause(clause: Clause, values: Values, dates: Callable[[str], datetime | None]) -> bool:
    op = clause.operator
    if clause.field in DATE_FIELDS and op in ("<", "<=", ">", ">=", "=", "!="):
        actual = dates(clause.field)
        written = clause.values[0]
        if actual is None or written is None:
            return False
        target = parse_date(written)
        return {
            "<": actual < target,
            "<=": actual <= target,
            ">": actual > target,
            ">=": actual >= target,
            "=": actual == target,
            "!=": actual != target,
        }[op]
    have = values(clause.field)
    if op in ("is", "is not"):
        return (not have) == (op == "is")
    wanted = [v.lower() for v in clause.values if v is not None]
    wants_empty = any(v is None for v in clause.values)
    present = set(have or ())
    if op in ("=", "in"):
        return bool(present & set(wanted)) or (wants_empty and not have)
    if op in ("!=", "not in"):
        # Jira: an issue with no value never matches != / NOT IN (except against EMPTY).
        if not have:
            return False
        return not (present & set(wanted))
    if op in ("~", "!~"):
        terms = [w for v in wanted for w in re.findall(r"\w+", v)]
        text = " ".join(have or ())
        hit = all(re.search(rf"\b{re.escape(t)}", text) for t in terms) if terms else False
        return hit if op == "~" else not hit
    raise JqlError(f"The operator '{op}' is not supported by the '{clause.field}' field.")
