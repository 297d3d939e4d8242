//! Procedural macros of [legwork](https://docs.rs/legwork). Use them through `legwork`,
//! not this crate: the generated code names runtime items as `::legwork::__private::...`.

#![deny(missing_docs)]

use proc_macro::TokenStream;

mod activity;

/// Registers a function as a Temporal activity of this worker.
///
/// ```
/// use legwork::{activity, ActivityContext, ActivityError};
///
/// #[activity] // plain fn: runs on the worker's blocking pool
/// fn resize(ctx: &ActivityContext, path: String, width: u32) -> Result<String, ActivityError> {
///     ctx.heartbeat(&width)?;
///     Ok(format!("{path}@{width}"))
/// }
///
/// #[activity(async)] // async fn: runs on the event loop; must never block
/// async fn fetch(url: String) -> Result<Vec<u8>, ActivityError> {
///     Ok(url.into_bytes())
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
/// Options, in any order, each at most once:
///
/// - `async`: required exactly when the function is an `async fn`;
/// - `name = "..."`: the activity type name workflows call, instead of the function's name;
/// - `allow_blocking` (only with `async`): turns off the blocking-call check below;
/// - `max_concurrent = N` (N ≥ 1): at most N attempts of this activity run at once on a
///   worker, inside the worker's own slots; `WorkerOptions::activity_limits` overrides it;
/// - `dynamic`: the function serves every activity type no other function registers,
///   taking one `DynamicCall` (after the optional context) instead of typed parameters;
///   at most one per crate, and without `name`.
///
/// The function itself is left untouched, so it can still be called directly in tests.
///
/// # Misuse is a compile error
///
/// Each mistake is reported on the offending tokens, with the fix. An `async fn` must say
/// it runs on the event loop:
///
/// ```compile_fail
/// use legwork::{activity, ActivityError};
///
/// #[activity] // error: an `async fn` activity runs on the event loop and must say so:
///             // write `#[activity(async)]`
/// async fn fetch(url: String) -> Result<Vec<u8>, ActivityError> {
///     Ok(url.into_bytes())
/// }
/// ```
///
/// and `async` asks for an `async fn`:
///
/// ```compile_fail
/// use legwork::activity;
///
/// #[activity(async)] // error: `#[activity(async)]` needs an `async fn`: add `async` here,
///                    // or drop the `async` option to run this fn on the blocking pool
/// fn halve(width: u32) -> u32 {
///     width / 2
/// }
/// ```
///
/// A leading reference parameter is the context, and must be `&ActivityContext`:
///
/// ```compile_fail,E0277
/// use legwork::{activity, ActivityInfo};
///
/// #[activity] // error[E0277]: the context parameter must be `&ActivityContext`, not
///             // `&ActivityInfo`
/// fn greet(info: &ActivityInfo, name: String) -> String {
///     format!("Hello, {name}, attempt {}!", info.attempt)
/// }
/// ```
///
/// # Blocking calls in an `async fn`
///
/// An `async fn` activity shares its event-loop thread with other activities, so a call
/// that blocks the thread is a compile error on that call, which says how to fix it:
///
/// ```compile_fail
/// use legwork::activity;
///
/// #[activity(async)]
/// async fn nap(seconds: u64) {
///     // error: `std::thread::sleep` blocks the event loop thread; make this a plain
///     // `#[activity]` fn, wrap the call in `legwork::run_blocking(|| ...).await`, or opt
///     // out with `#[activity(async, allow_blocking)]`
///     std::thread::sleep(std::time::Duration::from_secs(seconds));
/// }
/// # fn main() {}
/// ```
///
/// The check reads the body's syntax, as written or imported by a `use` inside the body:
///
/// - `std::thread::{sleep, park, park_timeout, scope}` (`thread::` is taken for
///   `std::thread`, and a bare `sleep` only counts after `use std::thread::sleep`);
/// - the functions of `std::fs`, and `std::fs::File::{open, create, create_new}`,
///   `std::fs::OpenOptions::new()...open(..)`;
/// - `std::net::TcpStream::connect`, `std::net::{TcpListener, UdpSocket}::bind`;
/// - `.output()` and `.status()` of a `std::process::Command`;
/// - anything under `reqwest::blocking`;
/// - `.join()` of a `std::thread::spawn(..)` handle, directly or through a `let`;
/// - `std::io::stdin()` reads (`read_line`, `read_to_string`, `read_to_end`).
///
/// Names that may be tokio's as well (`fs::read`, `File::open`, `Command::new`,
/// `TcpStream::connect`, `sleep`) count only when the body shows they are std's: a
/// module-level `use std::fs;` is invisible to the macro, so `fs::read(..)` there is not
/// caught. A call directly followed by `.await` is never flagged, nor is anything inside
/// a closure passed to `run_blocking`, `spawn_blocking`, `block_in_place` or
/// `std::thread::spawn`, nor inside nested items.
///
/// `#[activity(async, allow_blocking)]` turns the check off, for an author who knows the
/// call is brief.
#[proc_macro_attribute]
pub fn activity(args: TokenStream, item: TokenStream) -> TokenStream {
    activity::expand(args.into(), item.into()).into()
}
