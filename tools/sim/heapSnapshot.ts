/**
 * Reads a V8 heap snapshot (the `.heapsnapshot` JSON that v8.writeHeapSnapshot writes) into bytes per kind of node:
 * the program's own values (JS_VALUES) apart from what V8 keeps for itself (compiled code, hidden classes, internal
 * lists). A snapshot holds only what is reachable, so these are live bytes.
 */
import { readFileSync } from 'node:fs';

/** The node types that are values the program made: a leak in the plugin is some of these staying reachable. */
export const JS_VALUES = ['object', 'closure', 'array', 'string', 'concatenated string', 'sliced string', 'number', 'symbol', 'regexp', 'bigint'] as const;

export interface HeapSummary {
  /** Self sizes summed per node type (`object`, `code`, `hidden`, …). */
  readonly bytesByType: Readonly<Record<string, number>>;
  /** The sum over JS_VALUES. */
  readonly valueBytes: number;
  /** Everything else but `native` (which is outside the V8 heap): code, hidden classes, shapes, internals. */
  readonly engineBytes: number;
}

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
}

export function summarizeHeapSnapshot(text: string): HeapSummary {
  const snapshot = JSON.parse(text) as Snapshot;
  const fields = snapshot.snapshot.meta.node_fields;
  const types = snapshot.snapshot.meta.node_types[0];
  const typeAt = fields.indexOf('type');
  const sizeAt = fields.indexOf('self_size');
  if (typeAt < 0 || sizeAt < 0 || !Array.isArray(types)) {
    throw new Error('not a V8 heap snapshot (no node type or size fields)');
  }
  const bytesByType: Record<string, number> = {};
  for (let i = 0; i < snapshot.nodes.length; i += fields.length) {
    const type = types[snapshot.nodes[i + typeAt] ?? -1] ?? 'unknown';
    bytesByType[type] = (bytesByType[type] ?? 0) + (snapshot.nodes[i + sizeAt] ?? 0);
  }
  const values = new Set<string>(JS_VALUES);
  const sum = (pick: (type: string) => boolean): number => Object.entries(bytesByType).reduce((total, [type, bytes]) => (pick(type) ? total + bytes : total), 0);
  return { bytesByType, valueBytes: sum((type) => values.has(type)), engineBytes: sum((type) => !values.has(type) && type !== 'native') };
}

export function summarizeHeapSnapshotFile(file: string): HeapSummary {
  return summarizeHeapSnapshot(readFileSync(file, 'utf8'));
}
