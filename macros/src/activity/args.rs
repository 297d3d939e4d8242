//! The options inside `#[activity(...)]`.

use proc_macro2::{Span, TokenStream};
use syn::meta::ParseNestedMeta;
use syn::parse::Parser;
use syn::{Expr, Lit, LitStr, Token};

const VALID: &str = "valid options are `async`, `name = \"...\"`, `allow_blocking`, `dynamic`, \
                     `max_concurrent = N`, `isolated` and `memory_limit = \"512MiB\"`";

/// What the attribute asked for; each flag keeps its span for error messages.
#[derive(Default)]
pub struct Options {
    pub is_async: Option<Span>,
    pub name: Option<LitStr>,
    pub allow_blocking: Option<Span>,
    /// `#[activity(dynamic)]`: serves every activity type no function registers.
    pub dynamic: Option<Span>,
    /// `#[activity(max_concurrent = N)]`: at most N attempts of this type at once.
    pub max_concurrent: Option<syn::LitInt>,
    /// `#[activity(isolated)]`: each attempt runs in a child process.
    pub isolated: Option<Span>,
    /// `#[activity(isolated, memory_limit = "512MiB")]`: the limit in bytes, with the
    /// literal for spans.
    pub memory_limit: Option<(LitStr, u64)>,
    /// False when the option list did not parse to the end: later options are unknown,
    /// so checks that depend on an option being absent must not run.
    pub complete: bool,
}

/// Parses what it can: every misuse is reported, not just the first, and the options
/// seen so far are returned alongside the errors.
pub fn parse(args: TokenStream) -> (Options, Option<syn::Error>) {
    let mut options = Options::default();
    let mut errors = Vec::new();
    let parsed =
        syn::meta::parser(|meta| parse_option(meta, &mut options, &mut errors)).parse2(args);
    options.complete = parsed.is_ok();
    errors.extend(parsed.err());
    if let (Some(_), Some(name)) = (options.dynamic, &options.name) {
        errors.push(syn::Error::new_spanned(
            name,
            "a dynamic activity serves every activity type no function registers, so it has \
             no name; remove `name = ...` (or `dynamic`, to register this one name)",
        ));
    }
    if let (Some(_), Some(limit)) = (options.dynamic, &options.max_concurrent) {
        errors.push(syn::Error::new_spanned(
            limit,
            "a dynamic activity serves many activity types, so it has no limit of its own; \
             remove `max_concurrent` and limit the types by name in the worker's options \
             (`WorkerOptions::activity_limits`, `--max-concurrent TYPE=N`)",
        ));
    }
    check_isolated(&options, &mut errors);
    if let (Some(allow), None) = (options.allow_blocking, options.is_async) {
        if options.complete {
            errors.push(syn::Error::new(
                allow,
                "`allow_blocking` only applies to `#[activity(async)]`; a plain fn already \
                 runs on the blocking pool, so remove `allow_blocking`",
            ));
        }
    }
    let error = errors.into_iter().reduce(|mut all, error| {
        all.combine(error);
        all
    });
    (options, error)
}

/// `isolated` runs a plain `fn` in a child process; `memory_limit` only means something
/// there.
fn check_isolated(options: &Options, errors: &mut Vec<syn::Error>) {
    if let (Some(isolated), Some(_)) = (options.isolated, options.is_async) {
        errors.push(syn::Error::new(
            isolated,
            "`isolated` runs a plain `fn` in a child process; an `async fn` cannot be isolated, \
             so remove `isolated` (or `async`, and make the function a plain `fn`)",
        ));
    }
    if let (Some(isolated), Some(_)) = (options.isolated, options.dynamic) {
        errors.push(syn::Error::new(
            isolated,
            "a dynamic activity cannot be isolated yet; remove `isolated`, or register the \
             types to isolate by name",
        ));
    }
    if let (None, Some((limit, _))) = (options.isolated, &options.memory_limit) {
        if options.complete {
            errors.push(syn::Error::new_spanned(
                limit,
                "`memory_limit` caps the child process of an isolated activity; write \
                 `#[activity(isolated, memory_limit = \"...\")]`, or remove `memory_limit`",
            ));
        }
    }
}

fn parse_option(
    meta: ParseNestedMeta,
    options: &mut Options,
    errors: &mut Vec<syn::Error>,
) -> syn::Result<()> {
    let span = syn::spanned::Spanned::span(&meta.path);
    if meta.path.is_ident("async") {
        flag(&meta, &mut options.is_async, "async", errors)
    } else if meta.path.is_ident("dynamic") {
        flag(&meta, &mut options.dynamic, "dynamic", errors)
    } else if meta.path.is_ident("isolated") {
        flag(&meta, &mut options.isolated, "isolated", errors)
    } else if meta.path.is_ident("memory_limit") {
        let limit = memory_value(&meta)?;
        match (&options.memory_limit, limit) {
            (Some(_), _) => errors.push(duplicate(span, "memory_limit")),
            (None, Ok(limit)) => options.memory_limit = Some(limit),
            (None, Err(error)) => errors.push(error),
        }
        Ok(())
    } else if meta.path.is_ident("allow_blocking") {
        flag(&meta, &mut options.allow_blocking, "allow_blocking", errors)
    } else if meta.path.is_ident("max_concurrent") {
        let limit = limit_value(&meta)?;
        match (&options.max_concurrent, limit) {
            (Some(_), _) => errors.push(duplicate(span, "max_concurrent")),
            (None, Ok(limit)) => options.max_concurrent = Some(limit),
            (None, Err(error)) => errors.push(error),
        }
        Ok(())
    } else if meta.path.is_ident("name") {
        let name = name_value(&meta)?;
        match (&options.name, name) {
            (Some(_), _) => errors.push(duplicate(span, "name")),
            (None, Ok(name)) => options.name = Some(name),
            (None, Err(error)) => errors.push(error),
        }
        Ok(())
    } else {
        let shown = meta
            .path
            .segments
            .iter()
            .map(|s| s.ident.to_string())
            .collect::<Vec<_>>();
        errors.push(syn::Error::new_spanned(
            &meta.path,
            format!("unknown option `{}`; {VALID}", shown.join("::")),
        ));
        skip_value(&meta)
    }
}

