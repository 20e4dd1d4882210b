/**
 * The look-up queue shared by forward and reverse names: its caps (entries, look-ups at a time, keys waiting), the
 * lifetimes of what was found and what was not, and a look-up that fails, against a look-up the test answers by hand.
 */
import { LookupQueue } from '../../src/destinations/lookupQueue';
import type { LookupQueueOptions } from '../../src/destinations/lookupQueue';

interface Question {
  readonly key: string;
  answer(value: string | undefined): void;
  fail(reason: unknown): void;
}

/** A look-up that holds each question until the test answers it, and lets the test wait for the next question. */
function handAnswered() {
  const questions: Question[] = [];
  let onAsked: (() => void)[] = [];
  const find = (key: string): Promise<string | undefined> =>
    new Promise((resolve, reject) => {
      questions.push({ key, answer: resolve, fail: reject });
      const waiting = onAsked;
      onAsked = [];
      waiting.forEach((go) => go());
    });
  /** Resolves once `count` questions have been asked in all. */
  const asked = async (count: number): Promise<void> => {
    while (questions.length < count) {
      await new Promise<void>((resolve) => onAsked.push(resolve));
    }
  };
  return { find, questions, asked, keys: () => questions.map((question) => question.key) };
}

const TIMES = { refreshMs: 1_000, keepMs: 5_000, retryMs: 300 };

function queueOf(find: (key: string) => Promise<string | undefined>, options: Partial<LookupQueueOptions<string>> = {}): LookupQueue<string> {
  return new LookupQueue<string>({ find, maxConcurrent: 10, maxEntries: 100, whenFull: 'forgetOldest', ...TIMES, ...options });
}

