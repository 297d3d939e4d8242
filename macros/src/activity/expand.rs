//! The registration emitted after a valid activity: an invoker and its descriptor.
//!
//! Runtime items are named only as `::legwork::__private::...` and std only as
//! `::core::`/`::std::`, so the expansion works whatever the user's module imports.
//! Checks that only the type system can make (serde bounds, the context type) are
//! emitted with the user's type tokens, so their errors land on those tokens.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::Type;

use super::args::Options;
use super::model::{Activity, Output};

const P: &str = "::legwork::__private";

/// The registration of a named activity; `dynamic.rs` writes a dynamic one's.
pub fn registration(options: &Options, activity: &Activity) -> TokenStream {
    let name = match &options.name {
        Some(name) => name.value(),
        None => activity.default_name(),
    };
    let (invoker, kind) = if options.is_async.is_some() {
        (
            async_invoker(activity, &name),
            quote!(Async(__legwork_invoke)),
        )
    } else if options.isolated.is_some() {
        let memory_limit = match &options.memory_limit {
            Some((_, bytes)) => quote!(::core::option::Option::Some(#bytes)),
            None => quote!(::core::option::Option::None),
        };
        let kind = quote!(Isolated {
            invoke: __legwork_invoke,
            memory_limit: #memory_limit,
        });
        (sync_invoker(activity, &name), kind)
    } else {
        (
            sync_invoker(activity, &name),
            quote!(Sync(__legwork_invoke)),
        )
    };
    let max_concurrent = match &options.max_concurrent {
        Some(limit) => quote!(::core::option::Option::Some(#limit)),
        None => quote!(::core::option::Option::None),
    };
    let descriptor = descriptor(activity, quote!(#name), kind, max_concurrent);
    registered(invoker, descriptor)
}

/// The hidden `const _` block that defines `invoker` (`__legwork_invoke`) with the helpers
/// it relies on, and submits `descriptor` to inventory. Lints are off inside: the code is
/// generated, and a user's `#![deny(...)]` should not reject it.
pub(super) fn registered(invoker: TokenStream, descriptor: TokenStream) -> TokenStream {
    let private = private();
    let helpers = helpers();
    quote! {
        #[doc(hidden)]
        #[allow(
            non_upper_case_globals,
            non_snake_case,
            unused_qualifications,
            unused_mut,
            unused_variables,
            unreachable_code,
            clippy::all
        )]
        const _: () = {
            #helpers
            #invoker
            #private::inventory::submit! { #descriptor }
        };
    }
}

/// The `ActivityDescriptor` of `activity`, registered under `name`, whose invoker is the
/// block's `__legwork_invoke` of `kind` (`Sync` or `Async`).
pub(super) fn descriptor(
    activity: &Activity,
    name: TokenStream,
    kind: TokenStream,
    max_concurrent: TokenStream,
) -> TokenStream {
    let private = private();
    let function = activity.default_name();
    let location = location(activity);
    quote! {
        #private::descriptor(
            #name,
            ::core::concat!(::core::module_path!(), "::", #function),
            #location,
            #private::Invoker::#kind,
            #max_concurrent,
        )
    }
}

/// The function's source location, for `--list` and duplicate errors.
pub(super) fn location(activity: &Activity) -> TokenStream {
    let private = private();
    let here = activity.ident().span();
    let line = quote_spanned!(here=> ::core::line!());
    let column = quote_spanned!(here=> ::core::column!());
    quote! {
        #private::location(::core::file!(), #line, #column)
    }
}

pub(super) fn private() -> TokenStream {
    P.parse().expect("a valid path")
}

/// The payload decoder for `ty`, chosen at compile time by autoref (see payload/probe.rs).
pub(super) fn decoder_probe(ty: &TokenStream) -> TokenStream {
    let private = private();
    quote! {{
        use #private::{DecodeViaPlain as _, DecodeViaProto as _, DecodeViaSerde as _};
        (&&&#private::Probe::<#ty>::new()).decoder()
    }}
}

/// The payload encoder for `ty`, chosen at compile time by autoref (see payload/probe.rs).
pub(super) fn encoder_probe(ty: &TokenStream) -> TokenStream {
    let private = private();
    quote! {{
        use #private::{EncodeViaPlain as _, EncodeViaProto as _, EncodeViaSerde as _};
        (&&&#private::Probe::<#ty>::new()).encoder()
    }}
}

/// Items the invoker relies on, private to this activity's `const _` block.
pub(super) fn helpers() -> TokenStream {
    let private = private();
    quote! {
        // The probe passes the type to check, or `()` for a protobuf message.
        fn __legwork_assert_arg<T: #private::serde::de::DeserializeOwned>(
            _: ::core::marker::PhantomData<T>,
        ) {
        }
        fn __legwork_assert_result<T: #private::serde::Serialize>(
            _: ::core::marker::PhantomData<T>,
        ) {
        }

        // Without this, a type with no serde impl would fail method resolution on the
        // probe as well, burying the clear bound error above under a second one. It is
        // only ever picked when that bound error is also reported.
        trait __LegworkNoCodec {
            fn decoder<D>(self) -> D;
            fn encoder<E>(self) -> E;
        }
        impl<T> __LegworkNoCodec for #private::Probe<T> {
            fn decoder<D>(self) -> D {
                ::core::unreachable!()
            }
            fn encoder<E>(self) -> E {
                ::core::unreachable!()
            }
        }

        #[diagnostic::on_unimplemented(
            message = "the context parameter must be `&ActivityContext`, not `{Self}`",
            label = "expected `&ActivityContext`",
            note = "a leading reference parameter is the activity context; make it `&ActivityContext`, or take this argument by value"
        )]
        trait __LegworkContext<'a> {
            fn __legwork_context(ctx: &'a #private::ActivityContext) -> Self;
        }
        impl<'a> __LegworkContext<'a> for &'a #private::ActivityContext {
            fn __legwork_context(ctx: &'a #private::ActivityContext) -> Self {
                ctx
            }
        }
    }
}

