"""The Python side of legwork's codec interop test (tests/codec_server.rs).

The codec below follows Temporal's samples-python `encryption/codec.py` (and samples-go
`encryption/`) to the byte: AES-256-GCM from `cryptography` over the serialized
`Payload`, data = 12-byte random nonce + ciphertext + tag, metadata `encoding:
binary/encrypted` and `encryption-key-id`, with the sample's default key and key id.
With `--zlib`, payloads are first compressed as Go's `converter.NewZlibCodec` does
(`binary/zlib`, zlib over the serialized `Payload`), as samples-go's
`CompressAndEncryptDataConverter`.

    codec_check.py encode [--zlib]   values below -> temporalio's default converter ->
                                     this codec -> Payloads as proto3 JSON on stdout
    codec_check.py decode [--zlib]   Payloads as proto3 JSON on stdin -> this codec ->
                                     temporalio's default converter -> a JSON list on stdout

JSON goes through protobuf's own `json_format`, so the test also checks legwork's
proto3 JSON against protobuf's.
"""

import asyncio
import dataclasses
import json
import os
import sys
import zlib
from typing import List, Sequence

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.converter import DataConverter, PayloadCodec

# samples-python encryption/codec.py's defaults.
KEY = b"test-key-test-key-test-key-test!"
KEY_ID = "test-key-id"

# What `encode` sends: a string, an object, and None (binary/null).
VALUES = ["Hello from Python", {"id": 7, "tags": ["a", "b"]}, None]


class SampleEncryptionCodec(PayloadCodec):
    """The samples' encryption codec, one key."""

    def __init__(self) -> None:
        self.aes = AESGCM(KEY)

    async def encode(self, payloads: Sequence[Payload]) -> List[Payload]:
        out = []
        for payload in payloads:
            nonce = os.urandom(12)
            sealed = self.aes.encrypt(nonce, payload.SerializeToString(), None)
            out.append(
                Payload(
                    metadata={
                        "encoding": b"binary/encrypted",
                        "encryption-key-id": KEY_ID.encode(),
                    },
                    data=nonce + sealed,
                )
            )
        return out

    async def decode(self, payloads: Sequence[Payload]) -> List[Payload]:
        out = []
        for payload in payloads:
            if payload.metadata.get("encoding", b"") != b"binary/encrypted":
                out.append(payload)
                continue
            key_id = payload.metadata.get("encryption-key-id", b"").decode()
            if key_id != KEY_ID:
                raise ValueError(f"unknown key id {key_id!r}")
            plain = self.aes.decrypt(payload.data[:12], payload.data[12:], None)
            out.append(Payload.FromString(plain))
        return out


class GoZlibCodec(PayloadCodec):
    """Go's converter.NewZlibCodec with AlwaysEncode."""

    async def encode(self, payloads: Sequence[Payload]) -> List[Payload]:
        return [
            Payload(
                metadata={"encoding": b"binary/zlib"},
                data=zlib.compress(p.SerializeToString()),
            )
            for p in payloads
        ]

    async def decode(self, payloads: Sequence[Payload]) -> List[Payload]:
        return [
            Payload.FromString(zlib.decompress(p.data))
            if p.metadata.get("encoding", b"") == b"binary/zlib"
            else p
            for p in payloads
        ]


class Compressed(PayloadCodec):
    """Compress, then encrypt; decrypt, then inflate."""

    def __init__(self) -> None:
        self.zlib = GoZlibCodec()
        self.aes = SampleEncryptionCodec()

    async def encode(self, payloads: Sequence[Payload]) -> List[Payload]:
        return await self.aes.encode(await self.zlib.encode(payloads))

    async def decode(self, payloads: Sequence[Payload]) -> List[Payload]:
        return await self.zlib.decode(await self.aes.decode(payloads))


async def main() -> None:
    mode, flags = sys.argv[1], sys.argv[2:]
    codec = Compressed() if "--zlib" in flags else SampleEncryptionCodec()
    converter = dataclasses.replace(DataConverter.default, payload_codec=codec)
    if mode == "encode":
        payloads = await converter.encode(VALUES)
        print(json_format.MessageToJson(Payloads(payloads=payloads), indent=None))
    elif mode == "decode":
        payloads = json_format.Parse(sys.stdin.read(), Payloads()).payloads
        for payload in payloads:
            encoding = payload.metadata.get("encoding", b"")
            if encoding != b"binary/encrypted":
                raise SystemExit(f"expected binary/encrypted, got {encoding!r}")
        print(json.dumps(await converter.decode(payloads)))
    else:
        raise SystemExit(f"unknown mode {mode!r}: encode or decode")


if __name__ == "__main__":
    asyncio.run(main())
