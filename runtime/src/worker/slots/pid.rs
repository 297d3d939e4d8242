//! The decision of the resource-based supplier, pure: sdk-core's two PID controllers
//! (`ResourceController` in `crates/sdk-core/src/worker/tuner/resource_based.rs`, through
//! the `pid` crate 4), one fed memory usage and one CPU usage, both as fractions.
//!
//! A slot is issued when fewer than the minimum are out; otherwise no sooner than the ramp
//! throttle after the last one, and only while fewer than the maximum are out, both
//! controllers' outputs are above their thresholds, and memory is at or under its target.

use std::time::Duration;

use super::resource_options::ResourceBasedSlots;

/// sdk-core's defaults (`ResourceBasedSlotsOptions`): P 5, I 0, D 1 for both resources.
const P_GAIN: f64 = 5.0;
const I_GAIN: f64 = 0.0;
const D_GAIN: f64 = 1.0;
/// Above this memory output the memory half allows a slot.
const MEMORY_THRESHOLD: f64 = 0.25;
/// Above this CPU output the CPU half allows a slot.
const CPU_THRESHOLD: f64 = 0.05;
/// sdk-core sets every term's limit, and the output's, to 100.
const LIMIT: f64 = 100.0;
/// How long to wait before asking again after a refusal (sdk-core's 10 ms).
pub(crate) const RETRY: Duration = Duration::from_millis(10);

/// One PID controller as the `pid` crate computes it: the derivative acts on the
/// measurement, not the error, so a change of setpoint gives no kick.
#[derive(Debug)]
struct Pid {
    setpoint: f64,
    integral: f64,
    previous: Option<f64>,
}

impl Pid {
    fn new(setpoint: f64) -> Self {
        Pid {
            setpoint,
            integral: 0.0,
            previous: None,
        }
    }

    fn next(&mut self, measurement: f64) -> f64 {
        let limit = |value: f64| value.clamp(-LIMIT, LIMIT);
        let error = self.setpoint - measurement;
        let p = limit(error * P_GAIN);
        self.integral = limit(self.integral + error * I_GAIN);
        let change = self.previous.map_or(0.0, |previous| measurement - previous);
        self.previous = Some(measurement);
        let d = limit(-change * D_GAIN);
        limit(p + self.integral + d)
    }
}

/// Memory and CPU in use, as fractions of what this process may use.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Usage {
    pub(crate) memory: f64,
    pub(crate) cpu: f64,
}

/// What the supplier should do now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    Issue,
    /// Ask again after this long.
    Wait(Duration),
}

/// The two controllers and the bounds they work within.
#[derive(Debug)]
pub(crate) struct Controller {
    options: ResourceBasedSlots,
    memory: Pid,
    cpu: Pid,
    /// The last outputs, for logs and tests.
    pub(crate) outputs: (f64, f64),
}

impl Controller {
    pub(crate) fn new(options: ResourceBasedSlots) -> Self {
        Controller {
            memory: Pid::new(options.target_memory),
            cpu: Pid::new(options.target_cpu),
            options,
            outputs: (0.0, 0.0),
        }
    }

