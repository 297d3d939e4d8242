// Every #[activity] gets a typed client named like the function: in a module, in a fn
// body, under a custom name, with argument and result types that only go one way.
use legwork::client::{ActivityOptions, Client, ClientError, TypedActivityHandle};
use legwork::{activity, ActivityContext, ActivityError};

pub mod greetings {
    use super::*;

    /// Module-level, with a context and a custom name.
    #[activity(name = "compose_greeting")]
    pub fn greet(ctx: &ActivityContext, name: String, times: u32) -> Result<String, ActivityError> {
        let _ = ctx;
        Ok(format!("Hello, {name}!").repeat(times as usize))
    }

    /// A parameter named `client` and a pattern get plain names in the client.
    #[activity(async)]
    pub async fn nap(client: u64, (a, b): (u8, u8)) {
        let _ = (client, a, b);
    }
}

// Decoded by the worker, never encoded by it: the client still compiles, and sending one
// is an encode error at run time.
#[derive(serde::Deserialize)]
pub struct OnlyIn {
    pub value: u8,
}

// Encoded by the worker, never decoded by it.
#[derive(serde::Serialize)]
pub struct OnlyOut {
    pub value: u8,
}

#[activity]
fn one_way(input: OnlyIn) -> OnlyOut {
    OnlyOut { value: input.value }
}

#[activity]
fn bytes(data: Vec<u8>) -> std::io::Result<Vec<u8>> {
    Ok(data)
}

#[activity]
fn formatted() -> std::fmt::Result {
    Ok(())
}

fn assert_send<T: Send>(_: &T) {}

#[allow(dead_code, unused_must_use, clippy::all)]
async fn calls(client: &Client) -> Result<(), ClientError> {
    let options = || ActivityOptions::new("queue");
    let start = greetings::GreetActivity::start(client, options(), "world".to_owned(), 2);
    assert_send(&start);
    let handle: TypedActivityHandle<String> = start.await?;
    let _id: &str = handle.id();
    let _greeting: String = handle.result().await?;
    let _: String = greetings::GreetActivity::execute(client, options(), "you".to_owned(), 1).await?;
    let (): () = greetings::NapActivity::execute(client, options(), 5, (1, 2)).await?;
    let _: TypedActivityHandle<OnlyOut> =
        OneWayActivity::start(client, options(), OnlyIn { value: 1 }).await?;
    let _: Vec<u8> = BytesActivity::execute(client, options(), vec![1, 2]).await?;
    let (): () = FormattedActivity::execute(client, options()).await?;

    // In a function body, too.
    #[activity]
    fn local(n: i64) -> i64 {
        n + 1
    }
    let _: i64 = LocalActivity::execute(client, options(), 41).await?;
    Ok(())
}

fn main() {
    // The functions themselves are untouched.
    assert_eq!(bytes(vec![7]).unwrap(), [7]);
    let names: Vec<_> = legwork::registry::Registry::linked()
        .unwrap()
        .names()
        .collect();
    assert_eq!(
        names,
        [
            "bytes",
            "compose_greeting",
            "formatted",
            "local",
            "nap",
            "one_way"
        ]
    );
    let _ = calls;
}
