#!/usr/bin/env python3
"""Structure checks a newcomer relies on (issue 18), for runtime/src and macros/src:

  (a) no import cycle between .rs files: a file's `use crate::/super::/self::` paths, the
      same paths written inline, and paths through a child module it declares, each resolved
      to the file that defines the module named (declaring `mod x;` alone is no import, and
      nor is a module re-exporting its own descendants' items with `pub use`: that is the
      module's surface, not a dependency of its code, as issue 18's review counted cycles);
  (b) no file over MAX_FILE_LINES lines;
  (c) no function over MAX_FN_LINES lines, from its `fn` line to its closing brace.

Test code is left out: files named tests.rs or proptests.rs, files declared under
`#[cfg(test)]`, and `#[cfg(test)] mod ... { }` blocks. ALLOWED exempts a file from (b) and
(c); each entry says why, and ARCHITECTURE.md says the same. Exit 1 when anything is
reported. Standard library only.
"""

import os
import re
import sys

MAX_FILE_LINES = 400
MAX_FN_LINES = 60

# path (from the repository root) -> why it may be long. Keep in step with ARCHITECTURE.md.
ALLOWED = {
}

ROOTS = ["runtime/src", "macros/src"]
TEST_FILE_NAMES = {"tests.rs", "proptests.rs"}


def strip(text):
    """Comments, string and char literals blanked out; newlines and offsets kept."""
    out = list(text)
    i, n = 0, len(text)

    def blank(a, b):
        for k in range(a, b):
            if out[k] != "\n":
                out[k] = " "

    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            blank(i, j)
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            blank(i, j)
            i = j
        elif (m := re.compile(r'b?r(#*)"').match(text, i)) and (
            i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")
        ):
            end = '"' + m.group(1)
            j = text.find(end, m.end())
            j = n if j < 0 else j + len(end)
            blank(i + 1, j - 1)
            i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            blank(i + 1, j)
            i = j + 1
        elif c == "'":
            # A char literal ('a', '\n', '{'), else a lifetime ('a).
            if i + 1 < n and text[i + 1] == "\\":
                j = text.find("'", i + 3)
                blank(i + 1, j)
                i = j + 1
            elif i + 2 < n and text[i + 2] == "'":
                blank(i + 1, i + 2)
                i += 3
            else:
                i += 1
        else:
            i += 1
    return "".join(out)


def match_brace(code, open_at):
    depth = 0
    for j in range(open_at, len(code)):
        if code[j] == "{":
            depth += 1
        elif code[j] == "}":
            depth -= 1
            if depth == 0:
                return j
    return len(code) - 1


CFG_TEST = r"#\[cfg\(test\)\]\s*(?:#\[[^\]]*\]\s*)*"


def drop_test_blocks(code):
    """`#[cfg(test)] mod x { ... }` blanked out."""
    for m in reversed(list(re.finditer(CFG_TEST + r"(?:pub(?:\([^)]*\))?\s+)?mod\s+\w+\s*\{", code))):
        end = match_brace(code, m.end() - 1)
        code = code[: m.start()] + re.sub(r"[^\n]", " ", code[m.start() : end + 1]) + code[end + 1 :]
    return code


def line_of(code, offset):
    return code.count("\n", 0, offset) + 1


class Module:
    def __init__(self, crate, path, file, is_dir_owner):
        self.crate, self.path, self.file = crate, path, file
        # mod.rs / lib.rs own their folder; foo.rs owns foo/.
        self.is_dir_owner = is_dir_owner


def collect():
    """Every module file: (crate, module path) -> file, and which files are test-only."""
    files, tests = {}, set()
    for root in ROOTS:
        crate = root.split("/")[0]

        def walk(file, path, test):
            files[(crate, path)] = file
            if test or os.path.basename(file) in TEST_FILE_NAMES:
                tests.add(file)
                test = True
            code = strip(open(file, encoding="utf-8").read())
            base = os.path.basename(file)
            folder = os.path.dirname(file) if base in ("mod.rs", "lib.rs") else file[:-3]
            for m in re.finditer(r"((?:#\[[^\]]*\]\s*)*)(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", code):
                name = m.group(2)
                for child in (f"{folder}/{name}.rs", f"{folder}/{name}/mod.rs"):
                    if os.path.exists(child):
                        walk(child, path + (name,), test or "cfg(test)" in m.group(1))
                        break

        walk(f"{root}/lib.rs", (), False)
    return files, tests


def use_paths(code):
    """(offset, [segments], is `pub use`) for each path a `use` names, braces expanded."""
    for m in re.finditer(r"\b(pub(?:\([^)]*\))?\s+)?use\s+([^;]*);", code):
        tree = re.sub(r"\s+", "", re.sub(r"\s+as\s+\w+", "", m.group(2)))
        for path in expand(tree):
            yield m.start(), path, m.group(1) is not None