/// A bare flag such as `async`; a value after it is an error, and is skipped so the
/// rest of the list is still checked.
fn flag(
    meta: &ParseNestedMeta,
    slot: &mut Option<Span>,
    flag: &str,
    errors: &mut Vec<syn::Error>,
) -> syn::Result<()> {
    let span = syn::spanned::Spanned::span(&meta.path);
    if !(meta.input.is_empty() || meta.input.peek(Token![,])) {
        errors.push(syn::Error::new(
            meta.input.span(),
            format!("`{flag}` takes no value; write just `{flag}`"),
        ));
        skip_value(meta)?;
    }
    if slot.is_some() {
        errors.push(duplicate(span, flag));
    } else {
        *slot = Some(span);
    }
    Ok(())
}

/// The outer `Result` is a syntax error that ends parsing; the inner one is a misuse
/// of an otherwise well-formed `name = <expr>`.
fn name_value(meta: &ParseNestedMeta) -> syn::Result<syn::Result<LitStr>> {
    if !meta.input.peek(Token![=]) {
        return Ok(Err(
            meta.error("expected `name = \"...\"` with the activity name")
        ));
    }
    let value: Expr = meta.value()?.parse()?;
    Ok(match value {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Str(name),
            ..
        }) if name.value().is_empty() => Err(syn::Error::new_spanned(
            name,
            "activity name must not be empty",
        )),
        Expr::Lit(syn::ExprLit {
            lit: Lit::Str(name),
            ..
        }) => Ok(name),
        other => Err(syn::Error::new_spanned(
            other,
            "expected a string literal: `name = \"my_activity\"`",
        )),
    })
}

/// `max_concurrent = N` with N a positive integer that fits a `usize`; the outer `Result`
/// is a syntax error, as in [`name_value`].
fn limit_value(meta: &ParseNestedMeta) -> syn::Result<syn::Result<syn::LitInt>> {
    const EXPECTED: &str = "expected a positive whole number: `max_concurrent = 4`";
    if !meta.input.peek(Token![=]) {
        return Ok(Err(meta.error(
            "expected `max_concurrent = N`, the most attempts of this activity that run at once",
        )));
    }
    let value: Expr = meta.value()?.parse()?;
    Ok(match value {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Int(limit),
            ..
        }) => match limit.base10_parse::<usize>() {
            Ok(0) => Err(syn::Error::new_spanned(
                limit,
                "`max_concurrent` must be at least 1; remove it to leave this activity \
                 unlimited",
            )),
            Ok(_) if !limit.suffix().is_empty() => Err(syn::Error::new_spanned(
                limit,
                "write the limit without a type suffix: `max_concurrent = 4`",
            )),
            Ok(_) => Ok(limit),
            Err(_) => Err(syn::Error::new_spanned(limit, EXPECTED)),
        },
        other => Err(syn::Error::new_spanned(other, EXPECTED)),
    })
}

/// `memory_limit = "512MiB"`: a string literal with a whole number and a binary unit
/// (`KiB`, `MiB`, `GiB`), as the worker's `--isolated-memory-limit` takes it.
fn memory_value(meta: &ParseNestedMeta) -> syn::Result<syn::Result<(LitStr, u64)>> {
    const EXPECTED: &str = "expected a size with a unit in a string: `memory_limit = \"512MiB\"` \
                            (KiB, MiB or GiB)";
    if !meta.input.peek(Token![=]) {
        return Ok(Err(meta.error(EXPECTED)));
    }
    let value: Expr = meta.value()?.parse()?;
    Ok(match value {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Str(text),
            ..
        }) => match parse_size(&text.value()) {
            Some(0) => Err(syn::Error::new_spanned(
                text,
                "`memory_limit` must be more than zero; remove it to leave the child unlimited",
            )),
            Some(bytes) => Ok((text, bytes)),
            None => Err(syn::Error::new_spanned(text, EXPECTED)),
        },
        other => Err(syn::Error::new_spanned(other, EXPECTED)),
    })
}

/// `"512MiB"` as bytes; `None` for anything else. The runtime's flag parser reads the same
/// form (`legwork_runtime::isolated::parse_size`); the macro cannot call it, so this is
/// its compile-time twin, tested against the same cases.
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let shift = match unit.trim() {
        "KiB" => 10,
        "MiB" => 20,
        "GiB" => 30,
        _ => return None,
    };
    number.parse::<u64>().ok()?.checked_mul(1 << shift)
}

fn skip_value(meta: &ParseNestedMeta) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        meta.value()?.parse::<Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        let _group: proc_macro2::Group = meta.input.parse()?;
    }
    Ok(())
}

fn duplicate(span: Span, option: &str) -> syn::Error {
    syn::Error::new(
        span,
        format!("duplicate option `{option}`; remove this one"),
    )
}

#[cfg(test)]
mod tests;
