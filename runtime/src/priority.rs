//! [`Priority`]: the order in which the server hands out an activity's tasks, and how it
//! shares a queue between tenants. One type for both sides: what an attempt reads in
//! [`ActivityInfo`](crate::ActivityInfo) and what the client sends with a start.

use crate::proto;

/// A task's priority and fairness. Unset fields take the server's defaults (or, for a
/// workflow's activity, the workflow's values).
///
/// ```
/// use legwork::Priority;
///
/// let mut priority = Priority::default();
/// priority.priority_key = Some(1); // ahead of everything at the default 3
/// priority.fairness_key = Some("tenant-a".into());
/// priority.fairness_weight = Some(2.0); // twice the share of a weight-1 key
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct Priority {
    /// From 1, the highest; tasks with smaller keys are dispatched first. `None` is the
    /// server's default, the middle of its range (3 of 1..=5 unless configured).
    pub priority_key: Option<u32>,
    /// A key (a tenant, say; at most 64 bytes) whose tasks share the queue fairly with
    /// other keys' tasks, in proportion to their weights.
    pub fairness_key: Option<String>,
    /// This key's share relative to others (default 1.0; the server clamps it to
    /// 0.001..=1000).
    pub fairness_weight: Option<f32>,
}

impl Priority {
    /// The priority as the server sent it: its zeros and empty key mean "unset".
    pub(crate) fn from_proto(priority: &proto::WirePriority) -> Self {
        Priority {
            priority_key: u32::try_from(priority.priority_key)
                .ok()
                .filter(|key| *key > 0),
            fairness_key: Some(priority.fairness_key.clone()).filter(|key| !key.is_empty()),
            fairness_weight: Some(priority.fairness_weight).filter(|weight| *weight != 0.0),
        }
    }

    /// The priority for the wire; an unset field is a zero, which the server reads as
    /// "inherit or default".
    pub(crate) fn to_proto(&self) -> proto::WirePriority {
        proto::WirePriority {
            priority_key: self
                .priority_key
                .map_or(0, |key| i32::try_from(key).unwrap_or(i32::MAX)),
            fairness_key: self.fairness_key.clone().unwrap_or_default(),
            fairness_weight: self.fairness_weight.unwrap_or(0.0),
        }
    }

    /// Whether every field is unset: nothing worth sending.
    pub(crate) fn is_unset(&self) -> bool {
        *self == Priority::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_the_wire_with_zeros_as_unset() {
        let unset = Priority::default();
        assert_eq!(unset.to_proto(), proto::WirePriority::default());
        assert_eq!(Priority::from_proto(&unset.to_proto()), unset);
        let set = Priority {
            priority_key: Some(2),
            fairness_key: Some("tenant-a".into()),
            fairness_weight: Some(1.5),
        };
        assert_eq!(Priority::from_proto(&set.to_proto()), set);
        assert!(!set.is_unset());
    }
}
