//! UI tests of `#[activity]`: accepted forms compile (and run), misuse fails with the
//! expected diagnostics.
//!
//! The `.stderr` files are rustc's exact output, which changes between compiler
//! releases; they are checked on stable only. Regenerate them with
//! `TRYBUILD=overwrite cargo test --test compiletest` and read every one.

use std::process::Command;

#[test]
fn ui() {
    if let Some(reason) = skip_reason() {
        eprintln!("skipping UI tests: {reason}");
        return;
    }
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/*.rs");
}

fn skip_reason() -> Option<String> {
    if std::env::var_os("LEGWORK_SKIP_UI").is_some() {
        return Some("LEGWORK_SKIP_UI is set".to_owned());
    }
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let version = Command::new(rustc).arg("--version").output().ok()?;
    let version = String::from_utf8_lossy(&version.stdout).into_owned();
    let unstable = ["nightly", "beta", "-dev"]
        .iter()
        .any(|tag| version.contains(tag));
    unstable.then(|| {
        format!(
            "diagnostics are pinned to stable rustc, this is {}",
            version.trim()
        )
    })
}
