//! [`DuplicateActivity`]: two activities under one name, named by where each is defined.

use std::fmt;

use super::{ActivityDescriptor, SourceLocation};

/// Two activities were registered under one name, or two dynamic activities were linked.
#[derive(Debug)]
#[non_exhaustive]
pub struct DuplicateActivity {
    /// The name both registered, or `*` for two dynamic activities.
    pub name: &'static str,
    /// The Rust path of the function defined first (by file, then line).
    pub first_function: &'static str,
    /// Where it is defined.
    pub first: SourceLocation,
    /// The Rust path of the other function.
    pub second_function: &'static str,
    /// Where it is defined.
    pub second: SourceLocation,
    /// Both are `#[activity(dynamic)]`.
    pub dynamic: bool,
}

impl fmt::Display for DuplicateActivity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let DuplicateActivity {
            name,
            first_function,
            first,
            second_function,
            second,
            dynamic,
        } = self;
        if *dynamic {
            write!(
                f,
                "two dynamic activities are linked: `{first_function}` at {first} and \
                 `{second_function}` at {second}; a worker has at most one, so remove \
                 `dynamic` from one of them"
            )
        } else {
            write!(
                f,
                "activity name `{name}` is registered twice: by `{first_function}` at {first} \
                 and by `{second_function}` at {second}; rename one with \
                 #[activity(name = \"...\")]"
            )
        }
    }
}

impl std::error::Error for DuplicateActivity {}

impl DuplicateActivity {
    /// Both descriptors, in source order so the message is stable across link orders.
    pub(super) fn of(
        name: &'static str,
        a: &'static ActivityDescriptor,
        b: &'static ActivityDescriptor,
        dynamic: bool,
    ) -> Self {
        let (first, second) =
            if (a.location.file, a.location.line) <= (b.location.file, b.location.line) {
                (a, b)
            } else {
                (b, a)
            };
        DuplicateActivity {
            name,
            first_function: first.function,
            first: first.location,
            second_function: second.function,
            second: second.location,
            dynamic,
        }
    }
}