fn sync_invoker(activity: &Activity, name: &str) -> TokenStream {
    let private = private();
    let decode = decode_args(activity);
    let call = call(activity, quote!(__legwork_ctx));
    let finish = finish(activity, name);
    quote! {
        fn __legwork_invoke(
            __legwork_ctx: &#private::ActivityContext,
            __legwork_args: #private::Args,
        ) -> #private::Outcome {
            #decode
            let __legwork_out = #call;
            #finish
        }
    }
}

/// Arguments are decoded in the future, on the event loop: the worker calls the invoker
/// on its control runtime, where no user code (a `Deserialize` impl included) may run.
/// They are decoded before the function is called, so a bad payload fails the task
/// without ever running the activity's own code.
fn async_invoker(activity: &Activity, name: &str) -> TokenStream {
    let private = private();
    let decode = decode_args(activity);
    let bindings = bindings(activity);
    let call = call(activity, quote!(&__legwork_ctx));
    let finish = finish(activity, name);
    quote! {
        fn __legwork_invoke(
            __legwork_ctx: #private::ActivityContext,
            __legwork_args: #private::Args,
        ) -> #private::BoxOutcome {
            #private::box_outcome(async move {
                let __legwork_decoded = (move || -> ::core::result::Result<_, #private::ActivityError> {
                    #decode
                    ::core::result::Result::Ok((#(#bindings,)*))
                })();
                let (#(#bindings,)*) = match __legwork_decoded {
                    ::core::result::Result::Ok(decoded) => decoded,
                    ::core::result::Result::Err(error) => {
                        return ::core::result::Result::Err(error);
                    }
                };
                let __legwork_out = #call.await;
                #finish
            })
        }
    }
}

