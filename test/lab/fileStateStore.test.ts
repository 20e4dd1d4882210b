/**
 * The router lab's state file: every SSH login of the lab router is a process of its own, so updates must be
 * serialised through the file system, and a lock left by a process that died must not stop the router.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { FileStateStore } from '../../tools/lab/fileStateStore';
import { createInitialState } from '../../tools/sim/edgeos';

describe('FileStateStore', () => {
  let directory: string;
  let file: string;

  beforeEach(() => {
    directory = mkdtempSync(join(tmpdir(), 'camera-guard-store-'));
    file = join(directory, 'router-state.json');
  });

  afterEach(() => {
    rmSync(directory, { recursive: true, force: true });
  });

  it('loses no update when several stores (as several processes would) update the same file at once', async () => {
    await FileStateStore.create(file, createInitialState());
    const stores = [new FileStateStore(file), new FileStateStore(file), new FileStateStore(file)];
    await Promise.all(stores.flatMap((store) => Array.from({ length: 40 }, () => store.update((state) => state.nextPid++))));
    expect((await stores[0]!.read()).nextPid).toBe(1000 + 120);
  });

  it('stores nothing when the update throws', async () => {
    const store = await FileStateStore.create(file, createInitialState());
    await expect(
      store.update((state) => {
        state.nextPid = 1;
        throw new Error('commit script failed');
      }),
    ).rejects.toThrow('commit script failed');
    expect((await store.read()).nextPid).toBe(1000);
  });

  it('breaks a lock left by a process that died, and only such a lock', async () => {
    const store = await FileStateStore.create(file, createInitialState());
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    writeFileSync(`${file}.lock`, `${dead} crashed-login`);
    const startedAt = Date.now();
    await store.update((state) => {
      state.nextPid = 2000;
    });
    expect(Date.now() - startedAt).toBeLessThan(1_000);
    expect((await store.read()).nextPid).toBe(2000);

    // A lock held by a live process (this one, through a different owner token) is waited for, not broken.
    writeFileSync(`${file}.lock`, `${process.pid} another-login`);
    let done = false;
    const waiting = store.update(() => {
      done = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(done).toBe(false);
    rmSync(`${file}.lock`);
    await waiting;
    expect(done).toBe(true);
  });
});
