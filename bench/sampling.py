"""Sampling on a thread of its own, every 50 ms, until told to stop: the scaffolding that
harness.Sampler (some processes) and containment.TreeSampler (a process tree) share."""

import threading

PERIOD = 0.05


class Periodic:
    """Calls `self.sample()` every 50 ms from `start_sampling()` until `finish()`."""

    def start_sampling(self):
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop.is_set():
            self.sample()
            self.stop.wait(PERIOD)

    def sample(self):
        raise NotImplementedError

    def finish(self):
        """Stops, then takes one last sample: past the last close, which the caller
        waited for, so every figure can be interpolated at it."""
        self.stop.set()
        self.thread.join()
        self.sample()
