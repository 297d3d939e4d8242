//! Calls that block the calling thread, found by syntax in an `#[activity(async)]` body.
//!
//! A macro sees tokens, not names, so paths are matched as written, through the `use`
//! declarations inside the body (module-level `use`s are invisible). Where a name could
//! be tokio's as well as std's (`fs::read`, `net::TcpStream`, `process::Command`,
//! `File::open`, bare `sleep`), it is flagged only when written or imported in the body
//! as `std::...`: a false positive would reject correct code, so doubt means no error.
//! `thread::` is taken for `std::thread`, which has no async namesake.
//!
//! A call directly followed by `.await` is never flagged. Nothing is looked for in
//! closures handed to something that runs them off the event loop (`run_blocking`,
//! `spawn_blocking`, `block_in_place`, `std::thread::spawn`, ...), nor in nested items.

use std::collections::HashMap;

use syn::punctuated::Punctuated;
use syn::visit::{self, Visit};
use syn::{
    Block, Expr, ExprAwait, ExprCall, ExprMethodCall, Item, Local, Macro, Pat, Stmt, Token, UseTree,
};

const FIX: &str = "make this a plain `#[activity]` fn, wrap the call in \
                   `legwork::run_blocking(|| ...).await`, or opt out with \
                   `#[activity(async, allow_blocking)]`";

/// Every blocking call in the body, in source order, each spanned at the call's path or
/// method name.
pub fn find(body: &Block) -> Vec<syn::Error> {
    let mut finder = Finder::default();
    finder.visit_block(body);
    finder.errors
}

const THREAD_FNS: &[&str] = &[
    "sleep",
    "sleep_ms",
    "sleep_until",
    "park",
    "park_timeout",
    "park_timeout_ms",
    "scope",
];

/// Every free function of `std::fs`: each one is a blocking system call.
const FS_FNS: &[&str] = &[
    "canonicalize",
    "copy",
    "create_dir",
    "create_dir_all",
    "exists",
    "hard_link",
    "metadata",
    "read",
    "read_dir",
    "read_link",
    "read_to_string",
    "remove_dir",
    "remove_dir_all",
    "remove_file",
    "rename",
    "set_permissions",
    "soft_link",
    "symlink_metadata",
    "write",
];

/// A function that blocks when called, by its resolved path.
fn is_blocking_fn(path: &[&str]) -> bool {
    match path {
        ["std", "thread", name] => THREAD_FNS.contains(name),
        ["std", "fs", name] => FS_FNS.contains(name),
        ["std", "fs", "File", name] => matches!(*name, "open" | "create" | "create_new"),
        ["std", "net", "TcpStream", name] => matches!(*name, "connect" | "connect_timeout"),
        ["std", "net", "TcpListener" | "UdpSocket", "bind"] => true,
        ["reqwest", "blocking", _, ..] => true,
        _ => false,
    }
}

/// A function whose closure arguments run somewhere that may block.
fn runs_closures_elsewhere(path: &[&str]) -> bool {
    matches!(
        path.last(),
        Some(&("run_blocking" | "spawn_blocking" | "block_in_place"))
    ) || matches!(path, ["std", "thread", "spawn" | "scope"])
}

/// A value whose methods are checked: what a method-call chain or a local starts from.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Value {
    ThreadHandle,
    ThreadBuilder,
    Command,
    OpenOptions,
    Stdin,
}

impl Value {
    /// The value a call of this function returns.
    fn returned_by(path: &[&str]) -> Option<Value> {
        Some(match path {
            ["std", "thread", "spawn"] => Value::ThreadHandle,
            ["std", "thread", "Builder", "new"] => Value::ThreadBuilder,
            ["std", "process", "Command", "new"] => Value::Command,
            ["std", "fs", "OpenOptions", "new"] | ["std", "fs", "File", "options"] => {
                Value::OpenOptions
            }
            ["std", "io", "stdin"] => Value::Stdin,
            _ => return None,
        })
    }