pub(super) fn bindings(activity: &Activity) -> Vec<syn::Ident> {
    (0..activity.args.len())
        .map(|index| format_ident!("__legwork_arg{}", index))
        .collect()
}

/// Checks the count by parameter name, then decodes each argument with the codec its
/// type selects (`Vec<u8>` raw, everything else serde).
fn decode_args(activity: &Activity) -> TokenStream {
    let names = activity.args.iter().map(|arg| &arg.name);
    if activity.args.is_empty() {
        return quote!(__legwork_args.into_decoder(&[])?;);
    }
    let decoded = activity
        .args
        .iter()
        .zip(bindings(activity))
        .map(|(arg, binding)| {
            let ty = arg.ty;
            let assert = assert_bound(ty, quote!(__legwork_assert_arg));
            let decoder = decoder_probe(&quote!(#ty));
            quote! {
                #assert
                let #binding: #ty = __legwork_decoder.next(#decoder)?;
            }
        });
    quote! {
        let mut __legwork_decoder = __legwork_args.into_decoder(&[#(#names),*])?;
        #(#decoded)*
    }
}

/// The bound check carries the type's own span, so "not satisfied" points at the type.
/// The probe picks what is checked: the type, or `()` for a protobuf message. Called
/// through a binding, so rustc reports the bound on the type, not "introduced by this
/// call".
fn assert_bound(ty: &Type, check: TokenStream) -> TokenStream {
    let private = private();
    // Not spanned at the type: only one of the two is used, and lints on the user's
    // span would call the other unused.
    let probes = quote!(use #private::{ProtoSerdeBound as _, SerdeBound as _};);
    // rustc points at the function's path, so that too carries the type's span.
    let check: TokenStream = check
        .into_iter()
        .map(|mut token| {
            token.set_span(ty.span());
            token
        })
        .collect();
    let assert = quote_spanned!(ty.span()=>
        let __legwork_check = #check;
        __legwork_check((&&&#private::Probe::<#ty>::new()).serde_bound());
    );
    quote!({ #probes #assert })
}

pub(super) fn call(activity: &Activity, ctx: TokenStream) -> TokenStream {
    let ident = activity.ident();
    let bindings = bindings(activity);
    let context = activity.context.map(|context| {
        let ty = &context.ty;
        // Converted through a trait so a wrong type is one error on that type, with
        // the call itself still type-checking.
        let convert = quote_spanned!(ty.span()=>
            <#ty as __LegworkContext<'_>>::__legwork_context
        );
        quote!(#convert(#ctx),)
    });
    quote!(#ident(#context #(#bindings),*))
}

/// Encodes `__legwork_out` with the codec of the success type; errors name the activity
/// (`name` is a string literal, or an expression for a dynamic activity).
pub(super) fn finish(activity: &Activity, name: impl quote::ToTokens) -> TokenStream {
    let private = private();
    let ok = |value: Option<&Type>| {
        let probe_ty = value.map_or_else(|| quote!(()), |ty| quote!(#ty));
        let assert = value.map(|ty| assert_bound(ty, quote!(__legwork_assert_result)));
        (assert, encoder_probe(&probe_ty))
    };
    let (result, (assert, encoder)) = match &activity.output {
        Output::Unit => (plain_ok(), ok(None)),
        Output::Value(ty) => (plain_ok(), ok(Some(ty))),
        Output::Result { ty, ok: value, err } => {
            // Spanned at `E` so a missing `Into<ActivityError>` points at the error type.
            let at = err.map_or_else(|| ty.span(), |err| err.span());
            let result = quote_spanned!(at=> #private::into_result(__legwork_out));
            match value {
                Some(value) => (result, ok(Some(value))),
                None => (result, (None, quote!(#private::encode_json))),
            }
        }
    };
    quote! {
        #assert
        #private::finish(#name, #result, #encoder)
    }
}

fn plain_ok() -> TokenStream {
    let private = private();
    quote!(::core::result::Result::Ok::<_, #private::ActivityError>(__legwork_out))
}
