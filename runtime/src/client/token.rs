//! The task token of one activity attempt, as text that can travel to another process.

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;

/// The server's opaque handle on one attempt of an activity: whoever holds it can
/// complete, fail or heartbeat that attempt ([`Client::async_activity`]).
///
/// It prints as standard base64 (as sdk-core prints tokens) and parses back from it (or
/// from URL-safe base64), so it can be written to a file, a queue message or a URL.
///
/// ```
/// use legwork_runtime::client::TaskToken;
///
/// let token = TaskToken::from(vec![0xfb, 0xff, 0x01]);
/// let text = token.to_string();
/// assert_eq!(text, "+/8B");
/// assert_eq!(text.parse::<TaskToken>().unwrap(), token);
/// assert_eq!("-_8B".parse::<TaskToken>().unwrap(), token);
/// assert!("not base64!".parse::<TaskToken>().is_err());
/// ```
///
/// [`Client::async_activity`]: super::Client::async_activity
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TaskToken(Vec<u8>);

impl TaskToken {
    /// The token's bytes, as the server sent them.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The token's bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

impl From<Vec<u8>> for TaskToken {
    fn from(bytes: Vec<u8>) -> Self {
        TaskToken(bytes)
    }
}

impl fmt::Display for TaskToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&STANDARD.encode(&self.0))
    }
}

impl fmt::Debug for TaskToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TaskToken({self})")
    }
}

/// Text that is not a task token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a task token: expected base64 (standard or URL-safe), {0}")]
pub struct TaskTokenParseError(String);

impl FromStr for TaskToken {
    type Err = TaskTokenParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.is_empty() {
            return Err(TaskTokenParseError("got an empty string".to_owned()));
        }
        // URL-safe text has `-`/`_` where standard has `+`/`/`; padding is optional there.
        let decoded = if text.contains(['-', '_']) {
            URL_SAFE
                .decode(text)
                .or_else(|_| URL_SAFE_NO_PAD.decode(text))
        } else {
            STANDARD.decode(text)
        };
        decoded
            .map(TaskToken)
            .map_err(|error| TaskTokenParseError(error.to_string()))
    }
}
