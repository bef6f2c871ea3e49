// The test fixture itself: both majors start, accept passwords, and have logical decoding on.
import assert from 'node:assert/strict';
import { connect, testServer } from './pg';

describe('test PostgreSQL servers', () => {
  for (const major of [13, 15] as const) {
    it(`starts PostgreSQL ${major} with wal_level=logical`, async () => {
      const srv = await testServer(major);
      const c = await connect(srv);
      try {
        const { rows } = await c.query<{ v: string; w: string }>(
          `SELECT current_setting('server_version_num') AS v, current_setting('wal_level') AS w`,
        );
        assert.equal(Math.floor(Number(rows[0].v) / 10000), major);
        assert.equal(rows[0].w, 'logical');
      } finally {
        await c.end();
      }
    });
  }
});
