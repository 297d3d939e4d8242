//! What activities running in the test's worker tell the test, by activity id, as it
//! happens; and a long-polled wait on an activity's description. No sleeps: waits end on
//! the event.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use legwork::client::{ActivityDescription, ActivityHandle};
use tokio::sync::Notify;

/// What the activities tell the tests, by activity id, as it happens.
struct Board {
    events: Mutex<HashMap<String, Vec<String>>>,
    changed: Notify,
}

static BOARD: LazyLock<Board> = LazyLock::new(|| Board {
    events: Mutex::new(HashMap::new()),
    changed: Notify::new(),
});

pub fn post(id: &str, event: impl Into<String>) {
    let mut events = BOARD.events.lock().unwrap();
    events.entry(id.to_owned()).or_default().push(event.into());
    BOARD.changed.notify_waiters();
}

pub fn events_of(id: &str) -> Vec<String> {
    let events = BOARD.events.lock().unwrap();
    events.get(id).cloned().unwrap_or_default()
}

/// Waits until `id` has posted an event starting with `prefix`; returns that event.
pub async fn wait_for(id: &str, prefix: &str) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let changed = BOARD.changed.notified();
        tokio::pin!(changed);
        // Registered before the check, so a post between the two is not missed.
        changed.as_mut().enable();
        if let Some(event) = events_of(id).into_iter().find(|e| e.starts_with(prefix)) {
            return event;
        }
        if tokio::time::timeout_at(deadline, changed).await.is_err() {
            panic!(
                "{id} never posted {prefix:?}; it posted {:?}",
                events_of(id)
            );
        }
    }
}

/// Waits (long-polling the server, no sleeps) until the description satisfies `done`.
pub async fn describe_until(
    handle: &ActivityHandle,
    done: impl Fn(&ActivityDescription) -> bool,
) -> ActivityDescription {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = handle.describe().await.unwrap();
    while !done(&seen) {
        assert!(
            Instant::now() < deadline,
            "{} stayed {seen:#?}",
            handle.id()
        );
        seen = handle.wait_for_change(&seen).await.unwrap();
    }
    seen
}
