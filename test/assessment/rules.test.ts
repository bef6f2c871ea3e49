// The rule catalogue as data, the Aurora extension lists, and the pure parts of the checks: narrowing of
// change-data-type rules, the mapping of CDC preflight findings and connection errors to rules (for
// the cases no test server can produce: no route, a standby), and the ordering of findings.
import assert from 'node:assert/strict';
import {
  AURORA_EXTENSIONS,
  RULES,
  appliesTo,
  auroraExtensions,
  findRule,
  getRule,
} from '../../src/assessment';
import { classify } from '../../src/assessment/cdc';
import { explainConnectError } from '../../src/assessment/connectivity';
import { Findings } from '../../src/assessment/findings';
import { narrowing } from '../../src/assessment/mapping';
import type { PgConnInfo } from '../../src/engine/connection';

const conn: PgConnInfo = {
  endpointId: 'onsite',
  host: 'db.example',
  port: 5432,
  database: 'shop',
  user: 'ferry',
  password: 'secret-password',
};

describe('assessment: rule catalogue and pure checks', () => {
  it('every rule has a stable kebab-case id, a severity, a title, what it checks and advice', () => {
    const ids = RULES.map((r) => r.id);
    assert.equal(new Set(ids).size, ids.length, 'ids are unique');
    for (const r of RULES) {
      assert.match(r.id, /^[a-z0-9]+(-[a-z0-9]+)+$/, r.id);
      assert.ok(['blocker', 'warning', 'info'].includes(r.severity), r.id);
      assert.ok(r.title.length > 3 && r.checks.length > 20 && r.advice.length > 20, `${r.id} is documented`);
      assert.equal(findRule(r.id), r);
    }
    assert.equal(findRule('no-such-rule'), undefined);
    assert.equal(getRule('source-wal-level').severity, 'blocker');
    assert.equal(appliesTo(getRule('source-wal-level'), 'full-load'), false);
    assert.equal(appliesTo(getRule('source-wal-level'), 'cdc'), true);
    assert.equal(appliesTo(getRule('endpoint-pg-hba'), 'full-load'), true);
  });

  it('Aurora extension lists for majors 13–17, with the nearest list for others', () => {
    assert.deepEqual(Object.keys(AURORA_EXTENSIONS).map(Number), [13, 14, 15, 16, 17]);
    for (const list of Object.values(AURORA_EXTENSIONS)) {
      for (const name of ['plpgsql', 'postgis', 'pg_stat_statements', 'pgcrypto', 'vector']) {
        assert.ok(list.includes(name), name);
      }
      for (const name of ['file_fdw', 'plpython3u', 'timescaledb', 'adminpack'])
        assert.ok(!list.includes(name), name);
    }
    assert.ok(auroraExtensions(15).extensions.has('pg_walinspect'));
    assert.ok(!auroraExtensions(14).extensions.has('pg_walinspect'));
    assert.deepEqual([auroraExtensions(12).major, auroraExtensions(12).exact], [13, false]);
    assert.deepEqual([auroraExtensions(18).major, auroraExtensions(18).exact], [17, false]);
    assert.equal(auroraExtensions(16).exact, true);
  });

  it('narrowing: what loses range, precision or length, and what does not', () => {
    const narrows: [string, string][] = [
      ['bigint', 'integer'],
      ['integer', 'smallint'],
      ['integer', 'numeric(5,0)'],
      ['bigint', 'double precision'],
      ['numeric(12,2)', 'numeric(12,1)'],
      ['numeric(12,2)', 'numeric(8,2)'],
      ['numeric', 'numeric(38,10)'],
      ['numeric(12,2)', 'integer'],
      ['numeric(12,0)', 'integer'],
      ['numeric(20,4)', 'double precision'],
      ['double precision', 'real'],
      ['double precision', 'numeric(10,2)'],
      ['text', 'character varying(100)'],
      ['character varying(50)', 'character varying(10)'],
      ['timestamp with time zone', 'timestamp without time zone'],
      ['timestamp(6) without time zone', 'timestamp(0) without time zone'],
      ['timestamp without time zone', 'date'],
      ['uuid', 'character varying(10)'],
    ];
    for (const [from, to] of narrows) assert.ok(narrowing(from, to), `${from} → ${to} narrows`);
    const fine: [string, string][] = [
      ['integer', 'bigint'],
      ['smallint', 'numeric(5,0)'],
      ['integer', 'numeric'],
      ['numeric(12,2)', 'numeric(14,2)'],
      ['numeric(12,2)', 'numeric'],
      ['numeric(9,0)', 'integer'],
      ['numeric(6,2)', 'real'],
      ['character varying(10)', 'character varying(100)'],
      ['character varying(10)', 'text'],
      ['integer', 'text'],
      ['timestamp(3) without time zone', 'timestamp(6) without time zone'],
      ['date', 'character varying(10)'],
      ['boolean', 'text'],
    ];
    for (const [from, to] of fine) assert.equal(narrowing(from, to), undefined, `${from} → ${to} is fine`);
  });

  it('CDC preflight findings map to rules by object and fix', () => {
    const cases: [Parameters<typeof classify>[0], string, string][] = [
      [
        { severity: 'error', object: 'setting wal_level', message: '', advice: '' },
        'source-wal-level',
        'parameter:wal_level',
      ],
      [
        { severity: 'error', object: 'role ferry', message: '', advice: '' },
        'source-replication-privilege',
        'role:ferry',
      ],
      [
        { severity: 'error', object: 'server', message: 'is a standby', advice: '' },
        'cdc-server',
        'endpoint:onsite',
      ],
      [
        {
          severity: 'error',
          object: 'table public.t',
          message: '',
          advice: 'ALTER TABLE "public"."t" SET LOGGED',
        },
        'cdc-unlogged-table',
        'table:public.t',
      ],
      [
        {
          severity: 'error',
          object: 'table public.t',
          message: '',
          advice: 'GRANT USAGE ON SCHEMA "public" TO "x"; GRANT SELECT ...',
        },
        'source-select-privilege',
        'table:public.t',
      ],
      [
        {
          severity: 'error',
          object: 'table public.t',
          message: '',
          advice: 'add a primary key (...), or ... REPLICA IDENTITY FULL',
        },
        'cdc-replica-identity',
        'table:public.t',
      ],
      [
        {
          severity: 'error',
          object: 'table public.p',
          message: 'partitioned',
          advice: 'select its partitions as tables instead',
        },
        'cdc-server',
        'table:public.p',
      ],
      [{ severity: 'error', object: 'slot x', message: '', advice: '' }, 'cdc-slot', 'slot:x'],
      [{ severity: 'warning', object: 'slot x', message: '', advice: '' }, 'cdc-warning', 'slot:x'],
      [{ severity: 'info', object: 'publication p', message: '', advice: '' }, 'cdc-plan', 'publication:p'],
      [
        { severity: 'warning', object: 'view public.v', message: '', advice: '' },
        'cdc-view-not-captured',
        'table:public.v',
      ],
      [
        { severity: 'error', object: 'cdcStartPosition', message: '', advice: '' },
        'cdc-slot',
        'cdcStartPosition',
      ],
    ];
    for (const [f, id, object] of cases) assert.deepEqual(classify(f, 'onsite'), { id, object }, f.object);
  });

  it('connection errors no test server produces: no route, and a server starting up', () => {
    const unreachable = Object.assign(new Error('connect EHOSTUNREACH 10.0.0.1:5432'), {
      code: 'EHOSTUNREACH',
    });
    assert.equal(explainConnectError(unreachable, conn, 'source').id, 'endpoint-no-route');
    const starting = Object.assign(new Error('the database system is starting up'), { code: '57P03' });
    const r = explainConnectError(starting, conn, 'target');
    assert.equal(r.id, 'endpoint-unavailable');
    assert.match(r.message, /^target endpoint onsite/);
    const leaky = Object.assign(new Error('password secret-password refused'), { code: '28P01' });
    assert.ok(!explainConnectError(leaky, conn, 'source').message.includes('secret-password'));
  });

  it('findings: severity from the rule, one of each, sorted blocker → warning → info', () => {
    const f = new Findings();
    f.add('target-free-space', 'endpoint:b', 'size');
    f.add('type-money', 'column:public.t.m', 'money');
    f.add('source-wal-level', 'parameter:wal_level', 'replica', 'ALTER SYSTEM ...');
    f.add('source-wal-level', 'parameter:wal_level', 'replica', 'ALTER SYSTEM ...');
    f.ran('type-xml');
    const sorted = f.sorted();
    assert.deepEqual(
      sorted.map((x) => [x.severity, x.id]),
      [
        ['blocker', 'source-wal-level'],
        ['warning', 'type-money'],
        ['info', 'target-free-space'],
      ],
    );
    assert.equal(sorted[0].advice, 'ALTER SYSTEM ...');
    assert.equal(sorted[1].advice, getRule('type-money').advice, 'the rule advice when the finding has none');
    assert.equal(f.rulesRun, 4);
  });
});
