use legwork::{activity, DynamicCall};

#[activity(max_concurrent = 0)]
fn zero() {}

#[activity(max_concurrent = -2)]
fn negative() {}

#[activity(max_concurrent = 2.5)]
fn fractional() {}

#[activity(async, max_concurrent = "4")]
async fn quoted() {}

#[activity(max_concurrent)]
fn missing() {}

#[activity(dynamic, max_concurrent = 3)]
fn fallback(call: DynamicCall) -> String {
    call.activity_type().to_owned()
}

fn main() {}
