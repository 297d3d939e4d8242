use legwork::{activity, DynamicCall};

#[activity(dynamic)]
fn fallback(call: DynamicCall) -> String {
    call.activity_type().to_owned()
}

mod other {
    #[legwork::activity(dynamic, async)]
    async fn rest(call: legwork::DynamicCall) {
        let _ = call;
    }
}

fn main() {}
