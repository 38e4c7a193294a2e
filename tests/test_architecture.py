"""The layer rules of docs/architecture.md, checked on the source itself (the ast module, no imports run).

Layers, lowest first: errors/_version -> core -> metrics, safety, engine -> reporting -> wings ->
cli, serve, sampling, the package root. A module imports only its own layer or lower ones; a wing
imports another wing only where its ``__init__`` declares it (``USES = ("images",)``); no import
circles; no private name imported across modules; kind names (core/registry.py) only in the registry
and in the wing that owns them. Imports under ``if TYPE_CHECKING:`` are annotations, not dependencies.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "ganforge"


def registry_kinds() -> dict[str, str]:
    """core/registry.py's KINDS table (kind -> wing module), read without importing anything."""
    tree = ast.parse((SRC / "core" / "registry.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "KINDS":
            return ast.literal_eval(node.value)
    raise AssertionError("core/registry.py defines no KINDS table")


# The wings are the packages the registry names: a new kind needs no edit here.
WINGS = {path.split(".")[1] for path in registry_kinds().values()}
LAYERS = {
    "errors": 0, "_version": 0,
    "core": 1,
    "metrics": 2, "safety": 2, "engine": 2,
    "reporting": 3,
    **{wing: 4 for wing in WINGS},
    "cli": 5, "serve": 5, "sampling": 5, "__init__": 5, "__main__": 5,
}  # fmt: skip


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(SRC.rglob("*.py"))}


def top(module: str) -> str:
    """The first component under ganforge: the layer key."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return skip


def imports(module: str) -> list[tuple[str, str, int]]:
    """(imported module, imported name or '', line) for every ganforge import of ``module``."""
    path = MODULES[module]
    tree = ast.parse(path.read_text())
    skip = _type_checking_nodes(tree)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "ganforge":
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if sub in MODULES:
                    found.append((sub, "", node.lineno))
                else:
                    found.append((target, alias.name, node.lineno))
        elif isinstance(node, ast.Import):
            found += [(a.name, "", node.lineno) for a in node.names if a.name.split(".")[0] == "ganforge"]
    return found


def wing_of(module: str) -> str | None:
    return top(module) if top(module) in WINGS else None


def declared_uses(wing: str) -> set[str]:
    tree = ast.parse((SRC / wing / "__init__.py").read_text())
    for node in tree.body:
        targets = (
            node.targets
            if isinstance(node, ast.Assign)
            else [node.target]
            if isinstance(node, ast.AnnAssign)
            else []
        )
        if any(getattr(t, "id", "") == "USES" for t in targets) and node.value is not None:
            return set(ast.literal_eval(node.value))
    return set()


def test_every_top_level_module_has_a_layer():
    unknown = sorted({top(m) for m in MODULES} - set(LAYERS))
    assert not unknown, f"modules outside every layer (add them to docs/architecture.md): {unknown}"


def test_no_import_from_a_higher_layer_or_an_undeclared_wing():
    bad = []
    for module in MODULES:
        here = LAYERS[top(module)]
        for target, _, line in imports(module):
            there = LAYERS.get(top(target), 99)
            if there > here:
                bad.append(f"{module}:{line} imports {target} (layer {there} > {here})")
            a, b = wing_of(module), wing_of(target)
            if a and b and a != b and b not in declared_uses(a):
                bad.append(f"{module}:{line} imports wing {b} without declaring it in {a}/__init__.py")
    assert not bad, "\n".join(bad)


def test_no_import_circles():
    graph = {m: {t for t, _, _ in imports(m) if t in MODULES and t != m} for m in MODULES}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for m in graph:
        if m not in index:
            visit(m)
    assert not circles, f"import circles: {circles}"


def test_no_private_name_crosses_modules():
    bad = []
    for module in MODULES:
        for target, name, line in imports(module):
            if name.startswith("_") and not name.startswith("__"):
                bad.append(f"{module}:{line} imports {target}.{name}")
        tree = ast.parse(MODULES[module].read_text())
        aliases = {
            a.asname or a.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("ganforge"))
            for a in node.names
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                bad.append(f"{module}:{node.lineno} uses {node.value.id}.{node.attr}")
    assert not bad, "\n".join(bad)


def kind_owners() -> dict[str, str]:
    return {kind: path.rpartition(".")[0] for kind, path in registry_kinds().items()}


def test_kind_names_live_in_the_registry_and_their_wing():
    owners = kind_owners()
    assert {"image", "table"} <= set(owners)
    bad = []
    for module, path in MODULES.items():
        if module == "ganforge.core.registry":
            continue
        tree = ast.parse(path.read_text())
        extras = {  # the names of pip extras ("audio") are another namespace than kinds
            id(key)
            for node in ast.walk(tree)
            if module == "ganforge.core.extras"
            and isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "EXTRAS" for t in node.targets)
            and isinstance(node.value, ast.Dict)
            for key in node.value.keys
        }  # fmt: skip
        for node in ast.walk(tree):
            if id(node) in extras:
                continue
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in owners:
                owner = owners[node.value]
                if module != owner and not module.startswith(owner + "."):
                    bad.append(f"{module}:{node.lineno} names the kind {node.value!r} (owned by {owner})")
    assert not bad, "\n".join(bad)


def test_the_web_page_does_not_branch_on_kind():
    script = (SRC / "serve" / "static" / "app.js").read_text()
    assert not re.search(r"\bkind\s*[!=]==?", script), "app.js branches on the model kind"


@pytest.mark.parametrize("rule", ["layers", "wing", "circle", "private", "kind"])
def test_the_checks_catch_a_planted_violation(rule, tmp_path, monkeypatch):
    """Each rule fails on a module that breaks it, so the checks above can fail."""
    module, text = {
        "layers": ("ganforge.core.planted", "from ganforge.cli.main import main\n"),
        "wing": ("ganforge.vectors.planted", "from ganforge.tables.model import TableGAN\n"),
        "circle": ("ganforge.core.planted", "from ganforge.core import registry\n"),
        "private": ("ganforge.core.planted", "from ganforge.core.registry import _hidden\n"),
        "kind": ("ganforge.core.planted", 'KIND = "table"\n'),
    }[rule]
    (tmp_path / "planted.py").write_text(text)
    monkeypatch.setitem(MODULES, module, tmp_path / "planted.py")
    if rule == "circle":  # the registry imports the planted module back
        registry = tmp_path / "registry.py"
        registry.write_text(
            MODULES["ganforge.core.registry"].read_text() + "\nfrom ganforge.core import planted\n"
        )
        monkeypatch.setitem(MODULES, "ganforge.core.registry", registry)
    check = {
        "layers": test_no_import_from_a_higher_layer_or_an_undeclared_wing,
        "wing": test_no_import_from_a_higher_layer_or_an_undeclared_wing,
        "circle": test_no_import_circles,
        "private": test_no_private_name_crosses_modules,
        "kind": test_kind_names_live_in_the_registry_and_their_wing,
    }[rule]
    with pytest.raises(AssertionError):
        check()
