//! The dispatch table: every `#[activity]` submits a descriptor at link time. Public
//! through `legwork::registry`, except the invoker, which the macros reach through
//! `__private`.

use std::collections::BTreeMap;
use std::fmt;

use crate::context::ActivityContext;
use crate::error::ActivityError;
use crate::invoke::{Args, BoxOutcome, Outcome};

mod duplicate;
pub use duplicate::DuplicateActivity;

/// How an activity runs: on the blocking pool, on the activity event loop, or in a child
/// process. Not public API: the macros build it, and only through `__private`.
#[derive(Clone, Copy)]
pub enum Invoker {
    /// A plain `fn`: decoded, called and encoded on a pool thread.
    Sync(fn(&ActivityContext, Args) -> Outcome),
    /// An `async fn`: the future decodes the arguments, calls the function and encodes
    /// its result, all on the event loop; calling the invoker runs no user code.
    Async(fn(ActivityContext, Args) -> BoxOutcome),
    /// `#[activity(isolated)]`: a plain `fn` whose attempts each run in a child process of
    /// the worker, where a crash, a runaway or a memory overrun costs one attempt.
    Isolated {
        /// Decodes, calls and encodes, as [`Invoker::Sync`] does, in the child.
        invoke: fn(&ActivityContext, Args) -> Outcome,
        /// `memory_limit = "..."` in bytes: the child's data segment is capped at this
        /// before the activity runs; `None` takes the worker's default.
        memory_limit: Option<u64>,
    },
}

/// How an activity's attempts run, as its attribute chose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ActivityKind {
    /// `#[activity]` on a plain `fn`: on the worker's blocking pool.
    Sync,
    /// `#[activity]` on an `async fn`: on the activity event loop.
    Async,
    /// `#[activity(isolated)]`: each attempt in a child process.
    Isolated {
        /// `memory_limit = "..."` in bytes; `None` takes the worker's default.
        memory_limit: Option<u64>,
    },
}

impl ActivityKind {
    /// `"sync"`, `"async"` or `"isolated"`, as `--list` prints it.
    pub fn as_str(&self) -> &'static str {
        match self {
            ActivityKind::Sync => "sync",
            ActivityKind::Async => "async",
            ActivityKind::Isolated { .. } => "isolated",
        }
    }
}

impl Invoker {
    pub(crate) fn kind(&self) -> ActivityKind {
        match *self {
            Invoker::Sync(_) => ActivityKind::Sync,
            Invoker::Async(_) => ActivityKind::Async,
            Invoker::Isolated { memory_limit, .. } => ActivityKind::Isolated { memory_limit },
        }
    }
}

/// Where an activity is defined, for `--list` and for error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SourceLocation {
    pub(crate) file: &'static str,
    pub(crate) line: u32,
    pub(crate) column: u32,
}

impl SourceLocation {
    /// The file, as `file!()` gives it (relative to the workspace root).
    pub fn file(&self) -> &'static str {
        self.file
    }

    /// The line, 1-based.
    pub fn line(&self) -> u32 {
        self.line
    }

    /// The column, 1-based.
    pub fn column(&self) -> u32 {
        self.column
    }
}

impl fmt::Display for SourceLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// One registered activity, as `#[activity]` registered it; read it from a [`Registry`].
pub struct ActivityDescriptor {
    pub(crate) name: &'static str,
    pub(crate) function: &'static str,
    pub(crate) location: SourceLocation,
    pub(crate) invoker: Invoker,
    pub(crate) max_concurrent: Option<usize>,
}

impl ActivityDescriptor {
    /// The activity type name workflows and clients call (`*` for the dynamic activity).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The Rust path of the function, e.g. `hello::greet`.
    pub fn function(&self) -> &'static str {
        self.function
    }

    /// Where the function is defined.
    pub fn location(&self) -> SourceLocation {
        self.location
    }

    /// How its attempts run.
    pub fn kind(&self) -> ActivityKind {
        self.invoker.kind()
    }

    /// `#[activity(max_concurrent = N)]`: at most this many attempts of this type run at
    /// once on a worker; `WorkerOptions::activity_limits` overrides it.
    pub fn max_concurrent(&self) -> Option<usize> {
        self.max_concurrent
    }
}

inventory::collect!(ActivityDescriptor);

/// The name a dynamic activity's descriptor carries: it serves any type no function
/// registers, and `--list` shows it so.
pub const DYNAMIC_NAME: &str = "*";

/// The `#[activity(dynamic)]` of a binary, collected apart from named activities so that
/// no name lookup can find it.
pub struct DynamicDescriptor(pub ActivityDescriptor);

inventory::collect!(DynamicDescriptor);

impl fmt::Debug for ActivityDescriptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActivityDescriptor")
            .field("name", &self.name)
            .field("kind", &self.kind())
            .field("function", &self.function)
            .field("location", &self.location)
            .field("max_concurrent", &self.max_concurrent)
            .finish()
    }
}