    /// Whether to issue a slot with `issued` out, `since_last_issue` after the last one.
    /// The controllers only step when the other conditions let a slot out, as in sdk-core.
    pub(crate) fn decide(
        &mut self,
        usage: Usage,
        issued: usize,
        since_last_issue: Duration,
    ) -> Decision {
        let options = &self.options;
        if issued < options.minimum_slots {
            return Decision::Issue;
        }
        if since_last_issue < options.ramp_throttle {
            return Decision::Wait(options.ramp_throttle - since_last_issue);
        }
        if issued >= options.maximum_slots {
            return Decision::Wait(RETRY);
        }
        let memory = self.memory.next(usage.memory);
        let cpu = self.cpu.next(usage.cpu);
        self.outputs = (memory, cpu);
        if memory > MEMORY_THRESHOLD && cpu > CPU_THRESHOLD && usage.memory <= options.target_memory
        {
            Decision::Issue
        } else {
            Decision::Wait(RETRY)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RAMP: Duration = Duration::from_millis(50);

    fn controller() -> Controller {
        Controller::new(ResourceBasedSlots::new(0.8, 0.8))
    }

    fn usage(memory: f64, cpu: f64) -> Usage {
        Usage { memory, cpu }
    }

    #[test]
    fn the_minimum_is_issued_whatever_the_usage() {
        let mut controller = controller();
        assert_eq!(
            controller.decide(usage(1.0, 1.0), 0, Duration::ZERO),
            Decision::Issue
        );
        assert_eq!(
            controller.decide(usage(1.0, 1.0), 1, RAMP),
            Decision::Wait(RETRY),
            "above the minimum, a full machine gets nothing"
        );
    }

    #[test]
    fn past_the_minimum_slots_ramp_up_no_faster_than_the_throttle() {
        let mut controller = controller();
        let idle = usage(0.2, 0.1);
        assert_eq!(
            controller.decide(idle, 1, Duration::from_millis(20)),
            Decision::Wait(Duration::from_millis(30))
        );
        assert_eq!(controller.decide(idle, 1, RAMP), Decision::Issue);
        assert_eq!(controller.decide(idle, 10_000, RAMP), Decision::Wait(RETRY));
    }

    #[test]
    fn the_proportional_term_stops_short_of_the_targets() {
        // 5 × (0.8 − 0.76) = 0.2, under the memory threshold of 0.25.
        assert_eq!(
            controller().decide(usage(0.76, 0.1), 1, RAMP),
            Decision::Wait(RETRY)
        );
        // 5 × (0.8 − 0.74) = 0.3, over it.
        assert_eq!(
            controller().decide(usage(0.74, 0.1), 1, RAMP),
            Decision::Issue
        );
        // CPU: 5 × (0.8 − 0.795) = 0.025, under 0.05; 5 × (0.8 − 0.78) = 0.1, over.
        assert_eq!(
            controller().decide(usage(0.1, 0.795), 1, RAMP),
            Decision::Wait(RETRY)
        );
        assert_eq!(
            controller().decide(usage(0.1, 0.78), 1, RAMP),
            Decision::Issue
        );
    }

    #[test]
    fn a_rising_measurement_holds_slots_back_before_the_target() {
        let mut controller = controller();
        assert_eq!(controller.decide(usage(0.3, 0.5), 1, RAMP), Decision::Issue);
        // CPU rose by 0.2: P = 5 × 0.1 = 0.5, D = −0.2 × 1 → 0.3 > 0.05: still issued.
        assert_eq!(controller.decide(usage(0.3, 0.7), 2, RAMP), Decision::Issue);
        let (_, cpu) = controller.outputs;
        assert!((cpu - 0.3).abs() < 1e-9, "{cpu}");
        // Another 0.05: P = 0.25, D = −0.05 → 0.2; then a jump of 0.04 at 0.79: P = 0.05,
        // D = −0.04 → 0.01, refused although under the target.
        assert_eq!(
            controller.decide(usage(0.3, 0.75), 3, RAMP),
            Decision::Issue
        );
        assert_eq!(
            controller.decide(usage(0.3, 0.79), 4, RAMP),
            Decision::Wait(RETRY)
        );
        // Falling usage adds to the output: P = 0.25, D = +0.04 → issued.
        assert_eq!(
            controller.decide(usage(0.3, 0.75), 4, RAMP),
            Decision::Issue
        );
    }

    #[test]
    fn memory_over_its_target_refuses_even_with_a_high_output() {
        let mut controller = Controller::new(ResourceBasedSlots::new(0.5, 0.8));
        controller.decide(usage(0.95, 0.1), 1, RAMP);
        // Falling fast: P = 5 × (0.5 − 0.52) = −0.1, D = +0.43, so the output is 0.33,
        // over the threshold; but memory is still over its target.
        assert_eq!(
            controller.decide(usage(0.52, 0.1), 1, RAMP),
            Decision::Wait(RETRY)
        );
        let (memory, _) = controller.outputs;
        assert!(memory > 0.25, "{memory}");
        assert_eq!(controller.decide(usage(0.4, 0.1), 1, RAMP), Decision::Issue);
    }
}
