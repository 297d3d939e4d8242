//! The typed client of an activity: `GreetActivity::start(&client, options, name)` for
//! `fn greet`.
//!
//! A struct next to the function (named in UpperCamelCase, with `Activity` after it so
//! that it does not take a name the user's own types are likely to have) resolves types
//! in the function's own scope (a module or a fn body) and has the function's
//! visibility. Its methods take the activity's own parameter types, so a wrong argument
//! is rustc's ordinary type error on that argument.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::{Ident, Pat};

use super::expand::{decoder_probe, encoder_probe, private};
use super::model::{Activity, Output};

/// The struct and its `start`/`execute` for the activity registered as `name`.
pub fn companion(activity: &Activity, name: &str) -> TokenStream {
    let private = private();
    let function = &activity.function;
    let ident = client_ident(activity.ident());
    let vis = &function.vis;
    let params = param_names(activity);
    let types: Vec<_> = activity.args.iter().map(|arg| arg.ty).collect();
    let result = result_type(activity);
    let client_probes =
        quote!(use #private::{ClientDecodeFallback as _, ClientEncodeFallback as _};);
    let encoders = types.iter().zip(&params).map(|(ty, param)| {
        let encoder = encoder_probe(&quote!(#ty));
        quote!(#private::encode_arg(#encoder, #param)?)
    });
    let decoder = decoder_probe(&result);
    let doc = format!(
        "Starts the activity `{name}` from a client: `{ident}::start(&client, \
         ActivityOptions::new(\"queue\"), ...)` with the function's arguments after the \
         context; `.result().await` returns its result type."
    );
    let client = quote!(&#private::Client);
    let options = quote!(#private::ActivityOptions);
    let error = quote!(#private::ClientError);
    quote! {
        #[doc = #doc]
        #[allow(dead_code)]
        #vis struct #ident {}

        #[allow(dead_code, unused_qualifications, clippy::all, clippy::pedantic)]
        impl #ident {
            /// Starts the activity (a standalone activity); the handle waits for its result.
            #vis async fn start(
                client: #client,
                options: #options,
                #(#params: #types,)*
            ) -> ::core::result::Result<#private::TypedActivityHandle<#result>, #error> {
                #client_probes
                let payloads = ::std::vec![#(#encoders),*];
                let decoder = #decoder;
                #private::TypedActivityHandle::start(client, #name, options, payloads, decoder).await
            }

            /// Starts the activity and waits for its result.
            #vis async fn execute(
                client: #client,
                options: #options,
                #(#params: #types,)*
            ) -> ::core::result::Result<#result, #error> {
                Self::start(client, options, #(#params),*).await?.result().await
            }
        }
    }
}

/// `greet` → `GreetActivity`, `record_payment` → `RecordPaymentActivity`, spanned on
/// the function's name.
pub fn client_ident(function: &Ident) -> Ident {
    let name = function.to_string();
    let camel: String = name
        .trim_start_matches("r#")
        .split('_')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|first| first.to_uppercase().chain(chars).collect::<String>())
                .unwrap_or_default()
        })
        .collect();
    format_ident!("{camel}Activity", span = function.span())
}

/// The parameter names as written, so signatures read like the function's; patterns
/// and names that would clash with `client` or `options` get a plain name.
fn param_names(activity: &Activity) -> Vec<Ident> {
    let inputs = activity
        .function
        .sig
        .inputs
        .iter()
        .filter_map(|input| match input {
            syn::FnArg::Typed(param) => Some(param),
            syn::FnArg::Receiver(_) => None,
        });
    let skip = usize::from(activity.context.is_some());
    inputs
        .skip(skip)
        .enumerate()
        .map(|(index, param)| match &*param.pat {
            Pat::Ident(binding) if binding.ident != "client" && binding.ident != "options" => {
                binding.ident.clone()
            }
            _ => format_ident!("arg{}", index),
        })
        .collect()
}

/// What `.result()` returns: the success type, `()` for none, or the `Ok` of a
/// `Result` alias that names no types (`fmt::Result`).
fn result_type(activity: &Activity) -> TokenStream {
    let private = private();
    match &activity.output {
        Output::Unit => quote!(()),
        Output::Value(ty) | Output::Result { ok: Some(ty), .. } => quote!(#ty),
        Output::Result { ty, ok: None, .. } => quote!(<#ty as #private::ResultOk>::Ok),
    }
}

#[cfg(test)]
mod tests {
    use super::client_ident;
    use proc_macro2::Span;
    use syn::Ident;

    #[test]
    fn the_client_is_the_function_name_in_upper_camel_case_with_activity() {
        let of = |name: &str| client_ident(&Ident::new(name, Span::call_site())).to_string();
        assert_eq!(of("greet"), "GreetActivity");
        assert_eq!(of("record_payment"), "RecordPaymentActivity");
        assert_eq!(of("resize_v2"), "ResizeV2Activity");
    }
}
