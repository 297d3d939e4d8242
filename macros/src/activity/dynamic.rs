//! `#[activity(dynamic)]`: the one function that serves every activity type no function
//! registers. It takes the call undecoded (`DynamicCall`); its result encodes as any
//! activity's does.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::Type;

use super::args::Options;
use super::expand::{call, descriptor, finish, private, registered};
use super::model::{last_segment, strip_groups, Activity};

/// A crate-root name each dynamic activity defines, so that a second one in the same
/// crate is a compile error (E0428, "defined multiple times") pointing at both
/// `dynamic` flags. Across crates the worker's start-up check catches it.
const ONE_PER_CRATE: &str = "legwork_allows_one_dynamic_activity_per_crate";

const SHAPE: &str = "a dynamic activity takes the call undecoded: \
                     `fn name(ctx: &ActivityContext, call: legwork::DynamicCall)` (the context \
                     is optional), and decodes arguments with `call.args::<(A, B)>()`";

/// Signature errors on top of those every activity gets: exactly one `DynamicCall`
/// parameter after the optional context.
pub fn validate(activity: &Activity, errors: &mut Vec<syn::Error>) {
    let mut args = activity.args.iter();
    match args.next() {
        None => errors.push(syn::Error::new_spanned(
            &activity.function.sig.ident,
            format!("{SHAPE}; add the `call: legwork::DynamicCall` parameter"),
        )),
        // References and `impl Trait` already have their own error.
        Some(arg) if reported(arg.ty) => {}
        Some(arg) if !is_dynamic_call(arg.ty) => errors.push(syn::Error::new_spanned(
            arg.ty,
            format!("{SHAPE}; make this parameter `legwork::DynamicCall`"),
        )),
        Some(_) => {}
    }
    for extra in args {
        errors.push(syn::Error::new_spanned(
            extra.ty,
            format!("{SHAPE}; remove this parameter and read it from the call"),
        ));
    }
}

fn reported(ty: &Type) -> bool {
    matches!(strip_groups(ty), Type::Reference(_) | Type::ImplTrait(_))
}

fn is_dynamic_call(ty: &Type) -> bool {
    last_segment(ty)
        .is_some_and(|segment| segment.ident == "DynamicCall" && segment.arguments.is_none())
}

/// The invoker, its descriptor, and the crate-root marker.
pub fn registration(_options: &Options, activity: &Activity, dynamic: Span) -> TokenStream {
    let private = private();
    let (invoker, kind) = if activity.function.sig.asyncness.is_some() {
        (async_invoker(activity), quote!(Async(__legwork_invoke)))
    } else {
        (sync_invoker(activity), quote!(Sync(__legwork_invoke)))
    };
    // Limits of types it serves are set by name in the worker's options.
    let none = quote!(::core::option::Option::None);
    let descriptor = descriptor(activity, quote!(#private::DYNAMIC_NAME), kind, none);
    let block = registered(invoker, quote!(#private::DynamicDescriptor(#descriptor)));
    let marker = syn::Ident::new(ONE_PER_CRATE, dynamic);
    let macro_rules = quote_spanned!(dynamic=> macro_rules!);
    quote! {
        #block
        #[doc(hidden)]
        #[macro_export]
        #macro_rules #marker { () => {} }
    }
}

/// The payloads go to the function as they came; only the result is encoded, and any
/// error or panic names the activity type that was called.
fn sync_invoker(activity: &Activity) -> TokenStream {
    let private = private();
    let call = call(activity, quote!(__legwork_ctx));
    let finish = finish(activity, quote!(&__legwork_type));
    quote! {
        fn __legwork_invoke(
            __legwork_ctx: &#private::ActivityContext,
            __legwork_args: #private::Args,
        ) -> #private::Outcome {
            let __legwork_arg0 = #private::DynamicCall::of_attempt(__legwork_ctx, __legwork_args);
            let __legwork_type = ::std::string::String::from(__legwork_arg0.activity_type());
            #private::run_dynamic(&__legwork_type, || {
                let __legwork_out = #call;
                #finish
            })
        }
    }
}

/// As for any async activity, calling the invoker runs no user code: the call is built
/// here, the function runs in the future, on the event loop.
fn async_invoker(activity: &Activity) -> TokenStream {
    let private = private();
    let call = call(activity, quote!(&__legwork_ctx));
    let finish = finish(activity, quote!(&__legwork_type));
    quote! {
        fn __legwork_invoke(
            __legwork_ctx: #private::ActivityContext,
            __legwork_args: #private::Args,
        ) -> #private::BoxOutcome {
            let __legwork_arg0 = #private::DynamicCall::of_attempt(&__legwork_ctx, __legwork_args);
            let __legwork_type = ::std::string::String::from(__legwork_arg0.activity_type());
            #private::box_dynamic(__legwork_type.clone(), async move {
                let __legwork_out = #call.await;
                #finish
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::{parse_quote, ItemFn};

    fn errors(function: ItemFn) -> Vec<String> {
        let mut errors = Vec::new();
        validate(&Activity::new(&function), &mut errors);
        errors.into_iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn accepts_the_call_with_or_without_context() {
        let forms: [ItemFn; 3] = [
            parse_quote!(
                fn fallback(ctx: &ActivityContext, call: DynamicCall) -> String {}
            ),
            parse_quote!(
                fn fallback(call: legwork::DynamicCall) {}
            ),
            parse_quote!(
                async fn fallback(ctx: &ActivityContext, call: DynamicCall) {}
            ),
        ];
        for form in forms {
            assert_eq!(errors(form), Vec::<String>::new());
        }
    }

    #[test]
    fn typed_missing_or_extra_parameters_are_errors() {
        let typed: ItemFn = parse_quote!(
            fn fallback(name: String) {}
        );
        assert_eq!(
            errors(typed),
            [format!(
                "{SHAPE}; make this parameter `legwork::DynamicCall`"
            )]
        );
        let none: ItemFn = parse_quote!(
            fn fallback(ctx: &ActivityContext) {}
        );
        assert_eq!(
            errors(none),
            [format!(
                "{SHAPE}; add the `call: legwork::DynamicCall` parameter"
            )]
        );
        let extra: ItemFn = parse_quote!(
            fn fallback(call: DynamicCall, n: u32) {}
        );
        assert_eq!(
            errors(extra),
            [format!(
                "{SHAPE}; remove this parameter and read it from the call"
            )]
        );
    }
}
