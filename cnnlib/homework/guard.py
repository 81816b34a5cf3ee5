"""Catch answers that call cnnlib's own solution instead of computing it.

Two independent checks: calls_reference() reads the names the answer's code uses,
and tripwires() temporarily replaces every forbidden cnnlib object with one that
raises CalledReference (a BaseException, so a student's `except Exception` cannot
swallow it) while the answer runs.
"""

import sys
import types
from contextlib import contextmanager


class CalledReference(BaseException):
    """Raised by a tripwire: the answer called cnnlib's solution."""


def _code_names(code):
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _code_names(const)
    return names


def _functions(ex, obj):
    """The student's functions to inspect: [(label, function or None if inherited)]."""
    if not ex.methods:
        return [(ex.name, obj)]
    return [(f"{ex.name}.{m}", obj.__dict__.get(m) if isinstance(obj, type) else None)
            for m in ex.methods]


def calls_reference(ex, obj):
    """A sentence saying how obj uses cnnlib's solution, or "" if it does not seem to."""
    ref = ex.reference()
    if obj is ref:
        return (f"this is cnnlib's own {ex.name}, not yours: run your cell (the one that "
                f"defines {ex.name}) again, then this check")
    # by name: every equivalent except the helpers cnnlib's solution itself calls, which the
    # tripwires catch if they are called
    used = set()
    for _, fn in ex.targets():
        used |= _code_names(getattr(fn, "__code__", compile("", "", "exec")))
    own = [o for o in ex.forbidden_objects() if o[2] not in used or o[2] == ex.name]
    forbidden = [(label, owner, attr, owner.__dict__.get(attr, getattr(owner, attr)))
                 for label, owner, attr in own]
    for label, fn in _functions(ex, obj):
        if fn is None:
            if isinstance(obj, type) and any(getattr(obj, label.split(".")[1], None) is f
                                             for *_, f in forbidden):
                return f"{label} is inherited from cnnlib, not written"
            continue
        fn = getattr(fn, "__func__", fn)
        code = getattr(fn, "__code__", None)
        if code is None:
            continue
        names = _code_names(code)
        glob = getattr(fn, "__globals__", {})
        uses_cnnlib = any(n.startswith("cnnlib") for n in names) or any(
            isinstance(glob.get(n), types.ModuleType) and glob[n].__name__.startswith("cnnlib")
            for n in names)
        closure = {n: c.cell_contents for n, c in zip(code.co_freevars, fn.__closure__ or ())
                   if _filled(c)}
        for flabel, owner, attr, fobj in forbidden:
            for n, value in closure.items():
                if value is not None and (value is fobj or getattr(fobj, "__func__", None) is value):
                    return f"{label} calls cnnlib's {flabel} (through the name {n!r})"
            for n in names:
                value = glob.get(n)
                if value is fobj or (value is owner and attr in names and
                                     isinstance(owner, type)):
                    return f"{label} calls cnnlib's {flabel} (through the name {n!r})"
            if attr in names and uses_cnnlib:
                return f"{label} calls cnnlib's {flabel}"
    return ""


def _filled(cell):
    try:
        cell.cell_contents
    except ValueError:
        return False
    return True


@contextmanager
def tripwires(ex, extra_namespaces=()):
    """While active, every forbidden object (wherever cnnlib's modules, or the given
    namespaces, hold it) raises CalledReference when called."""
    saved = []

    def wire(label):
        def tripwire(*args, **kwargs):
            raise CalledReference(f"calls cnnlib's {label}")
        return tripwire
    try:
        for label, owner, attr in ex.forbidden_objects():
            original = owner.__dict__.get(attr, getattr(owner, attr))
            target = getattr(original, "__func__", original)
            wired = wire(label)
            homes = [m.__dict__ for name, m in list(sys.modules.items())
                     if name.startswith("cnnlib") and m is not None]
            homes += list(extra_namespaces)
            for ns in homes:
                for key, value in list(ns.items()):
                    if value is original or value is target:
                        saved.append((ns, key, value))
                        ns[key] = wired
            if isinstance(owner, type):
                saved.append((owner, attr, owner.__dict__[attr]))
                setattr(owner, attr, wired)
        yield
    finally:
        for where, key, value in reversed(saved):
            if isinstance(where, dict):
                where[key] = value
            else:
                setattr(where, key, value)
