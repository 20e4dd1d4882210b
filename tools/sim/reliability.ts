/**
 * `npm run soak`: runs the 1,000-toggle soak (and the hostile-input suite, to count its cases) and rewrites
 * docs/RELIABILITY.md from the figures of this run. The page is never edited by hand.
 *
 * The soak runs in the router lab when it can run here (root, network namespaces; see labUnavailableReason), and
 * against the simulated router otherwise; the page says which, and why. `--target lab|simulator` forces one,
 * `--toggles N` and `--seed N` change the run.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { LabUnavailableError } from '../lab/lab';
import { labUnavailableReason } from '../lab/prerequisites';
import { PROJECT_ROOT } from '../paths';
import { runSoak } from './soak';
import type { SoakOptions, SoakResult, SoakTargetName } from './soak';

const CAMERAS = 8;
/** The chance that a toggle is followed by a fault. In the lab a fault is only picked when none is in progress. */
const FAULT_RATE: Record<SoakTargetName, number> = { simulator: 0.08, lab: 0.2 };

function argument(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? Number(process.argv[index + 1]) : fallback;
}

function textArgument(name: string): string | undefined {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? process.argv[index + 1] : undefined;
}

/** Runs the hostile-input tests with counting on; returns the number of inputs they tried, by test file. */
function hostileInputs(): Record<string, number> {
  const directory = mkdtempSync(join(tmpdir(), 'camera-guard-hostile-'));
  const jest = join(PROJECT_ROOT, 'node_modules', '.bin', 'jest');
  const run = spawnSync(jest, ['--runInBand', 'test/hostile'], { cwd: PROJECT_ROOT, encoding: 'utf8', env: { ...process.env, CAMERA_GUARD_COUNT_INPUTS: directory } });
  const counts: Record<string, number> = {};
  const file = join(directory, 'counts.jsonl');
  if (existsSync(file)) {
    for (const line of readFileSync(file, 'utf8').split('\n').filter((l) => l !== '')) {
      const { suite, inputs } = JSON.parse(line) as { suite: string; inputs: number };
      counts[suite] = (counts[suite] ?? 0) + inputs;
    }
  }
  rmSync(directory, { recursive: true, force: true });
  if (run.status !== 0) {
    throw new Error(`the hostile-input tests failed:\n${run.stdout.slice(-2000)}\n${run.stderr.slice(-2000)}`);
  }
  return counts;
}

/** Where the soak runs: the lab when it can run here, with the reason when it cannot. */
function chooseTarget(): { target: SoakTargetName; why: string } {
  const forced = textArgument('target');
  if (forced !== undefined && forced !== 'lab' && forced !== 'simulator') {
    throw new Error(`--target must be "lab" or "simulator", not "${forced}"`);
  }
  if (forced === 'simulator') {
    return { target: 'simulator', why: 'asked for with --target simulator' };
  }
  const unavailable = labUnavailableReason();
  if (unavailable === undefined) {
    return { target: 'lab', why: forced === 'lab' ? 'asked for with --target lab' : 'the lab can run on this machine' };
  }
  if (forced === 'lab') {
    throw new Error(`--target lab, but the lab cannot run here: ${unavailable}`);
  }
  return { target: 'simulator', why: `the router lab cannot run on this machine (${unavailable})` };
}

async function soakWithFallback(options: Omit<SoakOptions, 'target' | 'faultRate'>): Promise<{ soak: SoakResult; why: string }> {
  const chosen = chooseTarget();
  const run = (target: SoakTargetName): Promise<SoakResult> => {
    console.log(`Soak: ${options.toggles} toggles across ${options.cameras} cameras against the ${target === 'lab' ? 'router lab' : 'simulated router'}, seed ${options.seed} (replay with --seed ${options.seed}).`);
    return runSoak({ ...options, target, faultRate: FAULT_RATE[target] });
  };
  try {
    return { soak: await run(chosen.target), why: chosen.why };
  } catch (error) {
    // The lab passed its checks but would not start after all (another lab started meanwhile, say).
    if (!(error instanceof LabUnavailableError) || textArgument('target') === 'lab') {
      throw error;
    }
    return { soak: await run('simulator'), why: `the router lab could not start (${error.message})` };
  }
}

function where(soak: SoakResult, why: string): string[] {
  if (soak.target === 'lab') {
    return [
      `The soak ran in **the router lab** (${why}): ${soak.targetDescription}. Homebridge reached the router over the`,
      'lab\'s LAN, every rule change was loaded into the kernel, and at the end the cameras that have a host in the lab',
      'sent real packets to check that the router lets through exactly what HomeKit shows.',
    ];
  }
  return [`The soak ran against **the simulated router**, not the router lab (${why}): ${soak.targetDescription}.`];
}

