/**
 * Which network holds an address, from an offline IP-range table: `AS37963 Alibaba, CN`.
 *
 * The table is read from CSV files in ip-location-db's numeric layout, one range per line, sorted, not overlapping:
 *
 *     16777216,16777471,13335,"Cloudflare, Inc."        (ASN files: first, last, AS number, holder's name)
 *     16777216,16777471,AU                              (country files: first, last, ISO country code)
 *
 * IPv6 files write the 128-bit bounds as decimal numbers. The data set installed with the plugin is ip-location-db's
 * (bundledNetworkData.ts); an owner may give other files in the same layout. Loading is lazy (the first look-up starts it, it
 * happens once, and it streams the file so the event loop is never held for long); a look-up before it finishes, or
 * after it failed, answers undefined. Never call it on a HomeKit handler's path: the poll names destinations, the
 * handlers read what it named.
 *
 * Memory: typed arrays of the bounds (8 bytes a range for IPv4, 32 for IPv6), 4 bytes for the AS number or country,
 * 4 for the name's index, and each distinct name once. Measured for the full ip-location-db ASN tables in section 6.
 */
import { createReadStream } from 'node:fs';

import { addressFamily, canonicalAddress } from './address';
import type { NetworkName } from './summary';

/** More ranges than any public table has (ip-location-db's IPv4 ASN table has about 412,000): a bigger file is not one. */
export const MAX_RANGES = 2_000_000;
/** The longest line read: a range and a holder's name. */
const MAX_RANGE_LINE_LENGTH = 512;
/** The longest holder name kept. */
const MAX_NAME_LENGTH = 120;

/** A growable array of unsigned 32-bit numbers, so loading never holds a JS array of a million numbers. */
class Uint32List {
  private items = new Uint32Array(1024);
  length = 0;
  push(value: number): void {
    if (this.length === this.items.length) {
      const bigger = new Uint32Array(this.items.length * 2);
      bigger.set(this.items);
      this.items = bigger;
    }
    this.items[this.length++] = value;
  }
  done(): Uint32Array {
    return this.items.slice(0, this.length);
  }
}

/** Ranges of one family, sorted; an IPv6 bound takes four 32-bit words, most significant first. */
export interface RangeTable {
  readonly words: 1 | 4;
  readonly starts: Uint32Array;
  readonly ends: Uint32Array;
  /** The AS number, or the country code packed in two bytes (0 when unknown). */
  readonly values: Uint32Array;
  /** Index into `names`, or 0xffffffff for none. */
  readonly nameIndexes: Uint32Array;
  readonly names: readonly string[];
  readonly kind: 'asn' | 'country';
}

export interface LoadReport {
  readonly ranges: number;
  /** Lines that were not a range, or were out of order, and were left out. */
  readonly skipped: number;
  readonly truncated: boolean;
}

const NO_NAME = 0xffffffff;

/** Builds a table line by line (a stream's lines); exported for tests and measurements. */
export class RangeTableBuilder {
  private readonly starts = new Uint32List();
  private readonly ends = new Uint32List();
  private readonly values = new Uint32List();
  private readonly nameIndexes = new Uint32List();
  private readonly names: string[] = [];
  private readonly nameIndex = new Map<string, number>();
  private kind: 'asn' | 'country' | undefined;
  private lastEnd: bigint = -1n;
  private readonly words: 1 | 4;
  private readonly maxBound: bigint;
  skipped = 0;
  truncated = false;

  /** A file holds one family's ranges; IPv6 files must say so, as their bounds can be small numbers too. */
  constructor(
    family: 'ipv4' | 'ipv6',
    private readonly maxRanges = MAX_RANGES,
  ) {
    this.words = family === 'ipv4' ? 1 : 4;
    this.maxBound = family === 'ipv4' ? 0xffffffffn : (1n << 128n) - 1n;
  }

  add(line: string): void {
    if (line === '') {
      return;
    }
    if (this.values.length >= this.maxRanges) {
      this.truncated = true;
      return;
    }
    const row = line.length > MAX_RANGE_LINE_LENGTH ? undefined : readRow(line);
    // Out of order or overlapping ranges would make the binary search give wrong answers; a bound too big for the
    // family is not an address of it; a table holds one kind of value.
    if (row === undefined || row.end > this.maxBound || row.start <= this.lastEnd || (this.kind !== undefined && row.kind !== this.kind)) {
      this.skipped++;
      return;
    }
    this.kind = row.kind;
    this.lastEnd = row.end;
    pushBound(this.starts, row.start, this.words);
    pushBound(this.ends, row.end, this.words);
    this.values.push(row.value);
    if (row.name === undefined) {
      this.nameIndexes.push(NO_NAME);
    } else {
      let index = this.nameIndex.get(row.name);
      if (index === undefined) {
        index = this.names.length;
        // A copy, not a slice: V8 keeps a sliced string's whole line alive, which tripled the names' memory.
        this.names.push(Buffer.from(row.name, 'utf8').toString('utf8'));
        this.nameIndex.set(row.name, index);
      }
      this.nameIndexes.push(index);
    }
  }

