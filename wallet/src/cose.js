// The wire format the wallet speaks (docs/wire-format.md): QR text,
// certificates (COSE_Sign1 by the province) and holder presentations
// (COSE_Sign1 by this device). CBOR by cborg, base45 by base45-js, the
// signature by WebCrypto's Ed25519; nothing here is hand-rolled crypto.
import { encode, decode, Tagged } from 'cborg'
import * as base45 from 'base45-js'

/** Length of a presentation time slot, seconds (shared::presentation). */
export const SLOT_SECONDS = 30
/** QR text prefix of a certificate. */
export const CERT_PREFIX = 'LC1:'
/** QR text prefix of a holder presentation. */
export const PRESENTATION_PREFIX = 'LP1:'

const COSE_SIGN1_TAG = 18
const ALG_EDDSA = -8
const CLAIM_CNF = 10

/** The slot a Unix time (seconds) falls in. */
export function slotOf (unixSeconds) {
  return Math.floor(unixSeconds / SLOT_SECONDS)
}

/** Base64url without padding (RFC 4648 §5), as the server takes keys. */
export function base64url (bytes) {
  let s = ''
  for (const b of bytes) s += String.fromCharCode(b)
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

async function inflate (bytes) {
  // zlib (RFC 1950) is the Compression Streams API's 'deflate' format.
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('deflate'))
  return new Uint8Array(await new Response(stream).arrayBuffer())
}

/** The certificate's COSE_Sign1 bytes from its `LC1:` QR text. */
export async function certificateBytes (qrText) {
  const text = qrText.trim()
  if (!text.startsWith(CERT_PREFIX)) throw new Error('not a certificate QR text (no LC1: prefix)')
  const raw = new Uint8Array(base45.decode(text.slice(CERT_PREFIX.length)))
  if (raw[0] === 0xd2) return raw
  if (raw[0] === 0x78) return inflate(raw)
  throw new Error(`certificate payload is not a COSE_Sign1 (first byte ${raw[0]})`)
}

/**
 * The claims of a certificate (a Map with integer keys), read without
 * checking the province's signature: the wallet only needs to know which
 * device key the certificate is bound to; verifiers check the signature.
 */
export function certificateClaims (certBytes) {
  const sign1 = decode(certBytes, { tags: { [COSE_SIGN1_TAG]: Tagged.decoder(COSE_SIGN1_TAG) }, useMaps: true })
  if (!(sign1 instanceof Tagged) || !Array.isArray(sign1.value) || sign1.value.length !== 4) {
    throw new Error('not a tagged COSE_Sign1')
  }
  return decode(sign1.value[2], { useMaps: true })
}

/** The raw Ed25519 key of the certificate's `cnf` claim, or null. */
export function boundKey (certBytes) {
  const cnf = certificateClaims(certBytes).get(CLAIM_CNF)
  if (!Array.isArray(cnf) || cnf[0] !== ALG_EDDSA) return null
  return cnf[1]
}

export function sameBytes (a, b) {
  if (!a || !b || a.length !== b.length) return false
  return a.every((x, i) => x === b[i])
}

/**
 * A holder presentation: COSE_Sign1 (tag 18) by the device key, protected
 * header {1: -8} only, unprotected {}, payload [slot, certificate bstr],
 * signature Ed25519 over Sig_structure ["Signature1", protected, h'', payload].
 * Returns the `LP1:` QR text (uncompressed: zlib never shortens it).
 */
export async function presentation (certBytes, privateKey, unixSeconds) {
  const slot = slotOf(unixSeconds)
  const payload = encode([slot, certBytes])
  const protectedHeader = encode(new Map([[1, ALG_EDDSA]]))
  const toBeSigned = encode(['Signature1', protectedHeader, new Uint8Array(0), payload])
  const signature = new Uint8Array(await crypto.subtle.sign({ name: 'Ed25519' }, privateKey, toBeSigned))
  const sign1 = encode(new Tagged(COSE_SIGN1_TAG, [protectedHeader, new Map(), payload, signature]))
  return { text: PRESENTATION_PREFIX + base45.encode(sign1), slot }
}