function memory(soak: SoakResult, toggles: number): string[] {
  const growth = soak.homebridgeRssEndMB - soak.homebridgeRssWarmMB;
  const warmAt = Math.max(1, Math.round(toggles / 10));
  const heap = soak.heap;
  const first = soak.heapSamples[0];
  return [
    '## Memory',
    '',
    'The **JavaScript heap** of Homebridge is measured from inside it: Homebridge runs with `--expose-gc` and a small',
    'probe (tools/sim/heapProbe.ts) that, when the soak asks, runs a full garbage collection and writes a heap snapshot,',
    'which holds only what is still reachable. The snapshot tells the program\'s own values (objects, arrays, closures,',
    'strings, numbers: tools/sim/heapSnapshot.ts) from what V8 keeps for itself (compiled code, hidden classes), which',
    'grows for a long while as V8 compiles and optimises more of the program, without anything leaking. A leak in the',
    'plugin is values that stay reachable, and shows as a steady climb of the values. The trend is the least-squares',
    'line through their samples (tools/sim/heapTrend.ts); the heap "grew beyond noise" if that line rises more than three',
    'times the scatter of the samples around it, and by more than 1 MB.',
    `Homebridge restarts are faults of the first half only, so one Homebridge served the whole second half${soak.homebridgeRestarts > 0 ? ` (this run restarted it ${soak.homebridgeRestarts} time(s))` : ''};`,
    'its heap is sampled every twentieth of the run once it has served a tenth of the toggles, and once more at the end.',
    '',
    '| figure | value |',
    '|---|---|',
    `| samples | ${heap.samples}, over ${heap.toggles} toggles${first !== undefined ? ` (from toggle ${first.toggle})` : ''} |`,
    `| live JavaScript values, first sample / last | ${heap.firstMB} MB / ${heap.lastMB} MB |`,
    `| **growth of the trend line over those toggles** | **${heap.growthMB >= 0 ? '+' : ''}${heap.growthMB} MB** |`,
    `| scatter of the samples around the line (standard deviation) | ${heap.noiseMB} MB |`,
    `| **verdict** | **${heap.samples < 4 ? 'too few samples to tell' : heap.grew ? 'GREW beyond noise' : 'no growth beyond noise'}** |`,
    `| samples of the values (MB, by toggle) | ${soak.heapSamples.map((sample) => `${sample.toggle}: ${sample.mb}`).join(', ')} |`,
    `| V8's own part of the heap (compiled code, hidden classes), first sample / last | ${soak.heapCodeMB.first} MB / ${soak.heapCodeMB.last} MB |`,
    '',
    'For comparison, the resident set size of the Homebridge process (`VmRSS` in `/proc/<pid>/status`): all of its',
    'memory in RAM, including heap V8 keeps for reuse, code and buffers, so it moves for reasons that are not leaks.',
    'Each heap snapshot makes V8 build a copy of the heap\'s graph, which it keeps for reuse: RSS jumps by tens of MB',
    'at the first snapshot of each Homebridge and stays there; that is the measurement, not the plugin.',
    '',
    '| figure | value |',
    '|---|---|',
    `| RSS right after pairing | ${soak.homebridgeRssStartMB} MB |`,
    `| RSS after warm-up (toggle ${warmAt}) | ${soak.homebridgeRssWarmMB} MB |`,
    `| RSS at the end | ${soak.homebridgeRssEndMB} MB (${growth >= 0 ? '+' : ''}${growth} MB${soak.homebridgeRestarts > 0 ? ', another Homebridge process than at warm-up' : ''}) |`,
    `| peak RSS of the last Homebridge (VmHWM) | ${soak.homebridgeRssPeakMB} MB |`,
    `| RSS every ${warmAt} toggles | ${soak.rssSamples.map((sample) => `${sample.mb}`).join(', ')} MB |`,
    '',
  ];
}