describe('lookup queue', () => {
  it('returns at once and serves a found value from the cache, looking it up again only once it is due a refresh', async () => {
    let now = 0;
    const stub = handAnswered();
    const queue = queueOf(stub.find, { now: () => now });
    queue.lookUp(['a']);
    expect(queue.valueOf('a')).toBeUndefined();
    stub.questions[0]?.answer('A');
    await queue.whenIdle();
    expect(queue.valueOf('a')).toBe('A');
    now = TIMES.refreshMs - 1;
    queue.lookUp(['a']);
    expect(stub.keys()).toEqual(['a']);
    now = TIMES.refreshMs;
    queue.lookUp(['a']);
    expect(stub.keys()).toEqual(['a', 'a']);
    stub.questions[1]?.answer('A2');
    await queue.whenIdle();
    expect(queue.valueOf('a')).toBe('A2');
  });

  it('keeps a found value through refreshes that find nothing until keepMs after it was found, then forgets it', async () => {
    let now = 0;
    const stub = handAnswered();
    const queue = queueOf(stub.find, { now: () => now });
    queue.lookUp(['a']);
    stub.questions[0]?.answer('A');
    await queue.whenIdle();
    now = TIMES.refreshMs;
    queue.lookUp(['a']);
    stub.questions[1]?.answer(undefined);
    await queue.whenIdle();
    expect(queue.valueOf('a')).toBe('A');
    now = TIMES.keepMs - 1;
    expect(queue.valueOf('a')).toBe('A');
    now = TIMES.keepMs;
    expect(queue.valueOf('a')).toBeUndefined();
  });

  it('remembers that a key was not found, trying it again only after retryMs', async () => {
    let now = 0;
    const stub = handAnswered();
    const queue = queueOf(stub.find, { now: () => now });
    queue.lookUp(['gone']);
    stub.questions[0]?.answer(undefined);
    await queue.whenIdle();
    expect(queue.valueOf('gone')).toBeUndefined();
    now = TIMES.retryMs - 1;
    queue.lookUp(['gone']);
    expect(stub.keys()).toEqual(['gone']);
    now = TIMES.retryMs;
    queue.lookUp(['gone']);
    expect(stub.keys()).toEqual(['gone', 'gone']);
    stub.questions[1]?.answer('back');
    await queue.whenIdle();
    expect(queue.valueOf('gone')).toBe('back');
  });

  it('treats a failing look-up as not found, says it once with the reason (again only after a find), and goes on with the rest', async () => {
    let now = 0;
    const said: unknown[] = [];
    const stub = handAnswered();
    const queue = queueOf(stub.find, { now: () => now, maxConcurrent: 1, onNotFound: (key, reason) => said.push([key, reason]) });
    const refused = new Error('refused');
    queue.lookUp(['bad', 'good']);
    stub.questions[0]?.fail(refused);
    // The next key's question is asked although the first failed: the queue does not stall.
    await stub.asked(2);
    stub.questions[1]?.answer('G');
    await queue.whenIdle();
    expect(said).toEqual([['bad', refused]]);
    expect(queue.valueOf('good')).toBe('G');

    now += TIMES.retryMs;
    queue.lookUp(['bad']);
    stub.questions[2]?.answer(undefined);
    await queue.whenIdle();
    expect(said).toHaveLength(1);

    now += TIMES.retryMs;
    queue.lookUp(['bad']);
    stub.questions[3]?.answer('B');
    await queue.whenIdle();
    now += TIMES.refreshMs;
    queue.lookUp(['bad']);
    stub.questions[4]?.answer(undefined);
    await queue.whenIdle();
    expect(said).toEqual([
      ['bad', refused],
      ['bad', undefined],
    ]);
  });

  it('runs at most maxConcurrent look-ups at a time, starting the next as each one ends', async () => {
    const stub = handAnswered();
    const queue = queueOf(stub.find, { maxConcurrent: 2 });
    queue.lookUp(['a', 'b', 'c', 'd', 'e']);
    expect(queue.inFlight).toBe(2);
    expect(stub.keys()).toEqual(['a', 'b']);
    for (let answered = 0; answered < 3; answered++) {
      stub.questions[answered]?.answer('x');
      await stub.asked(answered + 3);
      expect(queue.inFlight).toBe(2);
    }
    expect(stub.keys()).toEqual(['a', 'b', 'c', 'd', 'e']);
    stub.questions.slice(3).forEach((question) => question.answer('x'));
    await queue.whenIdle();
    expect(queue.inFlight).toBe(0);
  });

  it('asks for a key once while it waits or runs, however often it is asked for', async () => {
    const stub = handAnswered();
    const queue = queueOf(stub.find, { maxConcurrent: 1 });
    queue.lookUp(['a', 'b', 'a']);
    queue.lookUp(['b', 'a']);
    stub.questions[0]?.answer('A');
    await stub.asked(2);
    stub.questions[1]?.answer('B');
    await queue.whenIdle();
    expect(stub.keys()).toEqual(['a', 'b']);
  });

  it('with forgetOldest, keeps at most maxEntries keys, forgetting those answered longest ago', async () => {
    const stub = handAnswered();
    const queue = queueOf(stub.find, { maxEntries: 3, whenFull: 'forgetOldest', now: () => 0 });
    for (const key of ['a', 'b', 'c', 'd', 'e']) {
      queue.lookUp([key]);
      stub.questions.at(-1)?.answer(key.toUpperCase());
      await queue.whenIdle();
    }
    expect(stub.keys()).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(queue.size).toBe(3);
    expect(['a', 'b', 'c', 'd', 'e'].map((key) => queue.valueOf(key))).toEqual([undefined, undefined, 'C', 'D', 'E']);
    // A forgotten key is due again at once.
    queue.lookUp(['a', 'c']);
    expect(stub.keys().slice(5)).toEqual(['a']);
    stub.questions[5]?.answer('A');
    await queue.whenIdle();
    expect(queue.size).toBe(3);
    expect(queue.valueOf('c')).toBeUndefined();
  });

  it('with forgetOldest, lets at most maxEntries keys wait, dropping the oldest waiting', async () => {
    const stub = handAnswered();
    const queue = queueOf(stub.find, { maxEntries: 3, maxConcurrent: 1 });
    queue.lookUp(['a', 'b', 'c', 'd', 'e']);
    // Nothing runs until the whole list is queued, so of the five only the last three are still waiting then.
    for (let answered = 0; answered < 3; answered++) {
      stub.questions[answered]?.answer('x');
      if (answered < 2) await stub.asked(answered + 2);
    }
    await queue.whenIdle();
    expect(stub.keys()).toEqual(['c', 'd', 'e']);
  });

  it('with refuseNew, never looks up more keys than maxEntries: a key past the cap is left out, not another pushed out', async () => {
    let now = 0;
    const stub = handAnswered();
    const queue = queueOf(stub.find, { maxEntries: 3, whenFull: 'refuseNew', now: () => now });
    queue.lookUp(['a', 'b', 'c', 'd', 'e']);
    expect(stub.keys()).toEqual(['a', 'b', 'c']);
    stub.questions.forEach((question) => question.answer(question.key.toUpperCase()));
    await queue.whenIdle();
    expect(queue.size).toBe(3);
    expect(['a', 'b', 'c', 'd', 'e'].map((key) => queue.valueOf(key))).toEqual(['A', 'B', 'C', undefined, undefined]);
    // Refreshing what is held still works; the keys left out stay out.
    now = TIMES.refreshMs;
    queue.lookUp(['d', 'a']);
    expect(stub.keys().slice(3)).toEqual(['a']);
    stub.questions[3]?.answer('A2');
    await queue.whenIdle();
    expect(queue.valueOf('a')).toBe('A2');
  });

  it('after stop, forgets what waits, ignores late answers and asks nothing more', async () => {
    const said: string[] = [];
    const stub = handAnswered();
    const queue = queueOf(stub.find, { maxConcurrent: 1, onNotFound: (key) => said.push(key) });
    queue.lookUp(['a', 'b']);
    queue.stop();
    stub.questions[0]?.fail(new Error('cancelled'));
    await queue.whenIdle();
    queue.lookUp(['c']);
    expect(stub.keys()).toEqual(['a']);
    expect(said).toEqual([]);
    expect(queue.size).toBe(0);
  });
});
