//! The Python SDK as a caller: its install (`scripts/python-env.sh`) and its scripts.

use std::path::Path;
use std::process::Command;

/// The `PYTHONPATH` holding temporalio, opentelemetry-sdk and cryptography: from
/// `LEGWORK_PYTHONPATH` (set by `scripts/test`), else installed now by the same script.
pub fn python_path() -> String {
    if let Some(path) = std::env::var_os("LEGWORK_PYTHONPATH") {
        return path.into_string().expect("a UTF-8 LEGWORK_PYTHONPATH");
    }
    let output = Command::new("bash")
        .args([
            "-c",
            r#"source scripts/python-env.sh && printf %s "$LEGWORK_PYTHONPATH""#,
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("bash runs");
    assert!(
        output.status.success(),
        "scripts/python-env.sh failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Runs `tests/python/<script>` with `args` to its end; the JSON it printed.
pub fn run_script(script: &str, args: &[String]) -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python")
        .join(script);
    let output = Command::new("python3")
        .arg(path)
        .args(args)
        .env("PYTHONPATH", python_path())
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "{script} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the script prints JSON")
}
