//! The dispatch table: every `#[activity]` submits a descriptor at link time.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;

use crate::context::ActivityContext;
use crate::error::ActivityError;
use crate::invoke::Args;
use crate::proto::Payload;

/// What an activity returns once its result is encoded.
pub type Outcome = Result<Payload, ActivityError>;
/// The future of an async activity.
pub type BoxOutcome = Pin<Box<dyn Future<Output = Outcome> + Send + 'static>>;

/// How an activity runs: on the blocking pool, or on the activity event loop.
#[derive(Clone, Copy)]
pub enum Invoker {
    /// A plain `fn`: decoded, called and encoded on a pool thread.
    Sync(fn(&ActivityContext, Args) -> Outcome),
    /// An `async fn`: the future decodes the arguments, calls the function and encodes
    /// its result, all on the event loop; calling the invoker runs no user code.
    Async(fn(ActivityContext, Args) -> BoxOutcome),
}

impl Invoker {
    /// `"sync"` or `"async"`, as `--list` prints it.
    pub fn kind(&self) -> &'static str {
        match self {
            Invoker::Sync(_) => "sync",
            Invoker::Async(_) => "async",
        }
    }
}

/// Where an activity is defined, for `--list` and for error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SourceLocation {
    pub file: &'static str,
    pub line: u32,
    pub column: u32,
}

impl fmt::Display for SourceLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// One registered activity. Built by `#[activity]`; users never write one by hand.
pub struct ActivityDescriptor {
    /// The activity type name workflows and clients call.
    pub name: &'static str,
    /// The Rust path of the function, e.g. `hello::greet`.
    pub function: &'static str,
    pub location: SourceLocation,
    pub invoker: Invoker,
}

inventory::collect!(ActivityDescriptor);

impl fmt::Debug for ActivityDescriptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActivityDescriptor")
            .field("name", &self.name)
            .field("kind", &self.invoker.kind())
            .field("function", &self.function)
            .field("location", &self.location)
            .finish()
    }
}

/// Two activities were registered under one name.
#[derive(Debug, thiserror::Error)]
#[error(
    "activity name `{name}` is registered twice: by `{first_function}` at {first} and by \
     `{second_function}` at {second}; rename one with #[activity(name = \"...\")]"
)]
pub struct DuplicateActivity {
    pub name: &'static str,
    pub first_function: &'static str,
    pub first: SourceLocation,
    pub second_function: &'static str,
    pub second: SourceLocation,
}

/// The activities a worker serves, by name.
#[derive(Debug)]
pub struct Registry {
    by_name: BTreeMap<&'static str, &'static ActivityDescriptor>,
}

impl Registry {
    /// Every activity linked into this binary.
    pub fn linked() -> Result<Self, DuplicateActivity> {
        Self::from_descriptors(inventory::iter::<ActivityDescriptor>)
    }

    pub fn from_descriptors(
        descriptors: impl IntoIterator<Item = &'static ActivityDescriptor>,
    ) -> Result<Self, DuplicateActivity> {
        let mut by_name = BTreeMap::new();
        for descriptor in descriptors {
            if let Some(first) = by_name.insert(descriptor.name, descriptor) {
                // Report in source order so the message is stable across link orders.
                let (first, second) = if (first.location.file, first.location.line)
                    <= (descriptor.location.file, descriptor.location.line)
                {
                    (first, descriptor)
                } else {
                    (descriptor, first)
                };
                return Err(DuplicateActivity {
                    name: descriptor.name,
                    first_function: first.function,
                    first: first.location,
                    second_function: second.function,
                    second: second.location,
                });
            }
        }
        Ok(Registry { by_name })
    }

    pub fn get(&self, name: &str) -> Option<&'static ActivityDescriptor> {
        self.by_name.get(name).copied()
    }

    /// Descriptors in name order.
    pub fn iter(&self) -> impl Iterator<Item = &'static ActivityDescriptor> + '_ {
        self.by_name.values().copied()
    }

    /// The failure for a type not served here, worded as the Python SDK words it and
    /// listing the names that are.
    pub(crate) fn not_found(&self, activity_type: &str) -> ActivityError {
        let known: Vec<&str> = self.names().collect();
        let known = if known.is_empty() {
            "(none)".to_owned()
        } else {
            known.join(", ")
        };
        ActivityError::new(format!(
            "activity function {activity_type} is not registered on this worker, available activities: {known}"
        ))
        .with_type(crate::error::failure_type::NOT_FOUND)
    }

    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.by_name.keys().copied()
    }

    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noop(_: &ActivityContext, _: Args) -> Outcome {
        crate::payload::encode_json(()).map_err(|e| ActivityError::new(e.to_string()))
    }

    const fn descriptor(
        name: &'static str,
        function: &'static str,
        line: u32,
    ) -> ActivityDescriptor {
        ActivityDescriptor {
            name,
            function,
            location: SourceLocation {
                file: "src/a.rs",
                line,
                column: 1,
            },
            invoker: Invoker::Sync(noop),
        }
    }

    static A: ActivityDescriptor = descriptor("greet", "a::greet", 10);
    static B: ActivityDescriptor = descriptor("greet", "b::hello", 3);
    static C: ActivityDescriptor = descriptor("other", "a::other", 20);

    #[test]
    fn duplicate_names_name_both_locations() {
        let error = Registry::from_descriptors([&A, &C, &B]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "activity name `greet` is registered twice: by `b::hello` at src/a.rs:3:1 and by \
             `a::greet` at src/a.rs:10:1; rename one with #[activity(name = \"...\")]"
        );
    }

    #[test]
    fn lookup_by_name() {
        let registry = Registry::from_descriptors([&A, &C]).unwrap();
        assert_eq!(registry.get("other").unwrap().function, "a::other");
        assert_eq!(registry.names().collect::<Vec<_>>(), ["greet", "other"]);
    }
}