    /// The method's name for the error, when calling it on this value blocks.
    fn blocking_method(self, method: &str, args: usize) -> Option<&'static str> {
        Some(match (self, method, args) {
            (Value::ThreadHandle, "join", 0) => "std::thread::JoinHandle::join",
            (Value::Command, "output", 0) => "std::process::Command::output",
            (Value::Command, "status", 0) => "std::process::Command::status",
            (Value::OpenOptions, "open", 1) => "std::fs::OpenOptions::open",
            (Value::Stdin, "read_line", 1) => "std::io::Stdin::read_line",
            (Value::Stdin, "read_to_string", 1) => "std::io::Stdin::read_to_string",
            (Value::Stdin, "read_to_end", 1) => "std::io::Stdin::read_to_end",
            _ => return None,
        })
    }

    fn runs_closures_elsewhere(self, method: &str) -> bool {
        self == Value::ThreadBuilder && matches!(method, "spawn" | "spawn_scoped")
    }
}

/// The `use` declarations of one block: they apply to the whole block.
#[derive(Default)]
struct Scope {
    aliases: HashMap<String, Vec<String>>,
    globs: Vec<Vec<String>>,
}

impl Scope {
    fn of(block: &Block) -> Scope {
        let mut scope = Scope::default();
        for stmt in &block.stmts {
            if let Stmt::Item(Item::Use(item)) = stmt {
                scope.add(&item.tree, &mut Vec::new());
            }
        }
        scope
    }

    fn add(&mut self, tree: &UseTree, prefix: &mut Vec<String>) {
        match tree {
            UseTree::Path(path) => {
                prefix.push(path.ident.to_string());
                self.add(&path.tree, prefix);
                prefix.pop();
            }
            UseTree::Name(name) => self.alias(&name.ident, &name.ident, prefix),
            UseTree::Rename(rename) => self.alias(&rename.ident, &rename.rename, prefix),
            UseTree::Glob(_) => self.globs.push(prefix.clone()),
            UseTree::Group(group) => {
                for tree in &group.items {
                    self.add(tree, prefix);
                }
            }
        }
    }

    fn alias(&mut self, target: &syn::Ident, name: &syn::Ident, prefix: &[String]) {
        let mut full = prefix.to_vec();
        if target != "self" {
            full.push(target.to_string());
        }
        let name = if name == "self" {
            prefix.last().cloned()
        } else {
            Some(name.to_string())
        };
        if let Some(name) = name.filter(|name| name != "_") {
            self.aliases.insert(name, full);
        }
    }
}

#[derive(Default)]
struct Finder {
    scopes: Vec<Scope>,
    /// Locals bound to a value whose methods are checked, such as `let h = thread::spawn(..)`.
    locals: HashMap<String, Value>,
    errors: Vec<syn::Error>,
}

impl Finder {
    /// The path a written path most likely names, as far as the body tells.
    fn resolve(&self, path: &syn::Path) -> Vec<String> {
        let written: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        if path.leading_colon.is_some() || written.is_empty() {
            return written;
        }
        let (first, rest) = (&written[0], &written[1..]);
        for scope in self.scopes.iter().rev() {
            if let Some(target) = scope.aliases.get(first) {
                return target.iter().chain(rest).cloned().collect();
            }
        }
        if rest.is_empty() {
            for scope in self.scopes.iter().rev() {
                for glob in scope.globs.iter().rev() {
                    let candidate: Vec<String> = glob.iter().chain([first]).cloned().collect();
                    let names = strs(&candidate);
                    if is_blocking_fn(&names)
                        || runs_closures_elsewhere(&names)
                        || Value::returned_by(&names).is_some()
                    {
                        return candidate;
                    }
                }
            }
        }
        if first == "thread" {
            return ["std".to_owned()].into_iter().chain(written).collect();
        }
        written
    }

    fn callee(&self, call: &ExprCall) -> Option<Vec<String>> {
        match strip(&call.func) {
            Expr::Path(path) if path.qself.is_none() => Some(self.resolve(&path.path)),
            _ => None,
        }
    }

    /// What a chain such as `Command::new("ls").arg("-l")` or `handle` starts from.
    fn chain_root(&self, mut expr: &Expr) -> Option<Value> {
        loop {
            expr = match expr {
                Expr::MethodCall(call) => &call.receiver,
                Expr::Try(expr) => &expr.expr,
                Expr::Paren(expr) => &expr.expr,
                Expr::Group(expr) => &expr.expr,
                Expr::Reference(expr) => &expr.expr,
                Expr::Call(call) => {
                    return self
                        .callee(call)
                        .and_then(|path| Value::returned_by(&strs(&path)))
                }
                Expr::Path(path) if path.qself.is_none() => {
                    let ident = path.path.get_ident()?;
                    return self.locals.get(&ident.to_string()).copied();
                }
                _ => return None,
            }
        }
    }