def expand(tree):
    """`a::{b,c::{d,e}}` -> [[a,b],[a,c,d],[a,c,e]]."""
    brace = tree.find("{")
    if brace < 0:
        return [[s for s in tree.split("::") if s]]
    head = [s for s in tree[:brace].split("::") if s]
    inner, depth, part, parts = tree[brace + 1 : tree.rfind("}")], 0, "", []
    for ch in inner:
        if ch == "," and depth == 0:
            parts.append(part)
            part = ""
            continue
        depth += ch == "{"
        depth -= ch == "}"
        part += ch
    parts.append(part)
    out = []
    for p in parts:
        if p:
            for tail in expand(p):
                out.append(head + [s for s in tail if s != "self"] if tail != ["self"] else head)
    return out


def imports(crate, path, file, code, files):
    """Files this one imports from, each with the first line naming it."""
    children = {p[-1] for (c, p) in files if c == crate and len(p) == len(path) + 1 and p[:-1] == path}
    found = {}

    # Inline `mod x { ... }`: paths inside it are relative to `path::x`.
    inline = []
    for m in re.finditer(r"\bmod\s+(\w+)\s*\{", code):
        inline.append((m.start(), match_brace(code, m.end() - 1), m.group(1)))

    def module_at(offset):
        return path + tuple(name for start, end, name in inline if start < offset < end)

    def resolve(segs, here):
        if not segs:
            return None
        if segs[0] == "crate":
            base, rest = (), segs[1:]
        elif segs[0] in ("super", "self"):
            base, rest = here, segs
            while rest and rest[0] in ("super", "self"):
                base = base[:-1] if rest[0] == "super" else base
                rest = rest[1:]
        elif segs[0] in children and here == path:
            base, rest = path, segs
        else:
            return None
        full = base + tuple(r for r in rest if r != "*")
        for k in range(len(full), -1, -1):
            target = files.get((crate, full[:k]))
            if target:
                return target
        return None

    owners = {f: p for (c, p), f in files.items() if c == crate}

    def note(offset, segs, reexport=False):
        target = resolve(segs, module_at(offset))
        if reexport and target and owners.get(target, ())[: len(path)] == path:
            return  # a module's `pub use` of its own descendants
        if target and target != file and target not in found:
            found[target] = line_of(code, offset)

    for offset, segs, reexport in use_paths(code):
        note(offset, segs, reexport)
    starts = "crate|super|self|" + "|".join(sorted(children)) if children else "crate|super|self"
    # The `use` statements were read above; the scan below finds paths written inline.
    statements = [(m.start(), m.end()) for m in re.finditer(r"\buse\s+[^;]*;", code)]
    for m in re.finditer(r"(?<![\w:])((?:%s)(?:::\w+)+)" % starts, code):
        if re.search(r"pub\(\s*in\s+$", code[max(0, m.start() - 10) : m.start()]):
            continue  # `pub(in crate::x)` restricts visibility; it imports nothing
        if any(start <= m.start() < end for start, end in statements):
            continue
        note(m.start(), m.group(1).split("::"))
    return found


def functions(code):
    """(name, first line, lines) for each fn with a body."""
    for m in re.finditer(r"\bfn\s+(\w+)", code):
        depth, j = 0, m.end()
        while j < len(code):
            ch = code[j]
            if ch in "([":
                depth += 1
            elif ch in ")]":
                depth -= 1
            elif depth == 0 and ch in "{;":
                break
            j += 1
        if j < len(code) and code[j] == "{":
            first, last = line_of(code, m.start()), line_of(code, match_brace(code, j))
            yield m.group(1), first, last - first + 1


def sccs(graph):
    """Tarjan's strongly connected components with more than one file."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(out)


def main():
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    files, tests = collect()
    graph, problems = {}, 0
    long_files, long_fns = [], []
    for (crate, path), file in sorted(files.items(), key=lambda kv: kv[1]):
        if file in tests:
            continue
        raw = open(file, encoding="utf-8").read()
        code = drop_test_blocks(strip(raw))
        graph[file] = {t: ln for t, ln in imports(crate, path, file, code, files).items() if t not in tests}
        if file in ALLOWED:
            continue
        lines = raw.count("\n") + (0 if raw.endswith("\n") else 1)
        if lines > MAX_FILE_LINES:
            long_files.append(f"{file}: {lines} lines")
        for name, first, count in functions(code):
            if count > MAX_FN_LINES:
                long_fns.append(f"{file}:{first}: fn {name}: {count} lines")

    cycles = sccs(graph)
    for comp in cycles:
        print("import cycle:")
        for f in comp:
            uses = ", ".join(f"{t} (line {graph[f][t]})" for t in sorted(graph[f]) if t in comp)
            print(f"  {f} -> {uses}")
    for line in long_files:
        print(f"file over {MAX_FILE_LINES} lines: {line}")
    for line in long_fns:
        print(f"function over {MAX_FN_LINES} lines: {line}")
    problems = len(cycles) + len(long_files) + len(long_fns)
    stale = [f for f in ALLOWED if not os.path.exists(f)]
    for f in stale:
        print(f"allowlisted file does not exist: {f}")
    problems += len(stale)
    if problems:
        print(f"{len(cycles)} import cycles, {len(long_files)} long files, {len(long_fns)} long functions")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
