//! How every call to the server copes with failure: backoff, and whether it answers.

pub(crate) mod contact;
pub(crate) mod retry;