  build(): RangeTable {
    return { words: this.words, starts: this.starts.done(), ends: this.ends.done(), values: this.values.done(), nameIndexes: this.nameIndexes.done(), names: this.names, kind: this.kind ?? 'asn' };
  }

  report(): LoadReport {
    return { ranges: this.values.length, skipped: this.skipped, truncated: this.truncated };
  }
}

function pushBound(list: Uint32List, bound: bigint, words: 1 | 4): void {
  for (let word = words - 1; word >= 0; word--) {
    list.push(Number((bound >> BigInt(word * 32)) & 0xffffffffn));
  }
}

interface Row {
  readonly start: bigint;
  readonly end: bigint;
  readonly kind: 'asn' | 'country';
  readonly value: number;
  readonly name?: string;
}

const BOUND = /^[0-9]{1,39}$/;

function readRow(line: string): Row | undefined {
  const first = line.indexOf(',');
  const second = line.indexOf(',', first + 1);
  if (first < 0 || second < 0) {
    return undefined;
  }
  const startText = line.slice(0, first);
  const endText = line.slice(first + 1, second);
  if (!BOUND.test(startText) || !BOUND.test(endText)) {
    return undefined;
  }
  const start = BigInt(startText);
  const end = BigInt(endText);
  if (end < start) {
    return undefined;
  }
  const third = line.indexOf(',', second + 1);
  const valueText = third < 0 ? line.slice(second + 1) : line.slice(second + 1, third);
  if (third < 0) {
    return /^[A-Z]{2}$/.test(valueText) ? { start, end, kind: 'country', value: (valueText.charCodeAt(0) << 8) | valueText.charCodeAt(1) } : undefined;
  }
  if (!/^[0-9]{1,10}$/.test(valueText) || Number(valueText) > 0xffffffff) {
    return undefined;
  }
  const name = csvField(line.slice(third + 1));
  return name === undefined ? undefined : { start, end, kind: 'asn', value: Number(valueText), ...(name === '' ? {} : { name: name.slice(0, MAX_NAME_LENGTH) }) };
}

