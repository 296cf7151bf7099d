// Encrypted payloads without a hub: the JWE (dir + A256GCM) the C# SDK makes and opens, byte for byte.
import assert from "node:assert/strict";
import { test } from "node:test";
import { EncryptedPayloadError, isEncrypted, keyIdOf, openPayload, sealPayload } from "../src/index.js";

const key = Uint8Array.from({ length: 32 }, (_, i) => i);
const keys = (kid: string) => (kid === "kai-test-1" ? key : undefined);
// The vector of tests/Kai.Protocol.Tests/EncryptedPayloadTests.cs (A_dir_A256GCM_JWE_matches_WebCrypto_byte_for_byte).
const vector = {
  protected: "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIiwia2lkIjoia2FpLXRlc3QtMSJ9",
  iv: "oKGio6Slpqeoqaqr",
  ciphertext: "nToPSCa5Z8tAX6WnYhvgvwSMbDLv",
  tag: "_VUrZh__CUYY18dUqA2zVQ",
};

test("seals the C# vector byte for byte and opens it", async () => {
  const iv = Uint8Array.from({ length: 12 }, (_, i) => 0xa0 + i);
  assert.deepEqual(await sealPayload({ secret: "tea at 5" }, key, "kai-test-1", iv), vector);
  assert.deepEqual(await openPayload(vector, keys), { secret: "tea at 5" });
  assert.equal(keyIdOf(vector), "kai-test-1");
});

test("round trips under a fresh IV", async () => {
  const value = { q: "cat", n: [1, 2.5, null, true], "é": "😀" };
  const a = await sealPayload(value, key, "kai-test-1");
  const b = await sealPayload(value, key, "kai-test-1");
  assert.ok(isEncrypted(a));
  assert.notEqual(a.iv, b.iv);
  assert.deepEqual(await openPayload(a, keys), value);
});

const rejects = (value: unknown, reason: string, lookup = keys) =>
  assert.rejects(openPayload(value, lookup), (e: unknown) => e instanceof EncryptedPayloadError && e.reason === reason);

test("tampering, a wrong key and an unknown kid are named", async () => {
  const flip = (s: string) => (s[0] === "A" ? "B" : "A") + s.slice(1);
  await rejects({ ...vector, ciphertext: flip(vector.ciphertext) }, "AuthenticationFailed");
  await rejects({ ...vector, tag: flip(vector.tag) }, "AuthenticationFailed");
  await rejects({ ...vector, aad: "eA" }, "AuthenticationFailed");
  await rejects({ ...vector, protected: Buffer.from('{"enc":"A256GCM","alg":"dir","kid":"kai-test-1"}').toString("base64url") }, "AuthenticationFailed");
  await rejects(vector, "AuthenticationFailed", () => new Uint8Array(32));
  await rejects(vector, "UnknownKey", () => undefined);
  await rejects(vector, "InvalidKey", () => new Uint8Array(16));
  await rejects({ ...vector, protected: Buffer.from('{"alg":"dir","enc":"A128GCM","kid":"kai-test-1"}').toString("base64url") }, "Unsupported");
  await rejects({ enc: "A256GCM", iv: "AAAA", ct: "AAAA", tag: "AAAA" }, "NotEncrypted");
});

test("only JWE objects count as sealed", () => {
  for (const v of ["x", 1, null, [], {}, { ...vector, note: "x" }, { ...vector, tag: "AA==" }, { ...vector, protected: "bm90IGpzb24" }]) {
    assert.equal(isEncrypted(v), false, JSON.stringify(v));
  }
});
