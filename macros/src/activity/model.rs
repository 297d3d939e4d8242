//! The annotated function as the expansion sees it. Holds references into the original
//! syntax so every error and every generated check can point at the user's tokens.

use syn::{
    FnArg, GenericArgument, ItemFn, Pat, PatType, PathArguments, Receiver, ReturnType, Type,
};

pub struct Activity<'a> {
    pub function: &'a ItemFn,
    /// The first parameter when its type is a reference that may name `ActivityContext`:
    /// the only place a context may be.
    pub context: Option<&'a PatType>,
    /// Every other typed parameter, one payload each, in order.
    pub args: Vec<Arg<'a>>,
    pub receivers: Vec<&'a Receiver>,
    pub output: Output<'a>,
}

pub struct Arg<'a> {
    /// What error messages and argument-count failures call this parameter.
    pub name: String,
    pub ty: &'a Type,
}

pub enum Output<'a> {
    /// No return type: the activity returns `()`.
    Unit,
    /// `-> T`.
    Value(&'a Type),
    /// `-> ...::Result<T, E>`, recognised by name: `ok` is `T` and `err` is `E` when written.
    Result {
        ty: &'a Type,
        ok: Option<&'a Type>,
        err: Option<&'a Type>,
    },
}

impl<'a> Activity<'a> {
    pub fn new(function: &'a ItemFn) -> Self {
        let mut context = None;
        let mut args = Vec::new();
        let mut receivers = Vec::new();
        for (position, input) in function.sig.inputs.iter().enumerate() {
            match input {
                FnArg::Receiver(receiver) => receivers.push(receiver),
                FnArg::Typed(param) if position == 0 && may_be_context(&param.ty) => {
                    context = Some(param)
                }
                FnArg::Typed(param) => args.push(Arg {
                    name: param_name(&param.pat, args.len()),
                    ty: &param.ty,
                }),
            }
        }
        Activity {
            function,
            context,
            args,
            receivers,
            output: Output::of(&function.sig.output),
        }
    }

    pub fn ident(&self) -> &'a syn::Ident {
        &self.function.sig.ident
    }

    /// The default activity name: the function's name as written, without `r#`.
    pub fn default_name(&self) -> String {
        let name = self.ident().to_string();
        name.strip_prefix("r#").map(str::to_owned).unwrap_or(name)
    }
}

impl<'a> Output<'a> {
    fn of(output: &'a ReturnType) -> Self {
        let ty = match output {
            ReturnType::Default => return Output::Unit,
            ReturnType::Type(_, ty) => &**ty,
        };
        let Some(segment) = last_segment(ty) else {
            return Output::Value(ty);
        };
        if segment.ident != "Result" {
            return Output::Value(ty);
        }
        let mut types = match &segment.arguments {
            PathArguments::AngleBracketed(generics) => generics
                .args
                .iter()
                .filter_map(|arg| match arg {
                    GenericArgument::Type(ty) => Some(ty),
                    _ => None,
                })
                .collect::<Vec<_>>(),
            _ => Vec::new(),
        }
        .into_iter();
        Output::Result {
            ty,
            ok: types.next(),
            err: types.next(),
        }
    }
}

/// A leading reference is taken for the context unless it plainly borrows data
/// (`&str`, `&[u8]`, `&String`, ...): those get the "must be owned" error instead of a
/// type error about the context.
fn may_be_context(ty: &Type) -> bool {
    const DATA: &[&str] = &[
        "str", "String", "Vec", "Path", "PathBuf", "bool", "char", "u8", "u16", "u32", "u64",
        "u128", "usize", "i8", "i16", "i32", "i64", "i128", "isize", "f32", "f64",
    ];
    let Type::Reference(reference) = strip_groups(ty) else {
        return false;
    };
    match strip_groups(&reference.elem) {
        Type::Slice(_) | Type::Array(_) | Type::Tuple(_) => false,
        elem => {
            !last_segment(elem).is_some_and(|segment| DATA.iter().any(|data| segment.ident == data))
        }
    }
}

/// The last path segment, ignoring parentheses and invisible groups from `macro_rules!`.
pub fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match strip_groups(ty) {
        Type::Path(path) if path.qself.is_none() => path.path.segments.last(),
        _ => None,
    }
}

pub fn strip_groups(ty: &Type) -> &Type {
    match ty {
        Type::Group(group) => strip_groups(&group.elem),
        Type::Paren(paren) => strip_groups(&paren.elem),
        other => other,
    }
}

/// A binding's own name (`mut x: u32` is `x`), or `arg{index}` for other patterns.
fn param_name(pat: &Pat, index: usize) -> String {
    match pat {
        Pat::Ident(binding) => {
            let name = binding.ident.to_string();
            name.strip_prefix("r#").map(str::to_owned).unwrap_or(name)
        }
        _ => format!("arg{index}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    #[test]
    fn context_is_a_leading_reference_only() {
        let function: ItemFn = parse_quote!(
            fn resize(ctx: &ActivityContext, mut path: String, (a, b): (u8, u8)) {}
        );
        let activity = Activity::new(&function);
        assert!(activity.context.is_some());
        let names: Vec<_> = activity.args.iter().map(|arg| arg.name.as_str()).collect();
        assert_eq!(names, ["path", "arg1"]);

        let function: ItemFn = parse_quote!(
            fn greet(name: String) {}
        );
        assert!(Activity::new(&function).context.is_none());
    }

    #[test]
    fn result_is_recognised_by_its_last_segment() {
        let function: ItemFn = parse_quote!(
            fn f() -> std::io::Result<u8> {}
        );
        assert!(matches!(
            Activity::new(&function).output,
            Output::Result {
                ok: Some(_),
                err: None,
                ..
            }
        ));
        let function: ItemFn = parse_quote!(
            fn f() -> Vec<u8> {}
        );
        assert!(matches!(Activity::new(&function).output, Output::Value(_)));
        let function: ItemFn = parse_quote!(
            fn f() {}
        );
        assert!(matches!(Activity::new(&function).output, Output::Unit));
    }

    #[test]
    fn default_name_drops_raw_prefix() {
        let function: ItemFn = parse_quote!(
            fn r#match() {}
        );
        assert_eq!(Activity::new(&function).default_name(), "match");
    }
}
