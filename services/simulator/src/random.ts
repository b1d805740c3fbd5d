/** Uniform in [0, 1). The market takes one of these so a seed fixes every price it produces. */
export type Rng = () => number

/**
 * mulberry32: 32-bit state, passes the usual small-state tests and is a few lines long. The
 * simulator needs reproducible runs, not cryptographic quality, so Math.random is never used.
 */
export const mulberry32 = (seed: number): Rng => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

/** Standard normal by Box–Muller; `1 - u` keeps log() away from zero. */
export const gaussian = (rng: Rng): number => {
  const u = 1 - rng()
  const v = rng()
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
}

export const uniform = (rng: Rng, min: number, max: number): number => min + (max - min) * rng()

export const randomInt = (rng: Rng, minInclusive: number, maxInclusive: number): number =>
  minInclusive + Math.floor(rng() * (maxInclusive - minInclusive + 1))
