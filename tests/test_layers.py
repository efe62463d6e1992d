"""The package's layers, read from its source (ast, no import): no import cycle, the core is pure
(no SDK, no layer above it), only the adapters and the sandbox import boto3/botocore, the cli
builds no AWS client, the product reaches the sandbox only through its public API, and the
test-only code (kill points, the planner's simulator) is not in the product.

Imports are counted wherever they are written: at module level, inside functions and under
``if TYPE_CHECKING`` (a cycle that only a deferred import hides is still a cycle in the design).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "awsideman"
SANDBOX = "awsideman.sandbox"
# The product's two doors to the emulator: `awsideman sandbox ...` and `awsideman demo`.
SANDBOX_DOORS = {"awsideman.cli.sandbox", "awsideman.cli.sandbox_principal", "awsideman.cli.demo"}
SANDBOX_API = "awsideman.sandbox.api"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


@cache
def tree(name: str) -> ast.Module:
    return ast.parse(modules()[name].read_text(encoding="utf-8"), filename=str(modules()[name]))


def imports(name: str) -> Iterator[tuple[str, str | None]]:
    """(module, imported name or None) for every import statement in module ``name``."""
    package = name if modules()[name].name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree(name)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                yield base, alias.name


def edges(name: str) -> set[str]:
    """The package's modules that module ``name`` imports (a submodule when ``from pkg import sub``)."""
    found = set()
    for module, imported in imports(name):
        target = f"{module}.{imported}" if imported and f"{module}.{imported}" in modules() else module
        if target in modules() and target != name:
            found.add(target)
    return found


def cycles() -> list[list[str]]:
    """Every strongly connected group of two or more modules (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(edges(node)):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for name in modules():
        if name not in index:
            visit(name)
    return groups


def product() -> list[str]:
    """Every module that ships as the product: all but the sandbox (the emulator and test aids)."""
    return [name for name in modules() if name != SANDBOX and not name.startswith(SANDBOX + ".")]


def test_the_graph_reader_sees_function_level_and_relative_imports():
    """The reader must see the imports the checks below rely on, or they pass vacuously."""
    assert "awsideman.cli.demo" in edges("awsideman.cli.app")  # inside _register()
    assert SANDBOX_API in edges("awsideman.cli.sandbox")  # inside each command
    assert "awsideman.services.hooks" in edges("awsideman.services.backup")  # `from pkg import module`
    assert len(modules()) > 50


def test_the_package_has_no_import_cycle():
    assert cycles() == []


CORE = "awsideman.core"
SDKS = ("boto3", "botocore")
# The layers above the core: it is imported by them, never the other way round.
ABOVE_CORE = ("awsideman.journal", "awsideman.services", "awsideman.adapters", "awsideman.cli")
SDK_OWNERS = ("awsideman.adapters", SANDBOX)


def _within(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def _sdk_imports(name: str) -> list[str]:
    return [m for m, _ in imports(name) if m.split(".")[0] in SDKS]


def test_the_core_imports_no_sdk_and_no_layer_above_it():
    """core/ is pure: an AWS error reaches it as a plain fact (core/error_facts.py), read from
    botocore's exceptions by adapters/error_facts.py."""
    core = [n for n in modules() if _within(n, (CORE,))]
    assert "awsideman.core.errors" in core and len(core) > 15
    found = {}
    for name in core:
        bad = sorted({m for m, _ in imports(name) if m.split(".")[0] in SDKS or _within(m, ABOVE_CORE)})
        if bad:
            found[name] = bad
    assert found == {}


def test_only_the_adapters_and_the_sandbox_import_the_aws_sdk():
    users = {name: _sdk_imports(name) for name in modules() if _sdk_imports(name)}
    assert {n for n in users if not _within(n, SDK_OWNERS)} == set(), users
    assert "awsideman.adapters.aws" in users and "awsideman.adapters.error_facts" in users  # not vacuous


def test_the_cli_builds_no_aws_client():
    """boto3 clients belong to adapters/aws.py (the product) and the sandbox (the emulator's own)."""
    for name in (n for n in modules() if n.startswith("awsideman.cli.")):
        sdk = [m for m, _ in imports(name) if m.split(".")[0] in ("boto3", "botocore")]
        calls = [node.lineno for node in ast.walk(tree(name)) if isinstance(node, ast.Call)
                 and isinstance(node.func, ast.Attribute) and node.func.attr in ("client", "resource", "Session")]
        assert (name, sdk, calls) == (name, [], [])


def test_the_product_reaches_the_sandbox_only_through_its_public_api():
    users = {}
    for name in product():
        used = [(m, n) for m, n in imports(name) if m == SANDBOX or m.startswith(SANDBOX + ".")]
        if used:
            users[name] = used
    assert set(users) <= SANDBOX_DOORS, users
    for name, used in users.items():
        assert all(m == SANDBOX_API and n and not n.startswith("_") for m, n in used), (name, used)
    public = set(_all_of(SANDBOX_API))
    assert {n for used in users.values() for _, n in used} <= public


def test_the_doors_import_no_private_name_and_leave_the_environment_alone():
    """The demo and `sandbox` commands hand the emulator's endpoint and credentials to the child
    process's env; they never rewrite this process's os.environ."""
    for name in SANDBOX_DOORS:
        private = [(m, n) for m, n in imports(name) if n and n.startswith("_")]
        assert private == [], name
        assert _environ_writes(name) == [], name


def test_test_only_code_is_not_in_the_product():
    """Kill points (SIGKILL at a named point) live in awsideman/sandbox/crashpoints.py and the
    planner's simulator in tests/core/simulate.py; the product only announces points (services/hooks.py)."""
    assert not any(name.rsplit(".", 1)[-1] in ("crashpoints", "simulate") for name in product())
    for name in product():
        source = modules()[name].read_text(encoding="utf-8")
        assert "AWSIDEMAN_CRASH_AT" not in source and "SIGKILL" not in source, name
        assert not any(m == "awsideman.sandbox.crashpoints" for m, _ in imports(name)), name


def _all_of(name: str) -> list[str]:
    for node in tree(name).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return list(ast.literal_eval(node.value))
    raise AssertionError(f"{name} declares no __all__")


def _environ_writes(name: str) -> list[int]:
    """Lines of module ``name`` that change os.environ (assign, delete, update, pop, clear...)."""

    def is_environ(node: ast.AST) -> bool:
        return isinstance(node, ast.Attribute) and node.attr == "environ"

    changers = ("update", "pop", "popitem", "clear", "setdefault", "__setitem__", "__delitem__")
    lines = []
    for node in ast.walk(tree(name)):
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            if any(isinstance(t, ast.Subscript) and is_environ(t.value) for t in targets):
                lines.append(node.lineno)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            method, owner = node.func.attr, node.func.value
            if (is_environ(owner) and method in changers) or method == "putenv":
                lines.append(node.lineno)
    return lines
