"""legwork's variants of noop_sync: behind an nginx front, and with a feature turned on.
Named here so that the harness runs them and the report and the targets find them."""

# noop_sync with the worker behind an nginx front on loopback, plaintext HTTP/2 or TLS
# (the enqueuer still talks to the dev server directly). Run by the workers whose command
# line takes TLS settings: legwork's (`legwork::main!()` flags).
FRONTED = {"noop_sync_proxied": False, "noop_sync_tls": True}
FRONT_WORKERS = {"legwork"}
# noop_sync with extra legwork flags: the cost of a feature, against plain noop_sync.
# `--metrics-bind` turns on per-attempt and per-RPC recording and the /metrics endpoint.
# `noop_sync_encrypted` sets BENCH_PAYLOAD_KEY, which gives examples/bench.rs the
# AES-256-GCM codec: every task's payloads are decoded by the chain and every result is
# encrypted (`binary/encrypted`) before it is sent.
LEGWORK_VARIANTS = {"noop_sync_metrics": ["--metrics-bind", "127.0.0.1:0"],
                    "noop_sync_encrypted": []}
# The key of the samples' encryption codec (tests/python/codec_check.py): any 32 bytes do.
BENCH_PAYLOAD_KEY = "test-key-test-key-test-key-test!"
LEGWORK_VARIANT_ENV = {"noop_sync_encrypted": {"BENCH_PAYLOAD_KEY": BENCH_PAYLOAD_KEY}}
