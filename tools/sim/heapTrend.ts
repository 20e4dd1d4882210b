/**
 * Did a heap grow, or only wobble? Heap samples (taken after a full garbage collection, see heapProbe.ts) go up
 * and down as caches fill and buffers come and go; a leak shows as a steady climb across the run. The trend is the
 * least-squares line through the samples: its rise over the run is the growth, and how far the samples stray from
 * it is the noise. A heap grew "beyond noise" when the line rises more than three times the noise, and by more
 * than a megabyte (less is within what V8 itself keeps, whatever the program does).
 */

export interface HeapPoint {
  /** The toggle after which the sample was taken. */
  readonly toggle: number;
  readonly bytes: number;
}

export interface HeapTrend {
  /** How many samples, over how many toggles. */
  readonly samples: number;
  readonly toggles: number;
  /** The rise of the fitted line from the first sample to the last, in MB (negative when it falls). */
  readonly growthMB: number;
  /** The standard deviation of the samples around the line, in MB. */
  readonly noiseMB: number;
  readonly firstMB: number;
  readonly lastMB: number;
  /** Growth more than 3 × noise and more than MIN_GROWTH_MB; false with fewer than MIN_SAMPLES samples (nothing to tell). */
  readonly grew: boolean;
}

const MB = 1024 * 1024;
export const MIN_SAMPLES = 4;
export const MIN_GROWTH_MB = 1;
const NOISE_FACTOR = 3;

const round = (value: number): number => Math.round(value * 100) / 100;

export function heapTrend(points: readonly HeapPoint[]): HeapTrend {
  const n = points.length;
  const first = points[0];
  const last = points[n - 1];
  if (first === undefined || last === undefined) {
    return { samples: 0, toggles: 0, growthMB: 0, noiseMB: 0, firstMB: 0, lastMB: 0, grew: false };
  }
  const meanX = points.reduce((sum, point) => sum + point.toggle, 0) / n;
  const meanY = points.reduce((sum, point) => sum + point.bytes, 0) / n;
  const sxx = points.reduce((sum, point) => sum + (point.toggle - meanX) ** 2, 0);
  const sxy = points.reduce((sum, point) => sum + (point.toggle - meanX) * (point.bytes - meanY), 0);
  const slope = sxx === 0 ? 0 : sxy / sxx;
  const residuals = points.map((point) => point.bytes - (meanY + slope * (point.toggle - meanX)));
  // n - 2 degrees of freedom: a line through two points fits them exactly and says nothing about noise.
  const noise = n > 2 ? Math.sqrt(residuals.reduce((sum, r) => sum + r * r, 0) / (n - 2)) : 0;
  const growth = slope * (last.toggle - first.toggle);
  const growthMB = growth / MB;
  const noiseMB = noise / MB;
  return {
    samples: n,
    toggles: last.toggle - first.toggle,
    growthMB: round(growthMB),
    noiseMB: round(noiseMB),
    firstMB: round(first.bytes / MB),
    lastMB: round(last.bytes / MB),
    grew: n >= MIN_SAMPLES && growthMB > MIN_GROWTH_MB && growthMB > NOISE_FACTOR * noiseMB,
  };
}
