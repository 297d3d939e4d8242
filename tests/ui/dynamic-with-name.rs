use legwork::{activity, DynamicCall};

#[activity(dynamic, name = "fallback")]
fn fallback(call: DynamicCall) -> String {
    call.activity_type().to_owned()
}

fn main() {}