    fn call(&mut self, call: &ExprCall, awaited: bool) {
        let path = self.callee(call);
        let names = path.as_deref().map(strs).unwrap_or_default();
        if !awaited && is_blocking_fn(&names) {
            self.report(&call.func, &names.join("::"));
        }
        self.visit_expr(&call.func);
        let elsewhere = runs_closures_elsewhere(&names);
        self.visit_args(call.args.iter(), elsewhere);
    }

    fn method_call(&mut self, call: &ExprMethodCall, awaited: bool) {
        let root = self.chain_root(&call.receiver);
        let method = call.method.to_string();
        if let Some(name) = root.and_then(|root| root.blocking_method(&method, call.args.len())) {
            if !awaited {
                self.report(&call.method, name);
            }
        }
        self.visit_expr(&call.receiver);
        let elsewhere = method == "spawn_blocking"
            || root.is_some_and(|root| root.runs_closures_elsewhere(&method));
        self.visit_args(call.args.iter(), elsewhere);
    }

    fn visit_args<'a>(&mut self, args: impl Iterator<Item = &'a Expr>, elsewhere: bool) {
        for arg in args {
            if !(elsewhere && matches!(strip(arg), Expr::Closure(_))) {
                self.visit_expr(arg);
            }
        }
    }

    fn report(&mut self, tokens: &dyn quote::ToTokens, name: &str) {
        self.errors.push(syn::Error::new_spanned(
            tokens,
            format!("`{name}` blocks the event loop thread; {FIX}"),
        ));
    }
}

impl<'ast> Visit<'ast> for Finder {
    fn visit_block(&mut self, block: &'ast Block) {
        self.scopes.push(Scope::of(block));
        let locals = self.locals.clone();
        visit::visit_block(self, block);
        self.locals = locals;
        self.scopes.pop();
    }

    /// Nested functions, impls and modules are not the activity's body; `use`s were
    /// read by the enclosing block.
    fn visit_item(&mut self, _: &'ast Item) {}

    fn visit_local(&mut self, local: &'ast Local) {
        visit::visit_local(self, local);
        if let Some(name) = binding(&local.pat) {
            let value = local
                .init
                .as_ref()
                .and_then(|init| match strip(&init.expr) {
                    Expr::Call(call) => self
                        .callee(call)
                        .and_then(|path| Value::returned_by(&strs(&path))),
                    _ => None,
                });
            match value {
                Some(value) => self.locals.insert(name, value),
                None => self.locals.remove(&name),
            };
        }
    }

    fn visit_expr_await(&mut self, expr: &'ast ExprAwait) {
        match strip(&expr.base) {
            Expr::Call(call) => self.call(call, true),
            Expr::MethodCall(call) => self.method_call(call, true),
            base => self.visit_expr(base),
        }
    }

    fn visit_expr_call(&mut self, call: &'ast ExprCall) {
        self.call(call, false);
    }

    fn visit_expr_method_call(&mut self, call: &'ast ExprMethodCall) {
        self.method_call(call, false);
    }

    /// Macro arguments that read as expressions (`println!`, `assert!`, `tokio::join!`,
    /// ...) are checked; other macro bodies are opaque.
    fn visit_macro(&mut self, mac: &'ast Macro) {
        if let Ok(args) = mac.parse_body_with(Punctuated::<Expr, Token![,]>::parse_terminated) {
            for arg in &args {
                self.visit_expr(arg);
            }
        }
    }
}

fn strip(mut expr: &Expr) -> &Expr {
    while let Expr::Paren(syn::ExprParen { expr: inner, .. })
    | Expr::Group(syn::ExprGroup { expr: inner, .. }) = expr
    {
        expr = inner;
    }
    expr
}

fn binding(pat: &Pat) -> Option<String> {
    match pat {
        Pat::Ident(ident) if ident.subpat.is_none() => Some(ident.ident.to_string()),
        Pat::Type(typed) => binding(&typed.pat),
        _ => None,
    }
}

fn strs(path: &[String]) -> Vec<&str> {
    path.iter().map(String::as_str).collect()
}

#[cfg(test)]
mod tests;
