/**
 * A broken or hostile router can print one enormous line. Every parser over router text runs on Homebridge's one
 * event loop, so each must take time in proportion to its input: a regular expression that backtracks over a long
 * line without a match (two did, `(\d+) flow entries …` and the offload report's `^([A-Za-z _-]+?)\s*:`) kept the
 * loop, and every HomeKit request with it, for seconds on a 40,000-character line.
 *
 * Each parser gets 1 MB of hostile text: sixteen lines just under the line limit, made of the characters that make
 * a backtracking pattern work hardest, and then one line of 1 MB. The quadratic versions took about 3 s for one
 * 40,000-character line, so minutes for this input; the linear ones take milliseconds. The bound leaves a margin of
 * more than 100 times over what they take here, so a loaded machine cannot make the test fail.
 */
import { parseTransactionOutput, splitSections } from '../../src/router/edgeos/commands';
import { readFirewall } from '../../src/router/edgeos/firewallConfig';
import {
  MAX_LINE_LENGTH,
  parseChainCounters,
  parseConfigCommands,
  parseConntrackSummary,
  parseNeighbours,
  parseOffload,
  splitConfigWords,
  sumConntrackSummaries,
} from '../../src/router/edgeos/parsers';

/** Far above what 1 MB takes (tens of milliseconds), far below what a quadratic parser takes (minutes). */
const BOUND_MS = 3_000;
/** The characters that give backtracking the most to try: blanks, digits, letters, quotes, comment stars. */
const WORST = [' ', '1', 'a', "'", '"', '\t', '*', '/', ':', '-', '\\', '\uFFFD'];
const LINES = 16;
const NEAR_LIMIT = MAX_LINE_LENGTH - 200;

/** Sixteen near-limit lines of `fill` between `head` and `tail`, and one 1 MB line of it. */
function hostile(fill: string, head = '', tail = ''): string[] {
  const near = Array.from({ length: LINES }, () => `${head}${fill.repeat(Math.floor(NEAR_LIMIT / fill.length))}${tail}`).join('\n');
  return [near, `${head}${fill.repeat(Math.floor((1024 * 1024) / fill.length))}${tail}`];
}

function expectFast(what: string, inputs: readonly string[], parse: (text: string) => unknown): void {
  for (const text of inputs) {
    const started = performance.now();
    parse(text);
    const elapsed = performance.now() - started;
    expect({ what, chars: text.length, fast: elapsed < BOUND_MS }).toEqual({ what, chars: text.length, fast: true });
  }
}

describe('each parser is linear in its input, whatever a line holds', () => {
  it.each(WORST.map((fill) => [JSON.stringify(fill), fill]))('show configuration commands, lines of %s', (_name, fill) => {
    const inputs = [
      ...hostile(fill, 'set system login banner '),
      ...hostile(fill, "set system login banner '"),
      ...hostile(fill, 'set firewall name X rule 10 description ', "'"),
      ...hostile(`${fill}'`, 'set system login banner '),
    ].map((text) => `set system host-name ubnt\n${text}`);
    expectFast('parseConfigCommands', inputs, (text) => {
      const parsed = parseConfigCommands(text);
      if (parsed.ok) {
        readFirewall(parsed.value.paths);
      }
    });
    expectFast('splitConfigWords', hostile(fill, "firewall name X rule 10 description '"), splitConfigWords);
  });

  it('a configuration line longer than the limit is unreadable: left out outside the firewall, fatal inside it', () => {
    const [, huge = ''] = hostile('a', 'set system login banner ');
    const outside = parseConfigCommands(`set system host-name ubnt\n${huge}`);
    expect(outside.ok && outside.value.skipped).toEqual([{ line: expect.stringMatching(/^set system login banner a+\.\.\.$/), reason: `longer than ${MAX_LINE_LENGTH} characters` }]);
    expect(parseConfigCommands(`set system host-name ubnt\nset firewall name X rule 10 description ${'a'.repeat(MAX_LINE_LENGTH)}`).ok).toBe(false);
  });

  it.each(WORST.map((fill) => [JSON.stringify(fill), fill]))('iptables counters, rows of %s', (_name, fill) => {
    const header = 'Chain C (1 references)\n    pkts      bytes target     prot opt in     out     source               destination\n';
    const inputs = [
      ...hostile(fill, '       1        2 RETURN     all  --  *      *       0.0.0.0/0            0.0.0.0/0            /* C-1 '),
      ...hostile(fill, '       1        2 RETURN     all  --  *      *       0.0.0.0/0            0.0.0.0/0            /* C-10000 default-action a'),
      ...hostile(`/* C-1 ${fill}`),
    ].map((rows) => `${header}${rows}\n`);
    expectFast('parseChainCounters', [...inputs, ...hostile(fill, 'Chain C (1 references)\n pkts', 'x')], (text) => parseChainCounters(text, 'C'));
  });

  it.each(WORST.map((fill) => [JSON.stringify(fill), fill]))('show ubnt offload, lines of %s', (_name, fill) => {
    const inputs = [...hostile(fill, 'a', 'b'), ...hostile(fill, 'forwarding', ':'), ...hostile(fill, 'forwarding:'), ...hostile(`a${fill}`, 'hw nat')];
    expectFast('parseOffload', inputs.map((lines) => `Hardware offload\nIPv4\n${lines}\n`), parseOffload);
  });

  it('show ubnt offload: a line longer than the limit is not read as a confident "off"', () => {
    const [, huge = ''] = hostile(' ', 'forwarding', ': enabled');
    expect(parseOffload(`Hardware offload\nIPv4\n${huge}\n  forwarding: disabled\n`).ok).toBe(false);
  });

  it.each(WORST.map((fill) => [JSON.stringify(fill), fill]))('conntrack summaries, lines of %s', (_name, fill) => {
    const inputs = [...hostile(fill), ...hostile(fill, '', '1 flow entries have been x'), ...hostile(`1${fill}`, '', ' flow entries have been deleted'), ...hostile(`${fill} flow entries have been `)];
    expectFast('parseConntrackSummary', inputs, parseConntrackSummary);
    expectFast('sumConntrackSummaries', inputs, (text) => sumConntrackSummaries(text, LINES));
  });

  it('conntrack summaries: the number before the words is read, however long the line before it', () => {
    expect(parseConntrackSummary(`${'1 '.repeat(30_000)}conntrack v1.4.6 (conntrack-tools): 3 flow entries have been deleted.`)).toEqual({ ok: true, value: 3 });
    expect(parseConntrackSummary(`${'1'.repeat(40_000)} flow entries have been deleted.`).ok).toBe(false);
  });

  it.each(WORST.map((fill) => [JSON.stringify(fill), fill]))('ip neigh show, lines of %s', (_name, fill) => {
    const inputs = [...hostile(fill, '192.168.1.50 dev switch0 lladdr '), ...hostile(fill, 'x', 'x'), ...hostile(fill, '192.168.1.50 dev switch0 lladdr 00:11:22:33:44:55 ')];
    expectFast('parseNeighbours', inputs, parseNeighbours);
  });

  it.each(WORST.map((fill) => [JSON.stringify(fill), fill]))('transaction output and read sections, lines of %s', (_name, fill) => {
    const inputs = [...hostile(fill), ...hostile(fill, '@@camera-guard op '), ...hostile(fill, 'Saving configuration to ')];
    expectFast('parseTransactionOutput', inputs, (text) => parseTransactionOutput(text, text));
    expectFast('splitSections', inputs, splitSections);
  });
});