/// The activities a worker serves, by name, and the dynamic activity that serves the rest.
#[derive(Debug)]
pub struct Registry {
    by_name: BTreeMap<&'static str, &'static ActivityDescriptor>,
    dynamic: Option<&'static ActivityDescriptor>,
}

impl Registry {
    /// Every activity linked into this binary, the `#[activity(dynamic)]` one included.
    pub fn linked() -> Result<Self, DuplicateActivity> {
        Self::from_descriptors(inventory::iter::<ActivityDescriptor>)?.with_dynamic(
            inventory::iter::<DynamicDescriptor>
                .into_iter()
                .map(|d| &d.0),
        )
    }

    /// Adds the dynamic activity; more than one is an error naming the first two.
    pub fn with_dynamic(
        mut self,
        descriptors: impl IntoIterator<Item = &'static ActivityDescriptor>,
    ) -> Result<Self, DuplicateActivity> {
        for descriptor in descriptors {
            if let Some(first) = self.dynamic.replace(descriptor) {
                return Err(DuplicateActivity::of(DYNAMIC_NAME, first, descriptor, true));
            }
        }
        Ok(self)
    }

    /// A registry of exactly these descriptors, without a dynamic activity (add one with
    /// [`with_dynamic`](Self::with_dynamic)); two with one name are an error naming both.
    pub fn from_descriptors(
        descriptors: impl IntoIterator<Item = &'static ActivityDescriptor>,
    ) -> Result<Self, DuplicateActivity> {
        let mut by_name = BTreeMap::new();
        for descriptor in descriptors {
            if let Some(first) = by_name.insert(descriptor.name, descriptor) {
                return Err(DuplicateActivity::of(
                    descriptor.name,
                    first,
                    descriptor,
                    false,
                ));
            }
        }
        Ok(Registry {
            by_name,
            dynamic: None,
        })
    }

    /// The function registered under `name`; never the dynamic activity.
    pub fn get(&self, name: &str) -> Option<&'static ActivityDescriptor> {
        self.by_name.get(name).copied()
    }

    /// The `#[activity(dynamic)]` function, if this worker has one.
    pub fn dynamic(&self) -> Option<&'static ActivityDescriptor> {
        self.dynamic
    }

    /// What runs a task of `activity_type`: the function registered under it, else the
    /// dynamic activity, else nothing (a `NotFoundError`).
    pub fn resolve(&self, activity_type: &str) -> Option<&'static ActivityDescriptor> {
        self.get(activity_type).or(self.dynamic)
    }

    /// Descriptors in name order, then the dynamic activity (named `*`).
    pub fn iter(&self) -> impl Iterator<Item = &'static ActivityDescriptor> + '_ {
        self.by_name.values().copied().chain(self.dynamic)
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

    /// The registered names in order; the dynamic activity has none.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.by_name.keys().copied()
    }

    /// How many named activities are registered, the dynamic one not counted.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// No named activity is registered (a dynamic one may be).
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
            max_concurrent: None,
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

    static D1: ActivityDescriptor = descriptor(DYNAMIC_NAME, "a::fallback", 30);
    static D2: ActivityDescriptor = descriptor(DYNAMIC_NAME, "b::rest", 5);

    #[test]
    fn the_dynamic_activity_serves_unregistered_types_only() {
        let registry = Registry::from_descriptors([&A, &C])
            .unwrap()
            .with_dynamic([&D1])
            .unwrap();
        assert_eq!(registry.resolve("other").unwrap().function, "a::other");
        assert_eq!(
            registry.resolve("anything").unwrap().function,
            "a::fallback"
        );
        assert!(registry.get("anything").is_none() && registry.get("*").is_none());
        assert_eq!(registry.names().collect::<Vec<_>>(), ["greet", "other"]);
        let listed: Vec<_> = registry.iter().map(|d| d.name).collect();
        assert_eq!(listed, ["greet", "other", "*"]);
        let plain = Registry::from_descriptors([&A]).unwrap();
        assert!(plain.resolve("anything").is_none());
    }

    #[test]
    fn two_dynamic_activities_name_both_locations() {
        let error = Registry::from_descriptors([&A])
            .unwrap()
            .with_dynamic([&D1, &D2])
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "two dynamic activities are linked: `b::rest` at src/a.rs:5:1 and `a::fallback` \
             at src/a.rs:30:1; a worker has at most one, so remove `dynamic` from one of them"
        );
    }

    #[test]
    fn lookup_by_name() {
        let registry = Registry::from_descriptors([&A, &C]).unwrap();
        assert_eq!(registry.get("other").unwrap().function, "a::other");
        assert_eq!(registry.names().collect::<Vec<_>>(), ["greet", "other"]);
    }
}
