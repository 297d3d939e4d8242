//! The dev server's log file: where it is, and its last lines for error messages.

use std::path::{Path, PathBuf};

const LOG_TAIL_LINES: usize = 40;

/// Unique per server of this process, even for two servers started on the same port.
pub(super) fn log_file_path(port: u16) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::env::temp_dir().join(format!(
        "legwork-dev-server-{}-{port}-{n}.log",
        std::process::id()
    ))
}

pub(super) fn read_log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
}
