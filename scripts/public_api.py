"""Prints the public API of the `legwork` crate, one item a line, sorted, from rustdoc's
JSON output (scripts/public-api makes it and runs this).

The facade re-exports the runtime (`pub use legwork_runtime::client`), so the walk starts
at `legwork`'s root and follows each re-export into `legwork_runtime.json`, printing every
item under the path a user names it by (`legwork::client::Client`). Hidden items
(`#[doc(hidden)]`, e.g. `__private`) are not in rustdoc's output, so not listed.

Listed: modules, structs with their public fields, enums with their variants, unions,
traits with their items, functions and methods with their signatures, trait
implementations written or derived in this code (not auto traits, not blanket impls),
constants, statics, type aliases, macros, and re-exports of other crates' items (as
`pub use`). Attributes that change what users may do (`#[non_exhaustive]`) are shown.

Usage: public_api.py DOC_DIR   (the directory holding legwork.json and legwork_runtime.json)
"""

import json
import os
import sys

SUPPORTED_FORMATS = range(45, 80)


class Crate:
    def __init__(self, path):
        with open(path) as file:
            self.doc = json.load(file)
        version = self.doc["format_version"]
        if version not in SUPPORTED_FORMATS:
            sys.exit(f"{path}: rustdoc JSON format {version}, not one this script reads")
        self.index = self.doc["index"]
        self.paths = self.doc["paths"]

    def item(self, id):
        return self.index.get(str(id))

    def path_of(self, id):
        summary = self.paths.get(str(id))
        return summary["path"] if summary else None

    def find(self, path):
        """The id in this crate's index of the local item at `path` (a list of names)."""
        for id, summary in self.paths.items():
            if summary["crate_id"] == 0 and summary["path"] == path and id in self.index:
                return id
        return None


