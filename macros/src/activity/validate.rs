//! Rejects what the worker cannot call, each error on the offending token and saying the fix.

use quote::ToTokens;
use syn::visit::Visit;
use syn::{Signature, Type, TypeImplTrait, TypeReference};

use super::args::Options;
use super::blocking;
use super::model::{last_segment, strip_groups, Activity, Output};

/// Every problem at once, combined, so one build shows them all.
pub fn validate(options: &Options, activity: &Activity) -> syn::Result<()> {
    let sig = &activity.function.sig;
    let mut errors = Vec::new();
    check_kind(options, sig, &mut errors);
    check_qualifiers(sig, &mut errors);
    check_generics(sig, &mut errors);
    for receiver in &activity.receivers {
        errors.push(syn::Error::new_spanned(
            receiver,
            "activities cannot take `self`; make this a free function",
        ));
    }
    if let Some(context) = activity.context {
        check_context(&context.ty, &mut errors);
    }
    for arg in &activity.args {
        check_arg(arg.ty, &mut errors);
    }
    check_output(&activity.output, &mut errors);
    check_blocking(options, activity, &mut errors);
    match errors.into_iter().reduce(|mut all, error| {
        all.combine(error);
        all
    }) {
        Some(errors) => Err(errors),
        None => Ok(()),
    }
}

/// The `async` flag must agree with the function: it decides where the activity runs,
/// so it is stated where it is visible at the use site rather than inferred.
fn check_kind(options: &Options, sig: &Signature, errors: &mut Vec<syn::Error>) {
    match (&sig.asyncness, options.is_async) {
        // `isolated` with `async` is refused where the options are parsed.
        (Some(_), None) if options.isolated.is_some() => errors.push(syn::Error::new(
            options
                .isolated
                .unwrap_or_else(proc_macro2::Span::call_site),
            "`isolated` runs a plain `fn` in a child process, and this is an `async fn`; \
             remove `async` from the function, or remove `isolated` and write \
             `#[activity(async)]`",
        )),
        (Some(asyncness), None) if options.complete => errors.push(syn::Error::new_spanned(
            asyncness,
            "an `async fn` activity runs on the event loop and must say so: write \
             `#[activity(async)]`",
        )),
        (None, Some(_)) => errors.push(syn::Error::new_spanned(
            sig.fn_token,
            "`#[activity(async)]` needs an `async fn`: add `async` here, or drop the `async` \
             option to run this fn on the blocking pool",
        )),
        _ => {}
    }
}

/// An `async fn` runs on the event loop, where a blocking call stalls every other
/// activity on that thread; `allow_blocking` is the author saying it is fine.
fn check_blocking(options: &Options, activity: &Activity, errors: &mut Vec<syn::Error>) {
    let is_async = activity.function.sig.asyncness.is_some() && options.is_async.is_some();
    // An incomplete option list may hide an `allow_blocking`.
    if is_async && options.allow_blocking.is_none() && options.complete {
        errors.extend(blocking::find(&activity.function.block));
    }
}

fn check_qualifiers(sig: &Signature, errors: &mut Vec<syn::Error>) {
    if let Some(constness) = &sig.constness {
        errors.push(syn::Error::new_spanned(
            constness,
            "an activity cannot be a `const fn`; remove `const`",
        ));
    }
    if let Some(unsafety) = &sig.unsafety {
        errors.push(syn::Error::new_spanned(
            unsafety,
            "an activity cannot be an `unsafe fn`; remove `unsafe` and use an `unsafe` block \
             inside the function",
        ));
    }
    if let Some(abi) = &sig.abi {
        errors.push(syn::Error::new_spanned(
            abi,
            "an activity must use the Rust ABI; remove the `extern`",
        ));
    }
    if let Some(variadic) = &sig.variadic {
        errors.push(syn::Error::new_spanned(
            variadic,
            "an activity cannot be variadic; remove the `...`",
        ));
    }
}

/// The worker decodes arguments by concrete type, so there is nothing to instantiate
/// type, lifetime or const parameters with.
fn check_generics(sig: &Signature, errors: &mut Vec<syn::Error>) {
    if !sig.generics.params.is_empty() {
        errors.push(syn::Error::new_spanned(
            &sig.generics,
            "an activity cannot be generic: the worker calls it with concrete types; remove \
             the generic parameters",
        ));
    }
    if let Some(where_clause) = &sig.generics.where_clause {
        errors.push(syn::Error::new_spanned(
            where_clause,
            "an activity cannot have a `where` clause; remove it",
        ));
    }
}

