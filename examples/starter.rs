//! Runs the `hello` example's activities through a Temporal server and prints the results.
//!
//! ```text
//! cargo run --example starter -- 127.0.0.1:7233
//! ```

use legwork::client::{Client, StartActivity};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7233".to_owned());
    let client = Client::connect(&address, "default").await?;

    let greeting = client
        .start_activity(StartActivity::new("compose_greeting", "hello").arg(&"Ada"))
        .await?;
    let primes = client
        .start_activity(StartActivity::new("count_primes", "hello").arg(&100_000u64))
        .await?;
    let echo = client
        .start_activity(
            StartActivity::new("delayed_echo", "hello")
                .arg(&"async says hi")
                .arg(&250u64),
        )
        .await?;

    println!(
        "compose_greeting(\"Ada\")        = {}",
        greeting.result::<String>().await?
    );
    println!(
        "count_primes(100000)          = {}",
        primes.result::<u64>().await?
    );
    println!(
        "delayed_echo(\"async says hi\") = {}",
        echo.result::<String>().await?
    );
    Ok(())
}
