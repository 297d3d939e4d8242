//! Slots sized by CPU and memory (sdk-core's `ResourceBasedTuner`, activity slots).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::time::Instant;

use super::pid::{Controller, Decision};
use super::resource_options::ResourceBasedSlots;
use super::supplier::{SlotPermit, SlotSupplier};
use super::usage::Sampler;

pub(crate) struct ResourceSlots {
    controller: Mutex<Controller>,
    sampler: Sampler,
    issued: Arc<AtomicUsize>,
    last_issue: Mutex<Instant>,
}

impl ResourceSlots {
    pub(crate) fn new(options: ResourceBasedSlots) -> Self {
        ResourceSlots {
            controller: Mutex::new(Controller::new(options)),
            sampler: Sampler::start(),
            issued: Arc::default(),
            last_issue: Mutex::new(Instant::now()),
        }
    }

    fn decide(&self) -> Decision {
        let since = self.last_issue.lock().unwrap().elapsed();
        let usage = self.sampler.latest();
        let issued = self.issued.load(Ordering::Acquire);
        self.controller.lock().unwrap().decide(usage, issued, since)
    }
}

impl SlotSupplier for ResourceSlots {
    fn reserve(&self) -> Pin<Box<dyn Future<Output = SlotPermit> + Send + '_>> {
        Box::pin(async move {
            loop {
                match self.decide() {
                    Decision::Issue => {
                        *self.last_issue.lock().unwrap() = Instant::now();
                        return SlotPermit::new((), &self.issued);
                    }
                    Decision::Wait(delay) => tokio::time::sleep(delay).await,
                }
            }
        })
    }

    fn available(&self) -> Option<usize> {
        None
    }

    fn issued(&self) -> usize {
        self.issued.load(Ordering::Acquire)
    }

    fn kind(&self) -> &'static str {
        "ResourceBased"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_targets_and_bounds_are_refused() {
        assert_eq!(ResourceBasedSlots::new(0.8, 1.0).validate(), Ok(()));
        let error = ResourceBasedSlots::new(80.0, 0.8).validate().unwrap_err();
        assert_eq!(error.option, "slots.target_memory");
        assert!(error
            .on_command_line()
            .starts_with("invalid --target-memory"));
        let error = ResourceBasedSlots::new(0.8, 0.0).validate().unwrap_err();
        assert_eq!(error.option, "slots.target_cpu");
        assert!(ResourceBasedSlots::new(f64::NAN, 0.5).validate().is_err());
        let mut slots = ResourceBasedSlots::new(0.8, 0.8);
        slots.minimum_slots = 20;
        slots.maximum_slots = 10;
        assert!(slots.validate().is_err());
    }

    #[tokio::test]
    async fn the_minimum_comes_at_once_and_permits_count_as_issued() {
        let mut options = ResourceBasedSlots::new(1.0, 1.0);
        options.minimum_slots = 2;
        let slots = ResourceSlots::new(options);
        let first = slots.reserve().await;
        let second = slots.reserve().await;
        assert_eq!(slots.issued(), 2);
        drop((first, second));
        assert_eq!(slots.issued(), 0);
        assert_eq!((slots.available(), slots.kind()), (None, "ResourceBased"));
    }
}
