// A dynamic activity serves every type no function registers: it sees the type and the
// arguments as sent, decodes them as typed activities would, and its result encodes as
// any activity's does.
use legwork::__private::Args;
use legwork::testing::payload;
use legwork::{activity, ActivityContext, ActivityError, ActivityInfo, DynamicCall};

#[activity]
fn greet(name: String) -> String {
    format!("Hello, {name}!")
}

#[activity(dynamic)]
fn fallback(ctx: &ActivityContext, call: DynamicCall) -> Result<String, ActivityError> {
    assert_eq!(ctx.info().activity_type, call.activity_type());
    if call.activity_type() == "explode" {
        panic!("boom");
    }
    let (text, times): (String, usize) = call.args()?;
    Ok(format!("{}:{}", call.activity_type(), text.repeat(times)))
}

fn run(activity_type: &str, args: Vec<legwork::Payload>) -> Result<String, ActivityError> {
    let registry = legwork::registry::Registry::linked().unwrap();
    let descriptor = registry.resolve(activity_type).unwrap();
    let legwork::__private::Invoker::Sync(invoke) = legwork::__private::invoker(descriptor) else {
        panic!("a plain fn runs on the pool")
    };
    let mut info = ActivityInfo::default();
    info.activity_type = activity_type.to_owned();
    let ctx = ActivityContext::new(info);
    let payload = invoke(&ctx, Args::new(descriptor.name(), args))?;
    Ok(String::from_utf8(payload.data).unwrap())
}

fn main() {
    let registry = legwork::registry::Registry::linked().unwrap();
    assert_eq!(registry.names().collect::<Vec<_>>(), ["greet"]);
    let dynamic = registry.dynamic().unwrap();
    assert!(
        dynamic.function().ends_with("::fallback"),
        "{}",
        dynamic.function()
    );
    assert_eq!((dynamic.name(), dynamic.kind().as_str()), ("*", "sync"));
    assert_eq!(
        registry.resolve("greet").unwrap().function(),
        registry.get("greet").unwrap().function()
    );

    assert_eq!(
        run("shout", vec![payload("ha"), payload(&3)]).unwrap(),
        r#""shout:hahaha""#
    );
    let error = run("shout", vec![payload("ha")]).unwrap_err();
    assert_eq!(
        error.message(),
        "activity `shout` takes 2 arguments but was given 1"
    );
    let error = run("explode", vec![]).unwrap_err();
    assert_eq!(error.error_type(), "PanicError");
    assert_eq!(error.message(), "activity `explode` panicked: boom");
}
