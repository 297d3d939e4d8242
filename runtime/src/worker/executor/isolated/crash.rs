//! What a child's death says: the failure its attempt ends with, named by cause.

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

use crate::error::{failure_type, ActivityError};
use crate::isolated::show_size;

/// Why a child died, as the `legwork_isolated_crashes` metric labels it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cause {
    StackOverflow,
    MemoryLimit(u64),
    Signal(i32),
    Exit(i32),
}

impl Cause {
    /// Reads the exit status first, then the child's last stderr lines, where Rust's
    /// runtime says why it aborted.
    pub(crate) fn of(status: ExitStatus, stderr: &[String], memory_limit: Option<u64>) -> Cause {
        let said = |needle: &str| stderr.iter().any(|line| line.contains(needle));
        if said("has overflowed its stack") {
            return Cause::StackOverflow;
        }
        if let Some(limit) = memory_limit.filter(|_| said("memory allocation of")) {
            return Cause::MemoryLimit(limit);
        }
        match (status.signal(), status.code()) {
            (Some(signal), _) => Cause::Signal(signal),
            (None, Some(code)) => Cause::Exit(code),
            (None, None) => Cause::Exit(-1),
        }
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            Cause::StackOverflow => "stack_overflow",
            Cause::MemoryLimit(_) => "memory_limit",
            Cause::Signal(_) => "signal",
            Cause::Exit(_) => "exit",
        }
    }

    /// The attempt's failure: retryable, since the next attempt may run where this one
    /// could not; the type and message name the cause, then the child's last words.
    pub(crate) fn failure(self, activity: &str, stderr: &[String]) -> ActivityError {
        let (error_type, what) = match self {
            Cause::StackOverflow => (
                failure_type::STACK_OVERFLOW,
                "overflowed its stack (SIGABRT)".to_owned(),
            ),
            Cause::MemoryLimit(limit) => (
                failure_type::MEMORY_LIMIT,
                format!("ran past its memory limit of {}", show_size(limit)),
            ),
            Cause::Signal(signal) => (
                failure_type::PROCESS_CRASHED,
                format!("was killed by {}", signal_name(signal)),
            ),
            Cause::Exit(code) => (
                failure_type::PROCESS_EXITED,
                format!("exited with code {code} before returning"),
            ),
        };
        let mut message = format!("the child process of isolated activity `{activity}` {what}");
        if !stderr.is_empty() {
            message.push_str("; its last lines on stderr:\n");
            message.push_str(&stderr.join("\n"));
        }
        ActivityError::new(message).with_type(error_type)
    }
}

/// `SIGSEGV (invalid memory reference)`, or `signal 42` for one without a name here.
pub(crate) fn signal_name(signal: i32) -> String {
    let (name, meaning) = match signal {
        libc::SIGABRT => ("SIGABRT", "aborted"),
        libc::SIGSEGV => ("SIGSEGV", "invalid memory reference"),
        libc::SIGBUS => ("SIGBUS", "bus error"),
        libc::SIGILL => ("SIGILL", "illegal instruction"),
        libc::SIGFPE => ("SIGFPE", "arithmetic error"),
        libc::SIGKILL => ("SIGKILL", "killed"),
        libc::SIGTERM => ("SIGTERM", "terminated"),
        libc::SIGINT => ("SIGINT", "interrupted"),
        libc::SIGQUIT => ("SIGQUIT", "quit"),
        libc::SIGHUP => ("SIGHUP", "hangup"),
        libc::SIGPIPE => ("SIGPIPE", "broken pipe"),
        libc::SIGTRAP => ("SIGTRAP", "trap"),
        libc::SIGSYS => ("SIGSYS", "bad system call"),
        libc::SIGXCPU => ("SIGXCPU", "CPU time limit exceeded"),
        libc::SIGXFSZ => ("SIGXFSZ", "file size limit exceeded"),
        libc::SIGUSR1 => ("SIGUSR1", "user signal 1"),
        libc::SIGUSR2 => ("SIGUSR2", "user signal 2"),
        other => return format!("signal {other}"),
    };
    format!("{name} ({meaning})")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signalled(signal: i32) -> ExitStatus {
        ExitStatus::from_raw(signal)
    }

    fn exited(code: i32) -> ExitStatus {
        ExitStatus::from_raw(code << 8)
    }

    #[test]
    fn causes_read_from_the_status_and_the_last_words() {
        let overflow = [
            "thread 'legwork-isolated-deep' has overflowed its stack".to_owned(),
            "fatal runtime error: stack overflow".to_owned(),
        ];
        assert_eq!(
            Cause::of(signalled(libc::SIGABRT), &overflow, None),
            Cause::StackOverflow
        );
        let oom = ["memory allocation of 16777216 bytes failed".to_owned()];
        assert_eq!(
            Cause::of(signalled(libc::SIGABRT), &oom, Some(256 << 20)),
            Cause::MemoryLimit(256 << 20)
        );
        // Without a limit, running out of memory is an abort like any other.
        assert_eq!(
            Cause::of(signalled(libc::SIGABRT), &oom, None),
            Cause::Signal(libc::SIGABRT)
        );
        assert_eq!(Cause::of(exited(3), &[], None), Cause::Exit(3));
    }

    #[test]
    fn failures_name_the_cause_and_stay_retryable() {
        let error = Cause::Signal(libc::SIGSEGV).failure("parse", &["boom".to_owned()]);
        assert_eq!(error.error_type(), "ProcessCrashed");
        assert!(!error.is_non_retryable());
        assert!(error
            .message()
            .contains("SIGSEGV (invalid memory reference)"));
        assert!(error.message().ends_with("stderr:\nboom"));
        let error = Cause::Exit(3).failure("parse", &[]);
        assert_eq!(error.error_type(), "ProcessExited");
        assert!(error.message().contains("exited with code 3"));
        let error = Cause::MemoryLimit(256 << 20).failure("parse", &[]);
        assert_eq!(error.error_type(), "MemoryLimitExceeded");
        assert!(error.message().contains("256 MiB"));
        assert_eq!(signal_name(64), "signal 64");
    }
}
