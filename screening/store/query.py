"""A small, safe filter language for ``screening rank --where``.

Grammar::

    expr   := term ("or" term)*
    term   := factor ("and" factor)*
    factor := "(" expr ")" | FIELD OP VALUE | FIELD "in" "(" VALUE ("," VALUE)* ")"
    OP     := < | <= | > | >= | = | == | !=
    VALUE  := number | 'quoted' | "quoted" | bare word

Only whitelisted fields are accepted and mapped to document paths; no ``$`` operator from
the user ever reaches MongoDB (``$where``, ``$function``, ``$accumulator`` are refused).
"""

from __future__ import annotations

import re
from typing import Any

from screening.schemas.errors import ScreeningInputError

FIELDS = {
    "candidate_id": "_id",
    "formula": "formula",
    "chemsys": "chemsys",
    "prototype": "prototype",
    "mobile_ion": "mobile_ion",
    "stage": "stage",
    "status": "status",
    "score": "score",
    "n_atoms": "n_atoms",
    "mobile_per_cm3": "mobile_per_cm3",
    "energy_per_atom_ev": "relax.energy_per_atom_ev",
    "e_hull_ev_per_atom": "stability.e_hull_ev_per_atom",
    "e_hull_used_ev_per_atom": "score_e_hull_ev_per_atom",
    "formation_energy_ev_per_atom": "stability.formation_energy_ev_per_atom",
    "ordering": "ordering",
    "tier": "evidence.tier",
    "sampling": "evidence.sampling",
    "flags": "evidence.flags",
    "activation_energy_ev": "evidence.ea_ev",
    "activation_energy_err_ev": "evidence.ea_err_ev",
    "conductivity_300k_s_cm": "evidence.sigma300_s_cm",
    "sigma_300k_s_cm": "evidence.sigma300_s_cm",
    "sigma_300k_lower_s_cm": "evidence.sigma300_lower_s_cm",
    "sigma_300k_upper_s_cm": "evidence.sigma300_upper_s_cm",
    "sigma300_width_decades": "evidence.sigma300_width_decades",
    "t_k": "evidence.t_k",
    "t_max_k": "evidence.t_k",
    "d_cm2_s": "evidence.d_cm2_s",
    "d_tmax_cm2_s": "evidence.d_cm2_s",
    "d_upper_cm2_s": "evidence.d_upper_cm2_s",
    "d_tmax_upper_cm2_s": "evidence.d_upper_cm2_s",
    "n_eff": "evidence.n_eff",
    "melting_estimate_k": "evidence.melting_estimate_k",
}
"""--where names -> document paths: every column of the ranking table (the same stored
fields the table prints), and more. ``flags = lever_arm`` matches a candidate carrying that
flag among others."""
TEXT_FIELDS = frozenset(
    {
        "candidate_id",
        "formula",
        "chemsys",
        "prototype",
        "mobile_ion",
        "stage",
        "status",
        "tier",
        "sampling",
        "flags",
    }
)
"""--where fields compared with text; every other field takes a number."""
_OPS = {"<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte", "=": "$eq", "==": "$eq", "!=": "$ne"}
_TOKEN = re.compile(
    r"\s*(?:(?P<num>-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)|(?P<op><=|>=|==|!=|<|>|=)"
    r"|(?P<par>[()])|(?P<comma>,)|(?P<str>'[^']*'|\"[^\"]*\")|(?P<word>[A-Za-z_][A-Za-z0-9_.\-]*))"
)
_MAX_LEN = 1000


class WhereError(ScreeningInputError):
    """The --where expression is not valid; the message says why."""


def _tokens(text: str) -> list[tuple[str, str]]:
    if "$" in text:
        m = re.search(r"\$\w*", text)
        raise WhereError(f"--where: operator '{m.group(0)}' is not allowed")
    if len(text) > _MAX_LEN:
        raise WhereError(f"--where: expression longer than {_MAX_LEN} characters")
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise WhereError(
                f"--where: unexpected character {text[pos:].lstrip()[:1]!r} at position {pos}"
            )
        kind = m.lastgroup
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.t = tokens
        self.i = 0
        self.depth = 0

    def peek(self) -> tuple[str, str] | None:
        return self.t[self.i] if self.i < len(self.t) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise WhereError("--where: expression ends too early")
        self.i += 1
        return tok

    def expr(self) -> dict:
        parts = [self.term()]
        while self.peek() and self.peek()[1].lower() == "or":
            self.take()
            parts.append(self.term())
        return parts[0] if len(parts) == 1 else {"$or": parts}

    def term(self) -> dict:
        parts = [self.factor()]
        while self.peek() and self.peek()[1].lower() == "and":
            self.take()
            parts.append(self.factor())
        return parts[0] if len(parts) == 1 else {"$and": parts}

    def factor(self) -> dict:
        kind, val = self.take()
        if val == "(":
            self.depth += 1
            if self.depth > 20:
                raise WhereError("--where: parentheses nested too deeply")
            inner = self.expr()
            if self.take()[1] != ")":
                raise WhereError("--where: missing ')'")
            self.depth -= 1
            return inner
        if kind != "word" or val.lower() in ("and", "or"):
            raise WhereError(f"--where: expected a field name, got {val!r}")
        if val not in FIELDS:
            raise WhereError(f"--where: unknown field '{val}' (allowed: {', '.join(FIELDS)})")
        okind, op = self.take()
        if okind == "word" and op.lower() == "in":
            return {FIELDS[val]: {"$in": [self.typed(val, v) for v in self.value_list(val)]}}
        if okind != "op":
            raise WhereError(f"--where: expected a comparison after '{val}', got {op!r}")
        return {FIELDS[val]: {_OPS[op]: self.typed(val, self.value(f"{val} {op}"))}}

    @staticmethod
    def typed(field: str, value: Any) -> Any:
        """``value`` checked against the field's kind: a number field never silently
        compares with a word (which would match nothing)."""
        if field not in TEXT_FIELDS and not isinstance(value, float):
            raise WhereError(f"--where: {field} takes a number, got {value!r}")
        return value

    def value(self, after: str) -> Any:
        vkind, raw = self.take()
        if vkind == "num":
            return float(raw)
        if vkind == "str":
            return raw[1:-1]
        if vkind == "word" and raw.lower() not in ("and", "or", "in"):
            return raw
        raise WhereError(f"--where: expected a value after '{after}', got {raw!r}")

    def value_list(self, field: str) -> list:
        if self.take()[1] != "(":
            raise WhereError(f"--where: expected '(' after '{field} in'")
        values = [self.value(f"{field} in (")]
        while (tok := self.take())[1] == ",":
            values.append(self.value(f"{field} in (..., "))
        if tok[1] != ")":
            raise WhereError(f"--where: expected ',' or ')' in '{field} in (...)', got {tok[1]!r}")
        return values


def parse_where(text: str) -> dict:
    """Translate a --where expression into a MongoDB filter.

    Raises
    ------
    WhereError
        For anything that is not a valid expression over whitelisted fields.
    """
    if not isinstance(text, str) or not text.strip():
        raise WhereError("--where: empty expression")
    parser = _Parser(_tokens(text))
    result = parser.expr()
    if parser.peek() is not None:
        raise WhereError(f"--where: unexpected {parser.peek()[1]!r} after a complete expression")
    return result
