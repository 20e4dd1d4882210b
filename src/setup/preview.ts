/**
 * `/preview`: for the settings on the page, before anything is saved, the exact script the plugin would send to each
 * router when it starts with them (the same reading and planner the running plugin uses; nothing is sent), the
 * change in words, and each of the owner's rules it leaves alone.
 */
import { parseConfig } from '../config';
import type { Preview, RouterPreview } from '../ui/protocol';
import { routerSession, sentence } from './connect';

export async function preview(rawConfig: unknown, storagePath: string): Promise<Preview> {
  const { settings } = parseConfig(rawConfig);
  const routers = await Promise.all(
    settings.routers.map(async (router): Promise<RouterPreview> => {
      const none = { router: router.name, script: '', steps: [], leftAlone: [] };
      if (router.host === undefined) return { ...none, problem: 'Enter the router\'s address in "host" to preview its changes.' };
      const session = routerSession({ ...router, host: router.host }, storagePath);
      try {
        await session.driver.connect();
        const reading = await session.driver.read(router.cameras);
        // No HomeKit requests yet: what the plugin sends at its start (new cameras blocked, the rest kept as they are, repairs).
        const plan = session.driver.plan(reading, new Map());
        const { script, leftAlone } = session.driver.describe(plan);
        return { router: router.name, script, steps: plan.empty ? ['Nothing to change: the router already has these settings.'] : plan.steps, leftAlone };
      } catch (error) {
        return { ...none, problem: sentence(error) };
      } finally {
        session.close();
      }
    }),
  );
  return { routers };
}
