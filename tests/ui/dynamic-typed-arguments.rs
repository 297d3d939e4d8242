use legwork::{activity, ActivityContext};

#[activity(dynamic)]
fn fallback(_ctx: &ActivityContext, name: String) -> String {
    name
}

fn main() {}
