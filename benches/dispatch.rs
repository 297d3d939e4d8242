//! Dispatch overhead: what legwork adds around an activity call. A registry lookup by
//! name, the argument-count check and decoding, the call, the result encoding, against
//! calling the function directly (and against hand-written serde_json around the call).
//!
//! ```text
//! cargo bench --bench dispatch
//! ```

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use legwork::__private::{encode_json, Args};
use legwork::registry::Registry;
use legwork::{activity, ActivityContext, ActivityInfo, Payload};

#[activity]
fn noop() {}

#[activity]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

#[activity]
fn greet(name: String) -> String {
    format!("Hello, {name}!")
}

fn json(value: impl serde::Serialize) -> Payload {
    encode_json(value).unwrap()
}

/// Looks `name` up, decodes `payloads`, calls, encodes: the worker's path minus the
/// thread hand-off and the network.
fn dispatch(
    registry: &Registry,
    ctx: &ActivityContext,
    name: &str,
    payloads: Vec<Payload>,
) -> Payload {
    let descriptor = registry.get(name).expect("registered");
    match legwork::__private::invoker(descriptor) {
        legwork::__private::Invoker::Sync(invoke) => {
            invoke(ctx, Args::new(descriptor.name(), payloads)).unwrap()
        }
        legwork::__private::Invoker::Async(_) | legwork::__private::Invoker::Isolated { .. } => {
            unreachable!("the benchmark's activities are sync")
        }
    }
}

fn bench(c: &mut Criterion) {
    let registry = Registry::linked().unwrap();
    let ctx = ActivityContext::new(ActivityInfo::default());
    let cases: [(&str, Vec<Payload>); 3] = [
        ("noop", vec![]),
        ("add", vec![json(40i64), json(2i64)]),
        ("greet", vec![json("Ada")]),
    ];

    let mut group = c.benchmark_group("dispatch");
    for (name, payloads) in &cases {
        group.bench_function(format!("legwork/{name}"), |b| {
            b.iter_batched(
                || payloads.clone(),
                |payloads| dispatch(&registry, &ctx, black_box(name), payloads),
                BatchSize::SmallInput,
            )
        });
    }
    group.bench_function("lookup_only", |b| {
        b.iter(|| registry.get(black_box("greet")).map(|d| d.name()))
    });

    // The same calls by hand: serde_json in and out, no registry, no Args.
    group.bench_function("serde_by_hand/noop", |b| {
        b.iter(|| {
            noop();
            json(())
        })
    });
    let add_args = cases[1].1.clone();
    group.bench_function("serde_by_hand/add", |b| {
        b.iter_batched(
            || add_args.clone(),
            |payloads| {
                let a: i64 = serde_json::from_slice(&payloads[0].data).unwrap();
                let b: i64 = serde_json::from_slice(&payloads[1].data).unwrap();
                json(add(a, b))
            },
            BatchSize::SmallInput,
        )
    });
    let greet_args = cases[2].1.clone();
    group.bench_function("serde_by_hand/greet", |b| {
        b.iter_batched(
            || greet_args.clone(),
            |payloads| {
                let name: String = serde_json::from_slice(&payloads[0].data).unwrap();
                json(greet(name))
            },
            BatchSize::SmallInput,
        )
    });

    // The bare calls.
    group.bench_function("direct/noop", |b| b.iter(noop));
    group.bench_function("direct/add", |b| {
        b.iter(|| add(black_box(40), black_box(2)))
    });
    group.bench_function("direct/greet", |b| {
        b.iter_batched(|| "Ada".to_owned(), greet, BatchSize::SmallInput)
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
