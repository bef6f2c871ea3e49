// Root hooks: stop the shared PostgreSQL servers after the whole run.
import { stopAllServers } from './pg';

export const mochaHooks = {
  async afterAll(this: Mocha.Context) {
    this.timeout(120_000);
    await stopAllServers();
  },
};
