//! An activity completed by another process: it files an approval request with the task
//! token and returns at once; whoever decides completes the activity with that token.
//!
//! ```text
//! cargo run --example async_approval -- --dev
//! temporal activity start --type request_approval --task-queue approvals \
//!     --activity-id approve-1 --start-to-close-timeout 1h --input '"invoice 42"'
//! # The request is in $APPROVAL_OUTBOX (default: the temp dir's legwork-approvals/):
//! #   approve-1.token holds the token. A reviewer's tool then runs, with legwork's client,
//! #   client.async_activity(token.parse()?).complete(&"approved by Ada").await?
//! ```
//!
//! The slot is free as soon as the activity returns, so one worker can hold any number of
//! pending approvals; the start-to-close timeout is how long a decision may take.

use std::path::PathBuf;

use legwork::{activity, ActivityContext, ActivityError};

/// Files the request and leaves the attempt to be completed elsewhere.
#[activity]
fn request_approval(ctx: &ActivityContext, document: String) -> Result<String, ActivityError> {
    let outbox = std::env::var_os("APPROVAL_OUTBOX")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("legwork-approvals"));
    std::fs::create_dir_all(&outbox)?;
    let id = &ctx.info().activity_id;
    // Written aside and renamed, so a reader never sees half a token.
    let partial = outbox.join(format!("{id}.partial"));
    std::fs::write(&partial, format!("{}\n{document}\n", ctx.task_token()))?;
    std::fs::rename(&partial, outbox.join(format!("{id}.token")))?;
    tracing::info!(activity_id = %id, "approval requested for {document}");
    Err(ActivityError::complete_async())
}

legwork::main!(task_queue = "approvals");