/** The last CSV field: bare, or in double quotes with `""` for a quote. */
function csvField(text: string): string | undefined {
  if (!text.startsWith('"')) {
    return text.includes('"') ? undefined : text;
  }
  if (text.length < 2 || !text.endsWith('"')) {
    return undefined;
  }
  const inner = text.slice(1, -1);
  return /(^|[^"])"([^"]|$)/.test(inner.replace(/""/g, '')) ? undefined : inner.replace(/""/g, '"');
}

/** The 32-bit words of an address in canonical text, most significant first. */
function addressWords(address: string): number[] {
  if (addressFamily(address) === 'ipv4') {
    const [a = 0, b = 0, c = 0, d = 0] = address.split('.').map(Number);
    return [((a << 24) >>> 0) + (b << 16) + (c << 8) + d];
  }
  const halves = address.split('::');
  const parse = (part: string | undefined): number[] => (part === undefined || part === '' ? [] : part.split(':').map((group) => parseInt(group, 16)));
  const head = parse(halves[0]);
  const tail = parse(halves[1]);
  const groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  return [0, 1, 2, 3].map((i) => (groups[i * 2]! * 0x10000 + groups[i * 2 + 1]!) >>> 0);
}

/** Compares the bound at `index` of `bounds` with `key` (both `words` long). */
function compare(bounds: Uint32Array, index: number, key: readonly number[], words: number): number {
  for (let word = 0; word < words; word++) {
    const difference = bounds[index * words + word]! - key[word]!;
    if (difference !== 0) {
      return difference;
    }
  }
  return 0;
}

/** The range holding `address` in `table`, by binary search over the starts; -1 when none does. */
function findRange(table: RangeTable, key: readonly number[]): number {
  let low = 0;
  let high = table.values.length - 1;
  let found = -1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    if (compare(table.starts, middle, key, table.words) <= 0) {
      found = middle;
      low = middle + 1;
    } else {
      high = middle - 1;
    }
  }
  return found >= 0 && compare(table.ends, found, key, table.words) >= 0 ? found : -1;
}

/** What `table` says of `address` (canonical or not), or undefined when no range holds it. */
export function lookUpIn(table: RangeTable, address: string): NetworkName | undefined {
  const canonical = canonicalAddress(address);
  if (canonical === undefined || (addressFamily(canonical) === 'ipv4') !== (table.words === 1)) {
    return undefined;
  }
  const index = findRange(table, addressWords(canonical));
  if (index < 0) {
    return undefined;
  }
  const value = table.values[index]!;
  if (table.kind === 'country') {
    return { country: String.fromCharCode(value >> 8, value & 0xff) };
  }
  const nameIndex = table.nameIndexes[index]!;
  return { ...(value === 0 ? {} : { asn: value }), ...(nameIndex === NO_NAME ? {} : { name: table.names[nameIndex]! }) };
}

/** Reads one CSV file into a table, streaming it. */
export async function loadRangeFile(path: string, family: 'ipv4' | 'ipv6'): Promise<{ table: RangeTable; report: LoadReport }> {
  const builder = new RangeTableBuilder(family);
  // Chunks split into lines here, not by readline: its async iterator queues a promise and a string per line, and
  // for a table of 400,000 lines that garbage grew the heap by tens of megabytes that V8 kept afterwards. Chunks of
  // 16 KiB hold the event loop about 3 ms at most (p99, 5 ms worst seen): HomeKit is answered while the data loads.
  let rest = '';
  /** Inside a line already too long to be a range (said once, by add): the rest of it is passed over. */
  let overlong = false;
  for await (const chunk of createReadStream(path, { encoding: 'utf8', highWaterMark: 16 * 1024 })) {
    let text = chunk as string;
    if (overlong) {
      const end = text.indexOf('\n');
      if (end < 0) {
        continue;
      }
      text = text.slice(end + 1);
      overlong = false;
    }
    text = rest + text;
    let from = 0;
    for (let newline = text.indexOf('\n'); newline >= 0; newline = text.indexOf('\n', from)) {
      builder.add(text.charCodeAt(newline - 1) === 13 ? text.slice(from, newline - 1) : text.slice(from, newline));
      from = newline + 1;
    }
    rest = text.slice(from);
    if (rest.length > MAX_RANGE_LINE_LENGTH) {
      builder.add(rest);
      rest = '';
      overlong = true;
    }
  }
  builder.add(rest);
  return { table: builder.build(), report: builder.report() };
}

/** The files of one data set; any may be left out (an ASN data set without countries, say). */
export interface NetworkDataFiles {
  readonly asnIpv4?: string;
  readonly asnIpv6?: string;
  readonly countryIpv4?: string;
  readonly countryIpv6?: string;
}

/**
 * Names the networks holding addresses, loading its files on first use, once. `onLoaded` hears what was read (for
 * a debug line), `onError` why a file could not be (the look-ups then answer without it), and `onDone`, once, how
 * many files were read and how many could not be.
 */
export class NetworkLookup {
  private tables: Partial<Record<keyof NetworkDataFiles, RangeTable>> | undefined;
  private loading: Promise<void> | undefined;

  constructor(
    private readonly files: NetworkDataFiles,
    private readonly hooks: {
      onLoaded?: (file: string, report: LoadReport) => void;
      onError?: (file: string, error: unknown) => void;
      onDone?: (read: number, failed: number) => void;
    } = {},
  ) {}

  /** Starts loading (if it has not started), and resolves when it is done; never rejects. */
  load(): Promise<void> {
    this.loading ??= (async () => {
      const tables: Partial<Record<keyof NetworkDataFiles, RangeTable>> = {};
      let failed = 0;
      for (const key of ['asnIpv4', 'asnIpv6', 'countryIpv4', 'countryIpv6'] as const) {
        const path = this.files[key];
        if (path === undefined) {
          continue;
        }
        try {
          const { table, report } = await loadRangeFile(path, key.endsWith('Ipv6') ? 'ipv6' : 'ipv4');
          tables[key] = table;
          this.hooks.onLoaded?.(path, report);
        } catch (error) {
          failed++;
          this.hooks.onError?.(path, error);
        }
      }
      this.tables = tables;
      this.hooks.onDone?.(Object.keys(tables).length, failed);
    })();
    return this.loading;
  }

  /** What is known of `address` now; starts loading on first use and answers undefined until it is done. */
  lookUp(address: string): NetworkName | undefined {
    if (this.tables === undefined) {
      void this.load();
      return undefined;
    }
    const canonical = canonicalAddress(address);
    if (canonical === undefined) {
      return undefined;
    }
    // An IPv4-mapped IPv6 address (::ffff:8.8.8.8) is held by the network that holds the IPv4 address it carries.
    const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(canonical);
    if (mapped !== null) {
      const [high, low] = [parseInt(mapped[1]!, 16), parseInt(mapped[2]!, 16)];
      return this.lookUp(`${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`);
    }
    const v6 = canonical.includes(':');
    const asn = this.tables[v6 ? 'asnIpv6' : 'asnIpv4'];
    const country = this.tables[v6 ? 'countryIpv6' : 'countryIpv4'];
    const found = { ...(asn === undefined ? {} : lookUpIn(asn, address)), ...(country === undefined ? {} : lookUpIn(country, address)) };
    return Object.keys(found).length === 0 ? undefined : found;
  }
}
