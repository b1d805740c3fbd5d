/**
 * Deterministic tick ids for exchanges that send no sequence number (Coinbase level2, BL3P).
 *
 * `seq` = FNV-1a 64 of the raw frame text, continued over the hash of the previous frame in the
 * same chain. It depends only on the last two frames, so two replicas that read the same exchange
 * stream agree from their second common frame on, whenever each of them connected; that is what
 * lets JetStream's `Nats-Msg-Id` de-duplication store each tick once. Chaining (rather than the
 * frame alone) keeps a frame that repeats byte for byte later in the stream from being taken for a
 * duplicate, unless its predecessor repeats too.
 *
 * FNV-1a is not cryptographic; it needs to be fast (a Coinbase snapshot is megabytes) and stable.
 * It runs over UTF-16 code units, which is fine because every replica runs this same code.
 */

const OFFSET_BASIS: Hash64 = [0x2325, 0x8422, 0x9ce4, 0xcbf2] // 0xcbf29ce484222325, 16-bit limbs, low first

/** 64-bit FNV-1a state as four 16-bit limbs, low first: JS bit operators work on 32 bits only. */
type Hash64 = readonly [number, number, number, number]

const fnv1a = (text: string, seed: Hash64): Hash64 => {
  let [h0, h1, h2, h3] = seed
  for (let i = 0; i < text.length; i++) {
    h0 ^= text.charCodeAt(i)
    // × 0x100000001b3 = × 435 + (× 1 << 40); 1 << 40 lands 8 bits into the third limb.
    const t0 = h0 * 435
    let t1 = h1 * 435
    let t2 = h2 * 435
    let t3 = h3 * 435
    t2 += h0 << 8
    t3 += h1 << 8
    t1 += t0 >>> 16
    h0 = t0 & 0xffff
    t2 += t1 >>> 16
    h1 = t1 & 0xffff
    h3 = (t3 + (t2 >>> 16)) & 0xffff
    h2 = t2 & 0xffff
  }
  return [h0, h1, h2, h3]
}

const hex = (h: Hash64): string =>
  h[3].toString(16).padStart(4, '0') +
  h[2].toString(16).padStart(4, '0') +
  h[1].toString(16).padStart(4, '0') +
  h[0].toString(16).padStart(4, '0')

/** FNV-1a 64 of `text` as 16 lower-case hex digits. */
export const fnv1a64 = (text: string): string => hex(fnv1a(text, OFFSET_BASIS))

/**
 * One chain of frames (one connection, or one book within it). `next(raw)` returns the frame's
 * `seq`; the first frame of a chain is hashed alone.
 */
export class FrameChain {
  #prev: string | undefined

  next(raw: string): string {
    const own = fnv1a(raw, OFFSET_BASIS)
    const seq = this.#prev === undefined ? hex(own) : hex(fnv1a(this.#prev, own))
    this.#prev = hex(own)
    return seq
  }
}
