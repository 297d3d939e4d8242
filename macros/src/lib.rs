//! Procedural macros of [legwork](https://docs.rs/legwork). Use them through `legwork`,
//! not this crate: the generated code names runtime items as `::legwork::__private::...`.

use proc_macro::TokenStream;

mod activity;

/// Registers a function as a Temporal activity of this worker.
///
/// ```ignore
/// use legwork::{activity, ActivityContext, ActivityError};
///
/// #[activity] // plain fn: runs on the worker's blocking pool
/// fn resize(ctx: &ActivityContext, path: String, width: u32) -> Result<String, ActivityError> {
///     # unimplemented!()
/// }
///
/// #[activity(async)] // async fn: runs on the event loop; must never block
/// async fn fetch(url: String) -> Result<Vec<u8>, ActivityError> {
///     # unimplemented!()
/// }
///
/// #[activity(name = "compose_greeting")]
/// fn greet(name: String) -> String {
///     format!("Hello, {name}!")
/// }
/// ```
///
/// - The first parameter may be `&ActivityContext`; every other parameter is an owned type
///   decoded from one payload (`serde::de::DeserializeOwned`, or `Vec<u8>` as raw bytes).
/// - The return type is `T`, `Result<T, E>` with `E: Into<ActivityError>`, or nothing;
///   `T` is encoded with `serde::Serialize` (`Vec<u8>` as raw bytes, `()` as null).
/// - The activity name defaults to the function name; `name = "..."` overrides it.
///
/// Options: `async` (required exactly when the function is an `async fn`),
/// `name = "..."`, and `allow_blocking` (only with `async`).
///
/// The function itself is left untouched, so it can still be called directly in tests.
#[proc_macro_attribute]
pub fn activity(args: TokenStream, item: TokenStream) -> TokenStream {
    activity::expand(args.into(), item.into()).into()
}
