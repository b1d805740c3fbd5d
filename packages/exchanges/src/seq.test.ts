import { describe, expect, it } from 'vitest'
import { FrameChain, fnv1a64 } from './seq.js'

describe('fnv1a64', () => {
  // Reference vectors of 64-bit FNV-1a (www.isthe.com/chongo/tech/comp/fnv).
  it.each([
    ['', 'cbf29ce484222325'],
    ['a', 'af63dc4c8601ec8c'],
    ['foobar', '85944171f73967e8'],
  ])('hashes %j to %s', (text, hash) => {
    expect(fnv1a64(text)).toBe(hash)
  })
})

describe('FrameChain', () => {
  const frames = ['{"n":1}', '{"n":2}', '{"n":3}', '{"n":4}']

  it('hashes the first frame alone, then chains each frame to its predecessor', () => {
    const chain = new FrameChain()
    const seqs = frames.map((f) => chain.next(f))
    expect(seqs[0]).toBe(fnv1a64(frames[0]!))
    expect(new Set(seqs).size).toBe(frames.length)
    expect(seqs.every((s) => /^[0-9a-f]{16}$/.test(s))).toBe(true)
  })

  it('gives two replicas the same seqs from their second common frame on', () => {
    const early = new FrameChain()
    const late = new FrameChain()
    const a = frames.map((f) => early.next(f))
    const b = frames.slice(1).map((f) => late.next(f))
    expect(b[0]).not.toBe(a[1]) // the late one's first frame has no predecessor
    expect(b.slice(1)).toEqual(a.slice(2))
  })

  it('tells a repeated frame apart when its predecessor differs', () => {
    const chain = new FrameChain()
    const [first, , third] = ['X', 'Y', 'X'].map((f) => chain.next(f))
    expect(third).not.toBe(first)
  })
})
