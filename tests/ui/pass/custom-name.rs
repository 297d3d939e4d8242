use legwork::activity;

#[activity(name = "compose_greeting")]
fn greet(name: String) -> String {
    format!("Hello, {name}!")
}

#[activity]
fn r#match(pattern: String) -> bool {
    pattern.is_empty()
}

fn main() {
    let registry = legwork::registry::Registry::linked().unwrap();
    let names: Vec<_> = registry.names().collect();
    assert_eq!(names, ["compose_greeting", "match"]);
    let greet = registry.get("compose_greeting").unwrap();
    assert!(
        greet.function().ends_with("::greet"),
        "{}",
        greet.function()
    );
    assert_eq!(greet.location().line(), 4);
    assert_eq!(greet.location().column(), 4);
    assert!(greet.location().file().ends_with("custom-name.rs"));
}
