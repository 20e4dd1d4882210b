import { heapTrend } from '../../tools/sim/heapTrend';

const MB = 1024 * 1024;
const series = (values: number[], every = 100): { toggle: number; bytes: number }[] => values.map((mb, i) => ({ toggle: (i + 1) * every, bytes: mb * MB }));

describe('whether a heap grew beyond noise', () => {
  it.each([
    ['flat', [40, 40, 40, 40, 40, 40], false],
    ['wobbling by a few MB, no trend', [40, 43, 39, 42, 40, 43, 39, 41], false],
    ['climbing 1 MB every 100 toggles (a leak)', [40, 41, 42, 43, 44, 45, 46, 47, 48, 49], true],
    ['climbing under noise as large as the climb', [40, 46, 38, 47, 39, 48, 40, 49], false],
    ['a step up early (a cache filling), then flat: not a steady climb', [40, 40, 44, 44, 44, 44, 44, 44, 44, 44], false],
    ['falling', [48, 47, 46, 45, 44, 43], false],
    ['climbing 0.1 MB in all (less than V8 keeps for itself)', [40, 40.02, 40.04, 40.06, 40.08, 40.1], false],
    ['too few samples to tell', [40, 50, 60], false],
  ])('%s', (_what, values, grew) => {
    expect(heapTrend(series(values)).grew).toBe(grew);
  });

  it('reports the fitted rise and the noise around it', () => {
    const trend = heapTrend(series([40, 41, 42, 43, 44, 45]));
    expect(trend).toMatchObject({ samples: 6, toggles: 500, growthMB: 5, noiseMB: 0, firstMB: 40, lastMB: 45, grew: true });
    expect(heapTrend([])).toMatchObject({ samples: 0, grew: false });
  });
});
