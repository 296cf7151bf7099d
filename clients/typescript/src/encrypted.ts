/**
 * Encrypted payloads (docs/protocol.md, "Encrypted payloads"; seed 002 §VIII): a JSON value sealed as a JWE in the flattened JSON
 * serialization (RFC 7516 §7.2.2) with `alg` `dir` and `enc` `A256GCM` (RFC 7518 §4.5, §5.3), with WebCrypto (Node 20+, browsers).
 * The same format as `Kai.Protocol.EncryptedPayload` in C#: protected header `{"alg":"dir","enc":"A256GCM","kid"}`, 96-bit IV, 128-bit
 * tag, AAD = ASCII(protected) or ASCII(protected + "." + aad) (RFC 7516 §5.1 step 14), all base64url without padding.
 */

/** A sealed value: `{protected, iv, ciphertext, tag}` (and optionally `aad`). */
export interface Jwe { protected: string; iv: string; ciphertext: string; tag: string; aad?: string }

/** Why a value could not be sealed or opened; `reason` matches the C# `EncryptedPayloadError` names. */
export class EncryptedPayloadError extends Error {
  constructor(readonly reason: "NotEncrypted" | "Unsupported" | "UnknownKey" | "InvalidKey" | "Malformed" | "AuthenticationFailed" | "InvalidPlaintext", message: string) {
    super(message);
    this.name = "EncryptedPayloadError";
  }
}

const MEMBERS = new Set(["protected", "iv", "ciphertext", "tag", "aad", "encrypted_key", "header", "unprotected"]);
const B64URL = /^[A-Za-z0-9_-]*$/;
const utf8 = new TextEncoder();

const encode = (bytes: Uint8Array): string => btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join("")).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const decode = (text: string): Uint8Array<ArrayBuffer> => Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));

function header(value: unknown): Record<string, unknown> | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const v = value as Record<string, unknown>;
  for (const [name, member] of Object.entries(v)) {
    if (!MEMBERS.has(name)) return undefined;
    const isObject = name === "header" || name === "unprotected";
    if (isObject ? typeof member !== "object" || member === null || Array.isArray(member) : typeof member !== "string" || !B64URL.test(member) || member.length % 4 === 1) return undefined;
  }
  if (!["protected", "iv", "ciphertext", "tag"].every((name) => name in v)) return undefined;
  try {
    const h = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(decode(v.protected as string)));
    if (typeof h !== "object" || h === null || Array.isArray(h)) return undefined;
    const joined = { ...(v.unprotected as object), ...(v.header as object), ...h } as Record<string, unknown>;
    return typeof joined.alg === "string" && typeof joined.enc === "string" ? joined : undefined;
  } catch {
    return undefined;
  }
}

/** Whether `value` is a flattened JWE, which the hub passes on without reading (C#'s `IsEncrypted` test, bar duplicate members, which `JSON.parse` hides). */
export const isEncrypted = (value: unknown): value is Jwe => header(value) !== undefined;

/** The `kid` a sealed value names, or undefined. */
export const keyIdOf = (value: unknown): string | undefined => { const kid = header(value)?.kid; return typeof kid === "string" ? kid : undefined; };

async function aesKey(key: Uint8Array, kid: string, usage: KeyUsage): Promise<CryptoKey> {
  if (key.length !== 32) throw new EncryptedPayloadError("InvalidKey", `Key '${kid}' is ${key.length} bytes; A256GCM takes a 32-byte key (RFC 7518 §5.3).`);
  return crypto.subtle.importKey("raw", Uint8Array.from(key), "AES-GCM", false, [usage]);
}

/** Seals any JSON value with a 32-byte key under `kid`; `iv` is for known-answer tests only (an IV must never repeat under one key). */
export async function sealPayload(value: unknown, key: Uint8Array, kid: string, iv: Uint8Array = crypto.getRandomValues(new Uint8Array(12))): Promise<Jwe> {
  const prot = encode(utf8.encode(JSON.stringify({ alg: "dir", enc: "A256GCM", kid })));
  const out = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv: Uint8Array.from(iv), additionalData: utf8.encode(prot), tagLength: 128 },
    await aesKey(key, kid, "encrypt"), utf8.encode(JSON.stringify(value))));
  return { protected: prot, iv: encode(iv), ciphertext: encode(out.subarray(0, -16)), tag: encode(out.subarray(-16)) };
}

/** Opens a sealed value with the key `keys(kid)` returns; throws {@link EncryptedPayloadError} saying why it cannot. */
export async function openPayload(value: unknown, keys: (kid: string) => Uint8Array | undefined): Promise<unknown> {
  const h = header(value);
  if (h === undefined) throw new EncryptedPayloadError("NotEncrypted", "The value is not a JWE in the flattened JSON serialization (RFC 7516 §7.2.2).");
  if (h.alg !== "dir" || h.enc !== "A256GCM" || "zip" in h || "crit" in h) throw new EncryptedPayloadError("Unsupported", `Only alg 'dir' with enc 'A256GCM' is supported (this JWE: ${String(h.alg)}, ${String(h.enc)}).`);
  const jwe = value as Jwe & { encrypted_key?: string };
  if (jwe.encrypted_key) throw new EncryptedPayloadError("Malformed", "The JWE has an encrypted_key; with alg 'dir' there is none (RFC 7518 §4.5).");
  const kid = typeof h.kid === "string" && h.kid ? h.kid : undefined;
  const key = kid === undefined ? undefined : keys(kid);
  if (kid === undefined || key === undefined) throw new EncryptedPayloadError("UnknownKey", kid === undefined ? "The JWE names no key: its header has no 'kid'." : `No key with id '${kid}' is known here.`);
  const iv = decode(jwe.iv), tag = decode(jwe.tag);
  if (iv.length !== 12 || tag.length !== 16) throw new EncryptedPayloadError("Malformed", `A256GCM takes a 12-byte IV and a 16-byte tag; this JWE has ${iv.length} and ${tag.length}.`);
  const data = new Uint8Array([...decode(jwe.ciphertext), ...tag]);
  let plain: ArrayBuffer;
  try {
    plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv, additionalData: utf8.encode(jwe.aad === undefined ? jwe.protected : `${jwe.protected}.${jwe.aad}`), tagLength: 128 },
      await aesKey(key, kid, "decrypt"), data);
  } catch (e) {
    if (e instanceof EncryptedPayloadError) throw e;
    throw new EncryptedPayloadError("AuthenticationFailed", `The JWE does not authenticate with key '${kid}': the key is not the one it was sealed with, or the header, IV, ciphertext, aad or tag was changed.`);
  }
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(plain));
  } catch {
    throw new EncryptedPayloadError("InvalidPlaintext", `The JWE opens with key '${kid}', but its plaintext is not JSON.`);
  }
}
