// Building blocks of `VenueProfile`: the rules are the same across exchanges, the arguments are each one's own.

/**
 * `VenueProfile.symbol` of an exchange that lists a pair only against some quotes and spells base and
 * quote its own way; `spell` may still turn a pair down.
 */
export const symbolIfQuotedIn =
  (quotes: readonly string[], spell: (base: string, quote: string) => string | undefined) =>
  (pair: string): string | undefined => {
    const [base, quote] = pair.split('-')
    return base && quote && quotes.includes(quote) ? spell(base, quote) : undefined
  }

/**
 * `VenueProfile.priceDecimals` of a grid that keeps about `digits` significant digits, with no fewer
 * than `minDecimals` decimals however expensive the asset.
 */
export const significantDigits =
  ({ digits, minDecimals }: { digits: number; minDecimals: number }) =>
  (refPrice: number): number =>
    Math.max(minDecimals, digits - Math.ceil(Math.log10(refPrice)))
