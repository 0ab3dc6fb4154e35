"""Safe parsing and evaluation of law formulas and prior expressions.

A formula is a Python-like arithmetic expression such as
``E + A * x^(-alpha)``.  It is parsed with :mod:`ast` into a tree that is
checked against an allow-list (numbers, names, ``+ - * / ** ^``, unary minus
and a short list of functions); anything else raises :class:`LawError`.
The checked tree is never handed to ``eval``: it is walked by
:func:`evaluate`, which maps each node onto a *backend* (numpy for plain
evaluation, PyTensor for the PyMC model), so one parsed formula serves both.

Written by hand because no maintained library offers a small, safe,
backend-agnostic arithmetic evaluator that emits PyTensor graphs.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
from scipy import special

from ..errors import LawError

__all__ = ["Formula", "parse", "evaluate", "NUMPY", "pytensor_backend", "FUNCTIONS"]

#: Functions a formula may call, with their arity.
FUNCTIONS: dict[str, int] = {
    "exp": 1,
    "log": 1,
    "log10": 1,
    "log1p": 1,
    "sqrt": 1,
    "abs": 1,
    "tanh": 1,
    "sigmoid": 1,
    "softplus": 1,
    "logaddexp": 2,
}

_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_UNARY = {ast.USub: "-", ast.UAdd: "+"}


@dataclass(frozen=True)
class Formula:
    """A checked expression.

    Attributes
    ----------
    text : str
        The source text as given.
    tree : ast.expr
        The allow-listed syntax tree.
    names : frozenset of str
        Every free name the expression uses.
    """

    text: str
    tree: ast.expr
    names: frozenset[str]

    def __call__(self, env: Mapping[str, Any], backend: Mapping[str, Any] | None = None):
        return evaluate(self, env, backend)


def _check(node: ast.AST, text: str, names: set[str]) -> None:
    def bad(what: str) -> LawError:
        return LawError(
            f"formula {text!r}: {what} is not allowed; use numbers, names, + - * / ** ^ "
            f"and the functions {', '.join(sorted(FUNCTIONS))}"
        )

    if isinstance(node, ast.Expression):
        _check(node.body, text, names)
    elif isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise bad(f"the constant {node.value!r}")
    elif isinstance(node, ast.Name):
        if node.id.startswith("_"):
            raise bad(f"the name {node.id!r} (leading underscore)")
        names.add(node.id)
    elif isinstance(node, ast.BinOp):
        if type(node.op) not in _BINOPS:
            raise bad(f"the operator {type(node.op).__name__}")
        _check(node.left, text, names)
        _check(node.right, text, names)
    elif isinstance(node, ast.UnaryOp):
        if type(node.op) not in _UNARY:
            raise bad(f"the operator {type(node.op).__name__}")
        _check(node.operand, text, names)
    elif isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            fname = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
            raise bad(f"calling {fname!r}")
        if node.keywords:
            raise bad(f"keyword arguments to {node.func.id!r}")
        if len(node.args) != FUNCTIONS[node.func.id]:
            raise LawError(
                f"formula {text!r}: {node.func.id}() takes {FUNCTIONS[node.func.id]} "
                f"argument(s), got {len(node.args)}"
            )
        for a in node.args:
            if isinstance(a, ast.Starred):
                raise bad("a starred argument")
            _check(a, text, names)
    else:
        raise bad(f"the construct {type(node).__name__!r}")


def parse(text: str) -> Formula:
    """Parse and check a formula.

    ``^`` is read as a power (as papers write it), like ``**``.

    Raises
    ------
    LawError
        If the text is not an expression or uses anything outside the allow-list.
    """
    if not isinstance(text, str) or not text.strip():
        raise LawError(f"formula must be a non-empty string, got {text!r}")
    if len(text) > 2000:
        raise LawError("formula is longer than 2000 characters; write a shorter expression")
    src = text.replace("^", "**")
    try:
        tree = ast.parse(src.strip(), mode="eval")
    except SyntaxError as exc:
        raise LawError(f"formula {text!r} is not a valid expression: {exc.msg}") from None
    names: set[str] = set()
    _check(tree, text, names)
    # FUNCTIONS' names are never free variables
    return Formula(text=text, tree=tree.body, names=frozenset(names - set(FUNCTIONS)))


def _np_softplus(x):
    return np.logaddexp(0.0, x)


#: numpy backend: evaluates on floats and broadcasting arrays.
NUMPY: dict[str, Any] = {
    "exp": np.exp,
    "log": np.log,
    "log10": np.log10,
    "log1p": np.log1p,
    "sqrt": np.sqrt,
    "abs": np.abs,
    "tanh": np.tanh,
    "sigmoid": special.expit,
    "softplus": _np_softplus,
    "logaddexp": np.logaddexp,
}


def pytensor_backend() -> dict[str, Any]:
    """Backend that builds PyTensor graphs (imported lazily: PyTensor is slow to import)."""
    import pytensor.tensor as pt

    return {
        "exp": pt.exp,
        "log": pt.log,
        "log10": pt.log10,
        "log1p": pt.log1p,
        "sqrt": pt.sqrt,
        "abs": pt.abs,
        "tanh": pt.tanh,
        "sigmoid": pt.sigmoid,
        "softplus": pt.softplus,
        "logaddexp": pt.logaddexp,
    }


def _eval(node: ast.expr, env: Mapping[str, Any], be: Mapping[str, Any]):
    if isinstance(node, ast.Constant):
        return float(node.value)
    if isinstance(node, ast.Name):
        try:
            return env[node.id]
        except KeyError:
            raise LawError(f"the name {node.id!r} has no value here") from None
    if isinstance(node, ast.BinOp):
        a = _eval(node.left, env, be)
        b = _eval(node.right, env, be)
        op = type(node.op)
        if op is ast.Add:
            return a + b
        if op is ast.Sub:
            return a - b
        if op is ast.Mult:
            return a * b
        if op is ast.Div:
            return a / b
        return a**b
    if isinstance(node, ast.UnaryOp):
        v = _eval(node.operand, env, be)
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.Call):
        return be[node.func.id](*(_eval(a, env, be) for a in node.args))
    raise LawError(f"cannot evaluate {ast.unparse(node)!r}")  # unreachable after _check


def evaluate(formula: Formula, env: Mapping[str, Any], backend: Mapping[str, Any] | None = None):
    """Evaluate a checked formula.

    Parameters
    ----------
    formula : Formula
        Output of :func:`parse`.
    env : mapping
        Values for every free name (numbers, numpy arrays or PyTensor variables).
    backend : mapping, optional
        Function table; :data:`NUMPY` by default.
    """
    missing = formula.names - set(env)
    if missing:
        raise LawError(f"formula {formula.text!r} needs values for {', '.join(sorted(missing))}")
    be = NUMPY if backend is None else backend
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        return _eval(formula.tree, env, be)


def parse_call(text: str) -> tuple[str, dict[str, Formula]]:
    """Parse ``Name(key=expr, ...)``, the form of a prior, into its name and argument formulas."""
    if not isinstance(text, str) or not text.strip():
        raise LawError(f"expected 'Name(key=value, ...)', got {text!r}")
    try:
        tree = ast.parse(text.replace("^", "**").strip(), mode="eval").body
    except SyntaxError as exc:
        raise LawError(f"{text!r} is not of the form 'Name(key=value, ...)': {exc.msg}") from None
    if not isinstance(tree, ast.Call) or not isinstance(tree.func, ast.Name) or tree.args:
        raise LawError(f"{text!r} is not of the form 'Name(key=value, ...)' with keyword arguments")
    args: dict[str, Formula] = {}
    for kw in tree.keywords:
        if kw.arg is None:
            raise LawError(f"{text!r}: '**' is not allowed")
        sub = ast.unparse(kw.value)
        args[kw.arg] = parse(sub)
    return tree.func.id, args