/// Whether the type is really `ActivityContext` is left to the compiler (the expansion
/// emits a check on this type); only what syntax alone can tell is checked here.
fn check_context(ty: &Type, errors: &mut Vec<syn::Error>) {
    if let Type::Reference(reference) = strip_groups(ty) {
        if let Some(mutability) = &reference.mutability {
            errors.push(syn::Error::new_spanned(
                mutability,
                "the context parameter must be a shared reference: `&ActivityContext`; \
                 remove `mut`",
            ));
        }
    }
}

fn check_arg(ty: &Type, errors: &mut Vec<syn::Error>) {
    if let Type::Reference(reference) = strip_groups(ty) {
        errors.push(reference_error(reference));
    } else if let Some(impl_trait) = find_impl_trait(ty) {
        errors.push(syn::Error::new_spanned(
            impl_trait,
            "an activity argument cannot be `impl Trait`: it is decoded from a payload into a \
             concrete type; name an owned type instead",
        ));
    }
}

fn reference_error(reference: &TypeReference) -> syn::Error {
    let is_context =
        last_segment(&reference.elem).is_some_and(|segment| segment.ident == "ActivityContext");
    let message = if is_context {
        "the context parameter must come first".to_owned()
    } else {
        format!(
            "an activity argument is decoded from a payload and must be owned; {}",
            owned_suggestion(reference)
        )
    };
    syn::Error::new_spanned(reference, message)
}

/// The usual owned counterpart of a borrowed argument type.
fn owned_suggestion(reference: &TypeReference) -> String {
    let borrowed = display(reference);
    let last = last_segment(&reference.elem).map(|segment| segment.ident.to_string());
    let owned = match (strip_groups(&reference.elem), last.as_deref()) {
        (_, Some("str")) => "String".to_owned(),
        (_, Some("Path")) => "PathBuf".to_owned(),
        (Type::Slice(slice), _) => format!("Vec<{}>", display(&slice.elem)),
        (other, _) => display(other),
    };
    format!("use `{owned}` instead of `{borrowed}`")
}

fn check_output(output: &Output, errors: &mut Vec<syn::Error>) {
    let ty = match output {
        Output::Unit => return,
        Output::Value(ty) | Output::Result { ty, .. } => ty,
    };
    if let Some(impl_trait) = find_impl_trait(ty) {
        errors.push(syn::Error::new_spanned(
            impl_trait,
            "an activity cannot return `impl Trait`: the result is encoded from a concrete \
             type; name the type instead",
        ));
    }
}

fn find_impl_trait(ty: &Type) -> Option<&TypeImplTrait> {
    #[derive(Default)]
    struct Finder<'a>(Option<&'a TypeImplTrait>);
    impl<'a> Visit<'a> for Finder<'a> {
        fn visit_type_impl_trait(&mut self, found: &'a TypeImplTrait) {
            self.0.get_or_insert(found);
        }
    }
    let mut finder = Finder::default();
    finder.visit_type(ty);
    finder.0
}

