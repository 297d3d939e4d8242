use super::*;
use quote::quote;

fn messages(args: TokenStream) -> Vec<String> {
    parse(args)
        .1
        .into_iter()
        .flatten()
        .map(|e| e.to_string())
        .collect()
}

#[test]
fn accepts_every_option() {
    let (options, error) = parse(quote!(async, name = "compose_greeting", allow_blocking));
    assert!(error.is_none());
    assert!(options.is_async.is_some() && options.allow_blocking.is_some());
    assert_eq!(options.name.unwrap().value(), "compose_greeting");
}

#[test]
fn empty_is_sync_with_default_name() {
    let (options, error) = parse(quote!());
    assert!(error.is_none() && options.complete);
    assert!(options.is_async.is_none() && options.name.is_none());
}

#[test]
fn unknown_option_lists_valid_ones_and_parsing_goes_on() {
    let (options, error) = parse(quote!(blocking = true, async));
    assert_eq!(
        error.unwrap().to_string(),
        "unknown option `blocking`; valid options are `async`, `name = \"...\"`, \
         `allow_blocking`, `dynamic`, `max_concurrent = N`, `isolated` and \
         `memory_limit = \"512MiB\"`"
    );
    assert!(options.is_async.is_some() && options.complete);
}

#[test]
fn repeats_are_reported_once_each() {
    assert_eq!(
        messages(quote!(async, name = "a", async, name = "b")),
        [
            "duplicate option `async`; remove this one",
            "duplicate option `name`; remove this one"
        ]
    );
}

#[test]
fn name_must_be_a_non_empty_string_literal() {
    assert_eq!(
        messages(quote!(name = greet)),
        ["expected a string literal: `name = \"my_activity\"`"]
    );
    assert_eq!(
        messages(quote!(name = 3)),
        ["expected a string literal: `name = \"my_activity\"`"]
    );
    assert_eq!(
        messages(quote!(name = "")),
        ["activity name must not be empty"]
    );
    assert_eq!(
        messages(quote!(name)),
        ["expected `name = \"...\"` with the activity name"]
    );
}

#[test]
fn allow_blocking_needs_async() {
    assert_eq!(
        messages(quote!(allow_blocking)),
        [
            "`allow_blocking` only applies to `#[activity(async)]`; a plain fn already runs on \
          the blocking pool, so remove `allow_blocking`"
        ]
    );
}

#[test]
fn dynamic_takes_no_name() {
    let (options, _) = parse(quote!(dynamic, async));
    assert!(options.dynamic.is_some() && options.is_async.is_some());
    assert_eq!(
        messages(quote!(dynamic, name = "x")),
        [
            "a dynamic activity serves every activity type no function registers, so it has no \
          name; remove `name = ...` (or `dynamic`, to register this one name)"
        ]
    );
}

#[test]
fn max_concurrent_is_a_positive_integer() {
    let (options, error) = parse(quote!(max_concurrent = 4, async));
    assert!(error.is_none());
    assert_eq!(options.max_concurrent.unwrap().base10_digits(), "4");
    let expected = "expected a positive whole number: `max_concurrent = 4`";
    assert_eq!(messages(quote!(max_concurrent = -1)), [expected]);
    assert_eq!(messages(quote!(max_concurrent = 2.5)), [expected]);
    assert_eq!(messages(quote!(max_concurrent = "4")), [expected]);
    assert_eq!(messages(quote!(max_concurrent = N)), [expected]);
    assert_eq!(
        messages(quote!(max_concurrent = 0)),
        ["`max_concurrent` must be at least 1; remove it to leave this activity unlimited"]
    );
    assert_eq!(
        messages(quote!(max_concurrent = 4u8)),
        ["write the limit without a type suffix: `max_concurrent = 4`"]
    );
    assert_eq!(
        messages(quote!(max_concurrent = 99999999999999999999999)),
        [expected]
    );
    assert_eq!(
        messages(quote!(max_concurrent)),
        ["expected `max_concurrent = N`, the most attempts of this activity that run at once"]
    );
    assert_eq!(
        messages(quote!(max_concurrent = 1, max_concurrent = 2)),
        ["duplicate option `max_concurrent`; remove this one"]
    );
    assert!(messages(quote!(dynamic, max_concurrent = 2))[0].contains("--max-concurrent"));
}

#[test]
fn isolated_takes_a_memory_limit_with_a_unit() {
    let (options, error) = parse(quote!(isolated, memory_limit = "512MiB"));
    assert!(error.is_none());
    assert!(options.isolated.is_some());
    assert_eq!(options.memory_limit.unwrap().1, 512 << 20);
    assert_eq!(parse_size("2GiB"), Some(2 << 30));
    assert_eq!(parse_size("64 KiB"), Some(64 << 10));
    for bad in [
        "512",
        "512MB",
        "MiB",
        "-1MiB",
        "1.5GiB",
        "99999999999999GiB",
    ] {
        assert_eq!(parse_size(bad), None, "{bad}");
    }
    assert!(messages(quote!(isolated, memory_limit = 512))[0].contains("512MiB"));
    assert!(messages(quote!(memory_limit = "1GiB"))[0].contains("#[activity(isolated"));
    assert!(messages(quote!(isolated, async))[0].contains("cannot be isolated"));
}

#[test]
fn flags_take_no_value() {
    assert_eq!(
        messages(quote!(async = true)),
        ["`async` takes no value; write just `async`"]
    );
}
