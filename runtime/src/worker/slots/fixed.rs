//! A fixed number of slots (`max_concurrent_activities`), as sdk-core's fixed-size
//! supplier: a semaphore.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::Semaphore;

use super::supplier::{SlotPermit, SlotSupplier};

pub(crate) struct FixedSlots {
    semaphore: Arc<Semaphore>,
    issued: Arc<AtomicUsize>,
}

impl FixedSlots {
    pub(crate) fn new(size: usize) -> Self {
        FixedSlots {
            semaphore: Arc::new(Semaphore::new(size)),
            issued: Arc::default(),
        }
    }
}

impl SlotSupplier for FixedSlots {
    fn reserve(&self) -> Pin<Box<dyn Future<Output = SlotPermit> + Send + '_>> {
        Box::pin(async move {
            let permit = self.semaphore.clone().acquire_owned().await;
            SlotPermit::new(permit.expect("slots are never closed"), &self.issued)
        })
    }

    fn available(&self) -> Option<usize> {
        Some(self.semaphore.available_permits())
    }

    fn issued(&self) -> usize {
        self.issued.load(Ordering::Acquire)
    }

    fn kind(&self) -> &'static str {
        "Fixed"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn issues_at_most_its_size() {
        let slots = FixedSlots::new(2);
        let first = slots.reserve().await;
        let _second = slots.reserve().await;
        assert_eq!((slots.issued(), slots.available()), (2, Some(0)));
        let third = tokio::time::timeout(Duration::from_millis(30), slots.reserve()).await;
        assert!(third.is_err(), "a third slot was issued");
        drop(first);
        assert_eq!((slots.issued(), slots.available()), (1, Some(1)));
        let _third = slots.reserve().await;
        assert_eq!(slots.kind(), "Fixed");
    }
}