/// Types as a user writes them, for messages: `Vec<u8>`, not `Vec < u8 >`.
fn display(tokens: &impl ToTokens) -> String {
    let spaced = tokens.to_token_stream().to_string();
    [
        (" <", "<"),
        ("< ", "<"),
        (" >", ">"),
        (" ,", ","),
        (" ::", "::"),
        (":: ", "::"),
    ]
    .iter()
    .chain(&[
        ("& ", "&"),
        ("[ ", "["),
        (" ]", "]"),
        ("( ", "("),
        (" )", ")"),
    ])
    .fold(spaced, |text, (from, to)| text.replace(from, to))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activity::args;
    use quote::quote;
    use syn::{parse_quote, ItemFn};

    fn errors(options: proc_macro2::TokenStream, function: ItemFn) -> Vec<String> {
        let (options, error) = args::parse(options);
        assert!(error.is_none(), "{error:?}");
        match validate(&options, &Activity::new(&function)) {
            Ok(()) => Vec::new(),
            Err(errors) => errors.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn accepts_the_documented_forms() {
        let forms: [ItemFn; 5] = [
            parse_quote!(
                fn resize(
                    ctx: &ActivityContext,
                    path: String,
                    width: u32,
                ) -> Result<String, ActivityError> {
                }
            ),
            parse_quote!(
                fn greet(name: String) -> String {}
            ),
            parse_quote!(
                pub fn nothing() {}
            ),
            parse_quote!(
                fn bytes(mut data: Vec<u8>) -> Vec<u8> {}
            ),
            parse_quote!(
                fn io() -> std::io::Result<()> {}
            ),
        ];
        for form in forms {
            assert_eq!(errors(quote!(), form), Vec::<String>::new());
        }
        let fetch: ItemFn = parse_quote!(
            async fn fetch(url: String) -> Vec<u8> {}
        );
        assert_eq!(errors(quote!(async), fetch), Vec::<String>::new());
    }

    #[test]
    fn async_flag_must_match_the_function() {
        let fetch: ItemFn = parse_quote!(
            async fn fetch() {}
        );
        assert_eq!(
            errors(quote!(), fetch),
            [
                "an `async fn` activity runs on the event loop and must say so: write \
              `#[activity(async)]`"
            ]
        );
        let resize: ItemFn = parse_quote!(
            fn resize() {}
        );
        assert_eq!(
            errors(quote!(async), resize),
            [
                "`#[activity(async)]` needs an `async fn`: add `async` here, or drop the `async` \
              option to run this fn on the blocking pool"
            ]
        );
    }

    #[test]
    fn borrowed_arguments_suggest_owned_types() {
        let function: ItemFn = parse_quote!(
            fn f(ctx: &ActivityContext, a: &str, b: &[u8], c: &Vec<u8>, d: &std::path::Path) {}
        );
        let prefix = "an activity argument is decoded from a payload and must be owned; ";
        assert_eq!(
            errors(quote!(), function),
            [
                format!("{prefix}use `String` instead of `&str`"),
                format!("{prefix}use `Vec<u8>` instead of `&[u8]`"),
                format!("{prefix}use `Vec<u8>` instead of `&Vec<u8>`"),
                format!("{prefix}use `PathBuf` instead of `&std::path::Path`"),
            ]
        );
    }

    #[test]
    fn a_late_context_must_come_first() {
        let function: ItemFn = parse_quote!(
            fn f(name: String, ctx: &legwork::ActivityContext) {}
        );
        assert_eq!(
            errors(quote!(), function),
            ["the context parameter must come first"]
        );
    }

    #[test]
    fn generics_receivers_and_impl_trait_are_rejected() {
        let function: ItemFn = parse_quote!(
            fn f<'a, T>(&self, a: impl Into<String>) -> Option<impl Sized>
            where
                T: Copy,
            {
            }
        );
        assert_eq!(
            errors(quote!(), function),
            [
                "an activity cannot be generic: the worker calls it with concrete types; remove \
                 the generic parameters",
                "an activity cannot have a `where` clause; remove it",
                "activities cannot take `self`; make this a free function",
                "an activity argument cannot be `impl Trait`: it is decoded from a payload into \
                 a concrete type; name an owned type instead",
                "an activity cannot return `impl Trait`: the result is encoded from a concrete \
                 type; name the type instead",
            ]
        );
    }

    #[test]
    fn qualifiers_are_rejected() {
        let function: ItemFn = parse_quote!(
            const unsafe extern "C" fn f() {}
        );
        assert_eq!(errors(quote!(), function).len(), 3);
        let function: ItemFn = parse_quote!(
            fn f(ctx: &mut ActivityContext) {}
        );
        assert_eq!(
            errors(quote!(), function),
            ["the context parameter must be a shared reference: `&ActivityContext`; remove `mut`"]
        );
    }

    #[test]
    fn blocking_calls_are_checked_in_async_fns_unless_allowed() {
        let nap: ItemFn = parse_quote!(
            async fn nap() {
                std::thread::sleep(d);
                std::fs::read(p);
            }
        );
        assert_eq!(errors(quote!(async), nap.clone()).len(), 2);
        assert_eq!(
            errors(quote!(async, allow_blocking), nap),
            Vec::<String>::new()
        );
        let nap: ItemFn = parse_quote!(
            fn nap() {
                std::thread::sleep(d);
            }
        );
        assert_eq!(errors(quote!(), nap), Vec::<String>::new());
    }
}