async function main(): Promise<void> {
  const toggles = argument('toggles', 1000);
  const seed = argument('seed', Date.now() % 1_000_000);
  // The hostile-input suite first: it takes seconds, the soak a quarter of an hour in the lab.
  console.log('Hostile inputs: running test/hostile with counting on...');
  const hostile = hostileInputs();
  const { soak, why } = await soakWithFallback({ toggles, cameras: CAMERAS, seed, onProgress: (line) => console.log(`  ${line}`) });
  console.log(`Soak figures: ${JSON.stringify({ ...soak, targetDescription: undefined })}`);
  const hostileTotal = Object.values(hostile).reduce((a, b) => a + b, 0);
  const injected = Object.values(soak.faults).reduce((a, b) => a + b, 0);
  const missed = Object.values(soak.faultsMissed).reduce((a, b) => a + b, 0);
  const ok =
    soak.wrongStates === 0 &&
    soak.lostStates === 0 &&
    soak.openSessions === 0 &&
    (soak.sessionsLeftOpen ?? 0) === 0 &&
    soak.unhandledRejections === 0 &&
    !soak.homebridgeCrashed &&
    (soak.trafficMismatches ?? 0) === 0 &&
    (soak.faultViolations ?? 0) === 0 &&
    !soak.heap.grew;
  const rate = FAULT_RATE[soak.target];

  const page = [
    '# Reliability figures',
    '',
    `Generated by \`npm run soak\` (tools/sim/reliability.ts) on ${new Date().toISOString().slice(0, 10)}; do not edit by hand.`,
    'The soak drives a real Homebridge with the plugin through a real HomeKit controller (hap-controller) and injects',
    'router faults at random moments between toggles; at the end, after the faults stop, it compares what HomeKit',
    'shows with what the router enforces.',
    '',
    ...where(soak, why),
    '',
    '## Soak',
    '',
    '| figure | value |',
    '|---|---|',
    `| where | ${soak.target === 'lab' ? 'the router lab (real OpenSSH, real iptables, real packets)' : 'the simulated router (in-process)'} |`,
    `| toggles from HomeKit | ${soak.toggles} (across ${CAMERAS} cameras, seed ${seed}) |`,
    `| accepted by HomeKit | ${soak.accepted} |`,
    `| refused with "No Response" (router known down) | ${soak.refusedNoResponse} |`,
    `| faults injected | ${injected} (after a toggle with probability ${rate}${soak.target === 'lab' ? ', when no other fault was in progress' : ''}) |`,
    ...(soak.target === 'lab' ? [`| faults whose moment never came (nothing injected) | ${missed} |`] : []),
    `| **lost states** (accepted, not in force, not reported as failed) | **${soak.lostStates}** |`,
    `| **wrong states** (HomeKit differs from the router at the end) | **${soak.wrongStates}** |`,
    `| **config sessions left open on the router** (at the end) | **${soak.openSessions}** |`,
    ...(soak.sessionsLeftOpen === undefined
      ? []
      : [`| **config sessions left open during the run** (open while no router login was running; a later reboot would have hidden them at the end) | **${soak.sessionsLeftOpen}** |`]),
    `| **unhandled rejections** (lines of Homebridge's output that mention one; it runs with \`--unhandled-rejections=warn\` so that each is printed) | **${soak.unhandledRejections}** |`,
    `| **Homebridge ended by itself** (crash, uncaught exception) | **${soak.homebridgeCrashed ? 'yes' : 'no'}** |`,
    ...(soak.trafficMismatches === undefined ? [] : [`| **cameras whose real packets disagree with HomeKit at the end** | **${soak.trafficMismatches}** |`]),
    ...(soak.faultViolations === undefined
      ? []
      : [`| **things the plugin must never do, caught during the faults** (more than ${2} refused logins while its key was refused; any login attempt or command while an impostor's host key was presented) | **${soak.faultViolations}** |`]),
    `| Homebridge stopped by SIGTERM mid-commit and started again | ${soak.homebridgeRestarts} time(s) |`,
    `| outages seen from HomeKit (leak sensors showing a fault: router unreachable; back-to-back faults with no good reading between them count as one) | ${soak.outages}, the longest ${soak.longestOutageSeconds} s; each ended by the plugin reconnecting by itself |`,
    `| recovery: from the end of the last fault until HomeKit and the router agree | ${soak.recoverySeconds} s |`,
    `| duration | ${soak.seconds} s |`,
    '',
    '## Faults injected',
    '',
    soak.target === 'lab'
      ? '"Before / during / after commit" are exact: the lab router pauses the next transaction at that point and the fault is injected while it waits there.'
      : 'The simulator injects each fault when it is picked, wherever the plugin is at that moment.',
    '',
    soak.target === 'lab' ? '| fault | times | moment never came |' : '| fault | times |',
    soak.target === 'lab' ? '|---|---|---|' : '|---|---|',
    ...Object.entries(soak.faults).map(([fault, times]) => (soak.target === 'lab' ? `| ${fault} | ${times} | ${soak.faultsMissed[fault] ?? 0} |` : `| ${fault} | ${times} |`)),
    '',
    ...memory(soak, toggles),
    '## Hostile inputs',
    '',
    '| suite | inputs tried |',
    '|---|---|',
    ...Object.entries(hostile).map(([suite, inputs]) => `| ${suite} | ${inputs} |`),
    `| **total** | **${hostileTotal}** |`,
    '',
    `Result: ${ok ? 'no lost or wrong states, no open sessions, no unhandled rejections, no violations, no heap growth beyond noise.' : 'FAILED: see the figures above.'}`,
    ...(soak.evidence.length > 0 ? ['', '## Evidence', '', '```', ...soak.evidence, '```'] : []),
    '',
  ].join('\n');
  // The section "Fail-closed checks" is written by the test suite (test/failClosed.test.ts): keep it.
  const pagePath = join(PROJECT_ROOT, 'docs', 'RELIABILITY.md');
  const previous = existsSync(pagePath) ? readFileSync(pagePath, 'utf8') : '';
  const failClosed = previous.indexOf('\n## Fail-closed checks\n');
  writeFileSync(pagePath, failClosed < 0 ? page : `${page}${previous.slice(failClosed)}`);
  console.log(page);
  if (!ok) {
    process.exit(1);
  }
}

main().catch((error: unknown) => {
  console.error(`The soak could not run: ${(error as Error).message}`);
  process.exit(1);
});
