//! The `main` that `legwork::main!()` generates calls [`run_main`].

/// Defaults a binary chose in `legwork::main!(...)`.
pub struct MainDefaults {
    pub task_queue: &'static str,
}

pub fn run_main(defaults: MainDefaults) -> std::process::ExitCode {
    let _ = defaults;
    todo!("worker main")
}
