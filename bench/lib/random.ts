/**
 * mulberry32, a small deterministic PRNG, so every bench run measures the same books. Same
 * algorithm as the simulator's (services/simulator/src/random.ts), which a bench should not import.
 */
export const mulberry32 = (seed: number): (() => number) => {
  let state = seed | 0
  return () => {
    state = (state + 0x6d2b79f5) | 0
    let t = Math.imul(state ^ (state >>> 15), 1 | state)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}
