// Root hooks: stop the shared Temporal dev server and PostgreSQL servers after the whole run.
import { stopAllServers } from './pg';
import { stopTemporal } from './temporal';

export const mochaHooks = {
  async afterAll(this: Mocha.Context) {
    this.timeout(120_000);
    await stopTemporal();
    await stopAllServers();
  },
};