class Printer:
    def __init__(self, crates):
        self.crates = crates  # crate name -> Crate
        self.lines = set()
        # Where each item is defined (its path in its crate) -> the path users name it by
        # (the shortest public one), so that a type in a signature reads as users write it
        # and moving code between private modules changes nothing here.
        self.public = {}

    # --- types ---------------------------------------------------------------------

    def type_(self, crate, ty):
        if ty is None:
            return "()"
        if isinstance(ty, str):
            return ty
        (kind, value), = ty.items()
        if kind == "resolved_path":
            return self.path(crate, value)
        if kind == "dyn_trait":
            bounds = [self.poly_trait(crate, t) for t in value["traits"]]
            if value.get("lifetime"):
                bounds.append(value["lifetime"])
            return "dyn " + " + ".join(bounds)
        if kind in ("generic", "primitive"):
            return value
        if kind == "function_pointer":
            sig = value["sig"]
            inputs = ", ".join(self.type_(crate, t) for _, t in sig["inputs"])
            output = sig.get("output")
            return f"fn({inputs})" + (f" -> {self.type_(crate, output)}" if output else "")
        if kind == "tuple":
            inner = ", ".join(self.type_(crate, t) for t in value)
            return f"({inner},)" if len(value) == 1 else f"({inner})"
        if kind == "slice":
            return f"[{self.type_(crate, value)}]"
        if kind == "array":
            return f"[{self.type_(crate, value['type'])}; {value['len']}]"
        if kind == "pat":
            return self.type_(crate, value["type"])
        if kind == "impl_trait":
            return "impl " + self.bounds(crate, value)
        if kind == "infer":
            return "_"
        if kind == "raw_pointer":
            mutability = "mut" if value["is_mutable"] else "const"
            return f"*{mutability} {self.type_(crate, value['type'])}"
        if kind == "borrowed_ref":
            lifetime = f"{value['lifetime']} " if value.get("lifetime") else ""
            mutability = "mut " if value["is_mutable"] else ""
            return f"&{lifetime}{mutability}{self.type_(crate, value['type'])}"
        if kind == "qualified_path":
            self_type = self.type_(crate, value["self_type"])
            if value.get("trait"):
                return f"<{self_type} as {self.path(crate, value['trait'])}>::{value['name']}"
            return f"{self_type}::{value['name']}"
        return json.dumps(ty)

    def path(self, crate, path):
        full = crate.path_of(path["id"]) if path.get("id") is not None else None
        if full and tuple(full) in self.public:
            name = self.public[tuple(full)]
        else:
            name = "::".join(self.public_name(full)) if full else path["path"]
        return name + self.args(crate, path.get("args"))

    def record(self, crate, id, path):
        full = crate.path_of(id)
        if not full:
            return
        known = self.public.get(tuple(full))
        if known is None or (path.count("::"), path) < (known.count("::"), known):
            self.public[tuple(full)] = path

    @staticmethod
    def public_name(full):
        """`legwork_runtime::...` as users name it: through the facade."""
        if full and full[0] in ("legwork_runtime", "legwork_macros"):
            return ["legwork"] + full[1:]
        return full

    def args(self, crate, args):
        if not args:
            return ""
        if "angle_bracketed" in args:
            value = args["angle_bracketed"]
            parts = []
            for arg in value["args"]:
                if isinstance(arg, str):
                    parts.append("_")
                elif "type" in arg:
                    parts.append(self.type_(crate, arg["type"]))
                elif "lifetime" in arg:
                    parts.append(arg["lifetime"])
                elif "const" in arg:
                    parts.append(arg["const"].get("expr", "_"))
            for constraint in value.get("constraints", []):
                head = constraint["name"] + self.args(crate, constraint.get("args"))
                binding = constraint["binding"]
                if "equality" in binding:
                    term = binding["equality"]
                    rhs = self.type_(crate, term["type"]) if "type" in term else str(term)
                    parts.append(f"{head} = {rhs}")
                else:
                    parts.append(f"{head}: {self.bounds(crate, binding['constraint'])}")
            return f"<{', '.join(parts)}>" if parts else ""
        if "parenthesized" in args:
            value = args["parenthesized"]
            inputs = ", ".join(self.type_(crate, t) for t in value["inputs"])
            output = value.get("output")
            return f"({inputs})" + (f" -> {self.type_(crate, output)}" if output else "")
        return ""

    def poly_trait(self, crate, poly):
        text = self.path(crate, poly["trait"])
        params = poly.get("generic_params") or []
        if params:
            text = f"for<{', '.join(p['name'] for p in params)}> {text}"
        return text

    def bounds(self, crate, bounds):
        parts = []
        for bound in bounds:
            if "trait_bound" in bound:
                value = bound["trait_bound"]
                modifier = {"maybe": "?", "maybe_const": "~const "}.get(value["modifier"], "")
                parts.append(modifier + self.poly_trait(crate, value))
            elif "outlives" in bound:
                parts.append(bound["outlives"])
            elif "use" in bound:
                names = [u if isinstance(u, str) else next(iter(u.values())) for u in bound["use"]]
                parts.append(f"use<{', '.join(names)}>")
        return " + ".join(parts)

    def generics(self, crate, generics):
        params = []
        for param in generics["params"]:
            kind = param["kind"]
            if "lifetime" in kind:
                outlives = kind["lifetime"]["outlives"]
                params.append(param["name"] + (f": {' + '.join(outlives)}" if outlives else ""))
            elif "type" in kind:
                value = kind["type"]
                if value.get("is_synthetic"):
                    continue  # an `impl Trait` argument, shown where it is
                text = param["name"]
                if value["bounds"]:
                    text += f": {self.bounds(crate, value['bounds'])}"
                if value.get("default"):
                    text += f" = {self.type_(crate, value['default'])}"
                params.append(text)
            elif "const" in kind:
                params.append(f"const {param['name']}: {self.type_(crate, kind['const']['type'])}")
        return f"<{', '.join(params)}>" if params else ""

    def where_(self, crate, generics):
        predicates = []
        for predicate in generics["where_predicates"]:
            if "bound_predicate" in predicate:
                value = predicate["bound_predicate"]
                predicates.append(
                    f"{self.type_(crate, value['type'])}: {self.bounds(crate, value['bounds'])}"
                )
            elif "lifetime_predicate" in predicate:
                value = predicate["lifetime_predicate"]
                predicates.append(f"{value['lifetime']}: {' + '.join(value['outlives'])}")
            elif "eq_predicate" in predicate:
                value = predicate["eq_predicate"]
                predicates.append(f"{self.type_(crate, value['lhs'])} = {value['rhs']}")
        return f" where {', '.join(predicates)}" if predicates else ""

    # --- items ---------------------------------------------------------------------

    def function(self, crate, path, function, prefix="pub fn"):
        header = function["header"]
        qualifiers = "".join(
            word
            for flag, word in (("is_const", "const "), ("is_async", "async "), ("is_unsafe", "unsafe "))
            if header.get(flag)
        )
        sig = function["sig"]
        inputs = []
        for name, ty in sig["inputs"]:
            if name == "self":
                rendered = self.type_(crate, ty)
                inputs.append({"Self": "self", "&Self": "&self", "&mut Self": "&mut self"}.get(rendered, f"self: {rendered}"))
            else:
                inputs.append(f"{name}: {self.type_(crate, ty)}")
        output = sig.get("output")
        text = (
            f"{prefix.replace('fn', qualifiers + 'fn', 1)} {path}"
            f"{self.generics(crate, function['generics'])}({', '.join(inputs)})"
        )
        if output:
            text += f" -> {self.type_(crate, output)}"
        return text + self.where_(crate, function["generics"])

    def attrs(self, item):
        shown = []
        for attr in item.get("attrs", []):
            text = attr if isinstance(attr, str) else json.dumps(attr)
            if "non_exhaustive" in text:
                shown.append("#[non_exhaustive] ")
        if item.get("deprecation"):
            shown.append("#[deprecated] ")
        return "".join(shown)

    def emit(self, line):
        self.lines.add(line)

    def impls(self, crate, path, impl_ids):
        for impl_id in impl_ids:
            impl_item = crate.item(impl_id)
            if impl_item is None:
                continue
            impl = impl_item["inner"]["impl"]
            if impl.get("is_synthetic") or impl.get("blanket_impl") is not None:
                continue
            generics = self.generics(crate, impl["generics"])
            where = self.where_(crate, impl["generics"])
            if impl.get("trait"):
                negative = "!" if impl.get("is_negative") else ""
                self.emit(
                    f"impl{generics} {negative}{self.path(crate, impl['trait'])} for "
                    f"{self.type_(crate, impl['for'])}{where}"
                )
                continue
            for member_id in impl["items"]:
                member = crate.item(member_id)
                if member is None or member.get("visibility") != "public":
                    continue
                self.member(crate, f"{path}::{member['name']}", member, generics + where)

    def member(self, crate, path, member, context=""):
        (kind, value), = member["inner"].items()
        suffix = f" (impl{context})" if context.strip() else ""
        if kind == "function":
            self.emit(self.attrs(member) + self.function(crate, path, value) + suffix)
        elif kind == "assoc_const":
            self.emit(f"pub const {path}: {self.type_(crate, value['type'])}{suffix}")
        elif kind == "assoc_type":
            bounds = self.bounds(crate, value.get("bounds", []))
            text = f"pub type {path}"
            if bounds:
                text += f": {bounds}"
            if value.get("type"):
                text += f" = {self.type_(crate, value['type'])}"
            self.emit(text + suffix)

    def walk(self, crate, id, path, stack=()):
        item = crate.item(id)
        if item is None or id in stack:
            return
        stack = stack + (id,)
        self.record(crate, id, path)
        (kind, value), = item["inner"].items()
        attrs = self.attrs(item)
        if kind == "module":
            self.emit(f"{attrs}pub mod {path}")
            for child in value["items"]:
                self.child(crate, child, path, stack)
        elif kind == "struct":
            generics = self.generics(crate, value["generics"])
            self.emit(f"{attrs}pub struct {path}{generics}{self.where_(crate, value['generics'])}")
            struct_kind = value["kind"]
            if struct_kind == "unit":
                pass
            elif "tuple" in struct_kind:
                for index, field in enumerate(struct_kind["tuple"]):
                    if field is not None:
                        self.field(crate, f"{path}::{index}", field)
            else:
                for field in struct_kind["plain"]["fields"]:
                    self.field(crate, path, field)
            self.impls(crate, path, value["impls"])
        elif kind == "union":
            self.emit(f"{attrs}pub union {path}{self.generics(crate, value['generics'])}")
            for field in value["fields"]:
                self.field(crate, path, field)
            self.impls(crate, path, value["impls"])
        elif kind == "enum":
            generics = self.generics(crate, value["generics"])
            self.emit(f"{attrs}pub enum {path}{generics}{self.where_(crate, value['generics'])}")
            for variant_id in value["variants"]:
                self.variant(crate, path, crate.item(variant_id))
            self.impls(crate, path, value["impls"])
        elif kind == "trait":
            generics = self.generics(crate, value["generics"])
            bounds = self.bounds(crate, value["bounds"])
            qualifiers = ("unsafe " if value.get("is_unsafe") else "") + (
                "auto " if value.get("is_auto") else ""
            )
            self.emit(
                f"{attrs}pub {qualifiers}trait {path}{generics}"
                + (f": {bounds}" if bounds else "")
                + self.where_(crate, value["generics"])
            )
            for member_id in value["items"]:
                member = crate.item(member_id)
                if member is not None:
                    self.member(crate, f"{path}::{member['name']}", member)
        elif kind == "function":
            self.emit(attrs + self.function(crate, path, value))
        elif kind == "type_alias":
            generics = self.generics(crate, value["generics"])
            self.emit(f"pub type {path}{generics} = {self.type_(crate, value['type'])}")
        elif kind == "constant":
            self.emit(f"pub const {path}: {self.type_(crate, value['type'])}")
        elif kind == "static":
            mutability = "mut " if value.get("is_mutable") else ""
            self.emit(f"pub static {mutability}{path}: {self.type_(crate, value['type'])}")
        elif kind == "macro":
            self.emit(f"macro_rules! {path}")
        elif kind == "proc_macro":
            self.emit(f"proc_macro {path} ({value['kind']})")
        elif kind == "trait_alias":
            self.emit(f"pub trait {path} = {self.bounds(crate, value['params'])}")
        else:
            self.emit(f"pub {kind} {path}")

    def field(self, crate, path, field_id):
        field = crate.item(field_id)
        if field is None or field.get("visibility") != "public":
            return
        name = field["name"] if field["name"] is not None else path.rsplit("::", 1)[-1]
        base = path if field["name"] is None else f"{path}::{name}"
        self.emit(f"pub {base}: {self.type_(crate, field['inner']['struct_field'])}")

    def variant(self, crate, path, variant):
        value = variant["inner"]["variant"]
        variant_path = f"{path}::{variant['name']}"
        kind = value["kind"]
        attrs = self.attrs(variant)
        if kind == "plain":
            discriminant = value.get("discriminant")
            suffix = f" = {discriminant['expr']}" if discriminant else ""
            self.emit(f"{attrs}pub {variant_path}{suffix}")
        elif "tuple" in kind:
            fields = [
                self.type_(crate, crate.item(f)["inner"]["struct_field"]) if f is not None else "_"
                for f in kind["tuple"]
            ]
            self.emit(f"{attrs}pub {variant_path}({', '.join(fields)})")
        else:
            self.emit(f"{attrs}pub {variant_path} {{ .. }}")
            for field in kind["struct"]["fields"]:
                self.field(crate, variant_path, field)

    def child(self, crate, child_id, path, stack):
        child = crate.item(child_id)
        if child is None:
            return
        if "use" not in child["inner"]:
            self.walk(crate, child_id, f"{path}::{child['name']}", stack)
            return
        use = child["inner"]["use"]
        target_crate, target_id = self.resolve(crate, use["id"])
        if use["is_glob"]:
            target = target_crate.item(target_id) if target_crate else None
            if target is None or "module" not in target["inner"]:
                self.emit(f"pub use {path}::* = {use['source']}::*")
                return
            for grandchild in target["inner"]["module"]["items"]:
                self.child(target_crate, grandchild, path, stack)
            return
        if target_crate is None:
            if use["id"] is not None:
                self.record(crate, use["id"], f"{path}::{use['name']}")
            self.emit(f"pub use {path}::{use['name']} = {use['source']}")
            return
        self.walk(target_crate, target_id, f"{path}::{use['name']}", stack)

    def resolve(self, crate, id):
        """(crate, id) of a re-export's target: in `crate` itself, or in another crate of
        ours (the runtime), by its path. (None, None) for other crates' items."""
        if id is None:
            return None, None
        if crate.item(id) is not None:
            return crate, str(id)
        full = crate.path_of(id)
        if full and full[0] in self.crates:
            other = self.crates[full[0]]
            found = other.find(full)
            if found is not None:
                return other, found
        return None, None


def main(doc_dir):
    crates = {
        name: Crate(os.path.join(doc_dir, f"{name}.json"))
        for name in ("legwork", "legwork_runtime")
    }
    printer = Printer(crates)
    facade = crates["legwork"]
    root = facade.doc["root"]
    # Twice: the first walk learns every item's public path, the second prints with them.
    for _ in range(2):
        printer.lines = set()
        printer.emit("pub mod legwork")
        for child in facade.item(root)["inner"]["module"]["items"]:
            printer.child(facade, child, "legwork", (str(root),))
    # What derive(PartialEq) adds besides PartialEq: no news to a reviewer.
    printer.lines = {line for line in printer.lines if "StructuralPartialEq" not in line}
    for line in sorted(printer.lines):
        print(line)


if __name__ == "__main__":
    main(sys.argv[1])
