//! `#[activity]`: options and function in, the untouched function plus its registration out.

mod args;
mod blocking;
mod client;
mod dynamic;
mod expand;
mod model;
mod validate;

use proc_macro2::TokenStream;
use quote::ToTokens;

/// Never fails: problems become `compile_error!`s emitted next to the user's item, so
/// the item still exists and callers elsewhere see no follow-on errors.
pub fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let (options, option_errors) = args::parse(args);
    let function = match syn::parse2::<syn::ItemFn>(item.clone()) {
        Ok(function) => function,
        Err(_) => {
            let error = syn::Error::new_spanned(
                &item,
                "#[activity] applies to functions only; put it on a `fn`",
            );
            return with_errors(item, combine(option_errors.into_iter().chain([error])));
        }
    };

    let activity = model::Activity::new(&function);
    let mut function_errors: Vec<_> = validate::validate(&options, &activity)
        .err()
        .into_iter()
        .collect();
    if options.dynamic.is_some() {
        dynamic::validate(&activity, &mut function_errors);
    }
    let errors = combine(option_errors.into_iter().chain(function_errors));
    let mut out = function.to_token_stream();
    match errors {
        None => {
            // `dynamic.rs` builds on `expand.rs`, so the choice between them is made here.
            out.extend(match options.dynamic {
                Some(dynamic) => dynamic::registration(&options, &activity, dynamic),
                None => expand::registration(&options, &activity),
            });
            // A dynamic activity has no type of its own for a client to start.
            if options.dynamic.is_none() {
                let name = options.name.as_ref().map(syn::LitStr::value);
                let name = name.unwrap_or_else(|| activity.default_name());
                out.extend(client::companion(&activity, &name));
            }
        }
        Some(errors) => out.extend(errors.to_compile_error()),
    }
    out
}

fn combine(errors: impl IntoIterator<Item = syn::Error>) -> Option<syn::Error> {
    errors.into_iter().reduce(|mut all, error| {
        all.combine(error);
        all
    })
}

fn with_errors(mut item: TokenStream, errors: Option<syn::Error>) -> TokenStream {
    if let Some(errors) = errors {
        item.extend(errors.to_compile_error());
    }
    item
}
