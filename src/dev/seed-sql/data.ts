// Data load of the sample "shop" database: one INSERT ... SELECT generate_series per table, generated on
// the server from md5-based pseudo-random values (random.ts), so every run at one scale is identical.
import { choose, literal, longDecimal, orNull, pick, rnd, timestampBetween } from './random';
import {
  ADJECTIVES,
  AWKWARD_TEXTS,
  CITIES,
  COLORS,
  COUNTRIES,
  COUNTRY_CODES,
  FIRST_NAMES,
  LAST_NAMES,
  NOUNS,
  SIZES,
  STREETS,
  TAGS,
} from './values';

/** Row counts of the tables generated from a count (the other tables are fixed or derived). */
export interface SeedCounts {
  employees: number;
  timesheets: number;
  suppliers: number;
  products: number;
  /** Small images; the three big ones come on top. */
  productImages: number;
  /** Small documents; the five big ones come on top. */
  documents: number;
  customers: number;
  orders: number;
  events: number;
  customerNotes: number;
}

/** Counts at scale 1; each is multiplied by the scale. */
export const BASE_COUNTS: Readonly<SeedCounts> = {
  employees: 100,
  timesheets: 5_000,
  suppliers: 50,
  products: 1_000,
  productImages: 500,
  documents: 50,
  customers: 2_000,
  orders: 10_000,
  events: 8_000,
  customerNotes: 500,
};

export function seedCounts(scale: number): SeedCounts {
  const out = {} as SeedCounts;
  for (const [k, v] of Object.entries(BASE_COUNTS) as [keyof SeedCounts, number][]) {
    out[k] = Math.round(v * scale);
  }
  return out;
}

/**
 * Sizes of the rows that exercise TOAST, fixed at every scale (they would dominate the size otherwise).
 * Images are md5 output decoded to bytes, so they do not compress and stay > 1 MiB on disk too.
 */
export const BIG_IMAGE_BYTES = [1_153_440, 1_415_568, 1_677_728] as const; // 1.1, 1.35, 1.6 MiB
export const BIG_DOCUMENT_CHARS = [70_000, 80_000, 100_000, 120_000] as const;

export interface LoadStep {
  /** Qualified, quoted table name the step fills. */
  table: string;
  sql: string;
}

const ORDER_EPOCH = '2021-07-01 00:00:00+00';
/** Orders span four years: the payments of mid-2021 and 2025 land in the default partition. */
const ORDER_DAYS = 4 * 365;
/** Orders in these states were paid, so they have payments and an invoice. */
const PAID_STATES = `('paid', 'shipped', 'delivered', 'refunded')`;

const sqlValue = (v: string | boolean | null) =>
  v === null ? 'NULL' : typeof v === 'boolean' ? String(v) : literal(v);

export function loadSteps(n: SeedCounts): LoadStep[] {
  return [
    { table: 'public.countries', sql: countries() },
    { table: 'public.app_settings', sql: appSettings() },
    { table: 'public.documents', sql: documents(n) },
    { table: 'hr.departments', sql: departments() },
    { table: 'hr.employees', sql: employees(n) },
    { table: 'hr.timesheets', sql: timesheets(n) },
    { table: 'inventory.categories', sql: categories() },
    { table: 'inventory.warehouses', sql: warehouses() },
    { table: 'inventory.suppliers', sql: suppliers(n) },
    { table: 'inventory.products', sql: products(n) },
    { table: 'inventory.stock', sql: stock(n) },
    { table: 'inventory.product_images', sql: productImages(n) },
    { table: 'sales.customers', sql: customers(n) },
    // Items before orders: order totals are sums of their items, and foreign keys come after the load.
    { table: 'sales."Order Items"', sql: orderItems(n) },
    { table: 'sales.orders', sql: orders(n) },
    { table: 'sales.payments', sql: payments() },
    { table: 'sales.invoices', sql: invoices() },
    { table: 'audit.events_log', sql: eventsLog(n) },
    { table: '"Legacy"."CustomerNotes"', sql: customerNotes(n) },
  ];
}

function countries(): string {
  const rows = COUNTRIES.map((r) => `(${r.map(sqlValue).join(', ')})`);
  return `INSERT INTO public.countries (code, name, currency, phone_prefix, eu_member) VALUES\n  ${rows.join(',\n  ')}`;
}

function appSettings(): string {
  return `
INSERT INTO public.app_settings (key, value, raw, updated_at)
SELECT 'shop.setting_' || lpad(g::text, 2, '0'),
  CASE WHEN g % 5 = 0 THEN NULL
       ELSE jsonb_build_object('enabled', g % 2 = 0, 'limit', g * 10, 'labels', jsonb_build_array('a', g, NULL)) END,
  -- json (not jsonb) keeps duplicate keys, key order and whitespace: a copy must keep them byte for byte.
  CASE WHEN g % 4 = 1 THEN NULL
       ELSE format('{"v": %s,  "v": %s, "note" : "duplicate keys and  spacing survive in json"}', g, g + 1)::json END,
  CASE WHEN g % 6 = 0 THEN NULL ELSE timestamptz '2024-01-01 00:00:00+00' + g * interval '1 day 1 hour' END
FROM generate_series(1, 12) g
UNION ALL
SELECT 'quoted "key" with ' || chr(92) || ' backslash and ''apostrophe''',
  '{"nested": {"deep": [1, 2.5, "x", null, true], "unicode": "größe 🙂"}}'::jsonb,
  '[]'::json,
  timestamptz '2024-02-29 12:00:00+00'`;
}

function documents(n: SeedCounts): string {
  const big = BIG_DOCUMENT_CHARS.map((chars, i) => `(${i + 1}, ${chars})`).join(', ');
  const words = [literal('lorem'), literal('ipsum'), literal('dolor'), literal('sit'), literal('amet')];
  return `
INSERT INTO public.documents (id, title, body, language, metadata, created_at, is_published) OVERRIDING SYSTEM VALUE
SELECT big.d, 'Handbook volume ' || big.d,
  -- Text over 64 KiB: lines of md5 hex, which pglz barely compresses, so the value is stored out of line.
  (SELECT left(string_agg(format('§%s %s %s', k, md5(big.d || '/' || k), md5(k || '/' || big.d)), chr(10) ORDER BY k),
               big.chars)
     FROM generate_series(1, big.chars / 60 + 1) k),
  'en', jsonb_build_object('pages', big.chars / 3000, 'confidential', big.d % 2 = 0),
  timestamptz '2020-01-01 00:00:00+00' + big.d * interval '30 days', true
FROM (VALUES ${big}) AS big(d, chars)
UNION ALL
SELECT ${BIG_DOCUMENT_CHARS.length} + g, 'Note ' || g || ': ' || ${choose('g', 1, NOUNS)},
  ${orNull(`repeat(${choose('g', 2, words)} || ' ', ${pick('g', 3, 1, 200)}) || ${choose('g', 4, AWKWARD_TEXTS)}`, 'g', 5)},
  ${orNull(choose('g', 6, ["'en'", "'de'", "'fr'", "'ja'"]), 'g', 7)},
  ${orNull(`jsonb_build_object('tags', to_jsonb(ARRAY[${choose('g', 8, TAGS)}]), 'version', ${pick('g', 9, 1, 9)})`, 'g', 10)},
  ${orNull(timestampBetween('g', 11, '2020-01-01 00:00:00+00', 1500), 'g', 12)},
  ${orNull(`${rnd('g', 13)} < 0.7`, 'g', 14, 0.15)}
FROM generate_series(1, ${n.documents}) g`;
}

function departments(): string {
  const names = [
    'Executive',
    'Sales',
    'Marketing',
    'Engineering',
    'Operations',
    'Finance',
    'Human Resources',
    'Customer Support',
    'Logistics',
    'Purchasing',
    'Legal',
    'Research & Development',
  ].map(literal);
  return `
INSERT INTO hr.departments (id, name, parent_id, budget, cost_center, created_on) OVERRIDING SYSTEM VALUE
SELECT g, (ARRAY[${names.join(', ')}])[g],
  CASE WHEN g = 1 THEN NULL WHEN g IN (9, 10) THEN 5 ELSE 1 END,
  CASE WHEN g % 5 = 0 THEN NULL ELSE (g * 123456.78)::numeric(12,2) END,
  CASE WHEN g % 7 = 0 THEN NULL ELSE 'CC-' || lpad(g::text, 4, '0') END,
  CASE WHEN g % 6 = 0 THEN NULL ELSE date '2015-01-01' + g * 37 END
FROM generate_series(1, ${names.length}) g`;
}

function employees(n: SeedCounts): string {
  const skills = ['sql', 'excel', 'negotiation', 'forklift', 'typescript', 'german', 'first aid'].map(
    literal,
  );
  return `
INSERT INTO hr.employees (id, department_id, manager_id, first_name, last_name, email, hired_on, salary, skills,
                          performance, photo, is_active)
SELECT g,
  ${orNull(pick('g', 1, 1, 12), 'g', 2)},
  CASE WHEN g = 1 THEN NULL WHEN g <= 10 THEN 1 ELSE ${pick('g', 3, 1, 10)} END,
  ${choose('g', 4, FIRST_NAMES)},
  ${choose('g', 5, LAST_NAMES)},
  ${orNull(`'employee' || g || '@shop.example'`, 'g', 6)},
  date '2010-01-01' + ${pick('g', 7, 0, 5000)},
  ${orNull(`round((30000 + ${rnd('g', 8)} * 90000)::numeric, 2)`, 'g', 9)},
  ${orNull(`CASE WHEN ${rnd('g', 10)} < 0.1 THEN '{}'::text[] ELSE ARRAY[${choose('g', 11, skills)}, ${choose('g', 12, skills)}] END`, 'g', 13)},
  ${orNull(`round(${rnd('g', 14)} * 5, 3)`, 'g', 15)},
  ${orNull(`decode(md5(g::text) || '00ff' || md5((g + 1)::text), 'hex')`, 'g', 16, 0.2)},
  g % 13 <> 0
FROM generate_series(1, ${n.employees}) g`;
}

function timesheets(n: SeedCounts): string {
  const notes = [...['remote', 'on site', 'training', 'sick leave'].map(literal), AWKWARD_TEXTS[1]];
  // Each employee gets consecutive work days: (employee, day) is unique by construction.
  return `
INSERT INTO hr.timesheets (employee_id, work_date, hours, started_at, break_taken, note)
SELECT 1 + (g - 1) % ${n.employees},
  date '2023-01-02' + ((g - 1) / ${n.employees})::int,
  ${orNull(`round((4 + ${rnd('g', 1)} * 6)::numeric, 2)`, 'g', 2)},
  ${orNull(`time '07:00' + ${pick('g', 3, 0, 180)} * interval '1 minute'`, 'g', 4)},
  ${orNull(`make_interval(mins => ${pick('g', 5, 0, 60)})`, 'g', 6)},
  ${orNull(choose('g', 7, notes), 'g', 8, 0.8)}
FROM generate_series(1, ${n.timesheets}) g`;
}

function categories(): string {
  const roots = ['Electronics', 'Home & Garden', 'Books', 'Clothing', 'Toys', 'Food & Drink'].map(literal);
  const arr = `(ARRAY[${roots.join(', ')}])`;
  return `
INSERT INTO inventory.categories (id, parent_id, name, path)
SELECT g, parent, name,
  CASE WHEN g % 11 = 0 THEN NULL WHEN parent IS NULL THEN ARRAY[name] ELSE ARRAY[${arr}[parent], name] END
FROM (
  SELECT g, CASE WHEN g <= 6 THEN NULL ELSE 1 + g % 6 END AS parent,
         CASE WHEN g <= 6 THEN ${arr}[g] ELSE ${arr}[1 + g % 6] || ' – line ' || g END AS name
  FROM generate_series(1, 30) g
) c`;
}

function warehouses(): string {
  return `
INSERT INTO inventory.warehouses (id, code, name, country_code, capacity, opened_on) VALUES
  (1, 'BER-1', 'Berlin Nord', 'DE', 12000, '2016-03-01'),
  (2, 'LYS-2', 'Lyon Sud', 'FR', 8000, NULL),
  (3, 'RNO-3', 'Reno "Big One"', 'US', NULL, '2019-09-15'),
  (4, 'OSA-4', '大阪 倉庫', 'JP', 5000, '2021-01-10'),
  (5, 'TMP-5', 'Overflow (temporary)', NULL, NULL, NULL)`;
}

function suppliers(n: SeedCounts): string {
  const suffixes = [' GmbH', ' Ltd', ' S.A.', ' & Söhne', ' "Best" Inc.', " O'Neill & Co"].map(literal);
  return `
INSERT INTO inventory.suppliers (id, name, country_code, contact, rating, created_at)
SELECT g, 'Supplier ' || g || ${choose('g', 1, suffixes)},
  ${orNull(choose('g', 2, COUNTRY_CODES), 'g', 3, 0.1)},
  ${orNull(
    `jsonb_build_object('email', 'sales@supplier' || g || '.example', 'phone', '+49 30 ' || ${pick('g', 4, 100000, 999999)},
       'address', jsonb_build_object('street', ${choose('g', 5, STREETS)}, 'city', ${choose('g', 6, CITIES)}),
       'fax', NULL, 'preferred', ${rnd('g', 7)} < 0.5)`,
    'g',
    8,
    0.1,
  )},
  ${orNull(pick('g', 9, 1, 5), 'g', 10, 0.1)},
  ${orNull(timestampBetween('g', 11, '2015-01-01 00:00:00+00', 2000), 'g', 12, 0.1)}
FROM generate_series(1, ${n.suppliers}) g`;
}

function products(n: SeedCounts): string {
  return `
INSERT INTO inventory.products (id, sku, name, category_id, supplier_id, "UnitPrice", "größe", weight_kg, attributes,
                                tags, description, discontinued, created_at, updated_at)
SELECT g, 'SKU-' || lpad(g::text, 8, '0'),
  ${choose('g', 1, ADJECTIVES)} || ' ' || ${choose('g', 2, NOUNS)} || ' #' || g,
  ${orNull(pick('g', 3, 7, 30), 'g', 4)},
  ${orNull(pick('g', 5, 1, n.suppliers), 'g', 6)},
  ${orNull(`round((1 + ${rnd('g', 7)} * 999)::numeric, 2)`, 'g', 8)},
  ${orNull(choose('g', 9, SIZES), 'g', 10, 0.3)},
  -- Unconstrained numeric: a different scale per row, plus NaN, a huge and a tiny value at fixed ids.
  CASE g WHEN 13 THEN 'NaN'::numeric
         WHEN 14 THEN 123456789012345678901234567890.123456789012345678901234567890
         WHEN 15 THEN 0.000000000000000000000000000001
         ELSE ${orNull(`round((${rnd('g', 11)} * 50)::numeric, 3 + g % 10)`, 'g', 12)} END,
  ${orNull(
    `jsonb_build_object('color', ${choose('g', 13, COLORS)},
       'dimensions', jsonb_build_object('w', ${pick('g', 14, 1, 200)}, 'h', ${pick('g', 15, 1, 200)}, 'd', ${pick('g', 16, 1, 200)}),
       'fragile', ${rnd('g', 17)} < 0.2,
       'ratings', jsonb_build_array(${pick('g', 18, 1, 5)}, ${pick('g', 19, 1, 5)}, NULL),
       'care', ${choose('g', 20, AWKWARD_TEXTS)})`,
    'g',
    21,
  )},
  ${orNull(`CASE WHEN ${rnd('g', 22)} < 0.1 THEN '{}'::text[] ELSE ARRAY[${choose('g', 23, TAGS)}, ${choose('g', 24, TAGS)}] END`, 'g', 25)},
  ${orNull(`${choose('g', 26, AWKWARD_TEXTS)} || ' ' || repeat('Lorem ipsum dolor sit amet. ', ${pick('g', 27, 0, 8)})`, 'g', 28, 0.1)},
  ${orNull(`${rnd('g', 29)} < 0.1`, 'g', 30)},
  ${orNull(timestampBetween('g', 31, '2018-01-01 00:00:00+00', 1200), 'g', 32)},
  ${orNull(timestampBetween('g', 33, '2021-06-01 00:00:00+00', 900), 'g', 34, 0.5)}
FROM generate_series(1, ${n.products}) g`;
}

function stock(n: SeedCounts): string {
  // Three warehouses per product: (warehouse, product) is unique by construction.
  return `
INSERT INTO inventory.stock (warehouse_id, product_id, quantity, bin_slots, reorder_level, counted_at)
SELECT 1 + (g - 1) / ${n.products}, 1 + (g - 1) % ${n.products},
  ${pick('g', 1, 0, 500)},
  ${orNull(
    `CASE WHEN ${rnd('g', 2)} < 0.05 THEN ARRAY[${pick('g', 3, 1, 99)}, NULL]
          WHEN ${rnd('g', 4)} < 0.05 THEN '{}'::int[]
          ELSE ARRAY[${pick('g', 5, 1, 99)}, ${pick('g', 6, 1, 99)}, ${pick('g', 7, 1, 99)}] END`,
    'g',
    8,
  )},
  ${orNull(pick('g', 9, 5, 50), 'g', 10)},
  ${orNull(timestampBetween('g', 11, '2024-01-01 00:00:00+00', 365), 'g', 12)}
FROM generate_series(1, ${3 * n.products}) g`;
}

function productImages(n: SeedCounts): string {
  const big = BIG_IMAGE_BYTES.map((bytes, i) => `(${i + 1}, ${bytes / 16})`).join(', ');
  const png = `decode('89504e470d0a1a0a', 'hex')`;
  return `
INSERT INTO inventory.product_images (id, product_id, mime_type, content, content_sha256, caption, created_at)
SELECT big.i * 10, big.i, 'image/png', c.content, sha256(c.content), 'Full-resolution scan ' || big.i,
  timestamptz '2022-03-01 00:00:00+00' + big.i * interval '1 hour'
FROM (VALUES ${big}) AS big(i, blocks)
CROSS JOIN LATERAL (
  -- Over 1 MiB of md5 output decoded to bytes: incompressible, so TOAST stores it out of line, uncompressed.
  SELECT decode(string_agg(md5(big.i || '/' || k), '' ORDER BY k), 'hex') AS content FROM generate_series(1, big.blocks) k
) c
UNION ALL
SELECT (${BIG_IMAGE_BYTES.length} + g) * 10, ${pick('g', 1, 1, n.products)},
  ${orNull(choose('g', 2, ["'image/png'", "'image/jpeg'", "'image/webp'"]), 'g', 3)},
  c.content,
  ${orNull('sha256(c.content)', 'g', 4)},
  ${orNull(choose('g', 5, AWKWARD_TEXTS), 'g', 6, 0.3)},
  ${orNull(timestampBetween('g', 7, '2021-01-01 00:00:00+00', 1000), 'g', 8)}
FROM generate_series(1, ${n.productImages}) g
CROSS JOIN LATERAL (
  SELECT ${png} || decode(string_agg(md5(g || '/' || k), '' ORDER BY k), 'hex') AS content
  FROM generate_series(1, ${pick('g', 9, 2, 30)}) k
) c`;
}

function customers(n: SeedCounts): string {
  const domains = ['example.com', 'mail.example', 'shop.example', 'bücher.example'].map(literal);
  const languages = ['en', 'de', 'fr', 'ja', 'pt-BR'].map(literal);
  return `
INSERT INTO sales.customers (id, external_id, email, full_name, "user", country_code, birth_date, preferences, tags,
                             loyalty_points, is_active, notes, created_at, updated_at) OVERRIDING SYSTEM VALUE
SELECT g, md5('customer/' || g)::uuid,
  ${orNull(`lower(translate(fn, ' ''', '')) || '.' || g || '@' || ${choose('g', 3, domains)}`, 'g', 4)},
  fn || ' ' || ln,
  ${orNull(`left(lower(left(fn, 1) || translate(ln, ' ', '_')) || g, 40)`, 'g', 5, 0.1)},
  ${orNull(choose('g', 6, COUNTRY_CODES), 'g', 7)},
  ${orNull(`date '1940-01-01' + ${pick('g', 8, 0, 23000)}`, 'g', 9, 0.2)},
  ${orNull(
    `jsonb_build_object('newsletter', ${rnd('g', 10)} < 0.5, 'language', ${choose('g', 11, languages)},
       'categories', jsonb_build_array(${pick('g', 12, 1, 30)}, ${pick('g', 13, 1, 30)}),
       'delivery_note', ${choose('g', 14, AWKWARD_TEXTS)}, 'score', ${rnd('g', 15)}::numeric)`,
    'g',
    16,
  )},
  ${orNull(`CASE WHEN ${rnd('g', 17)} < 0.15 THEN '{}'::text[] ELSE ARRAY[${choose('g', 18, TAGS)}, ${choose('g', 19, TAGS)}] END`, 'g', 20)},
  ${orNull(pick('g', 21, 0, 10000), 'g', 22)},
  ${orNull(`${rnd('g', 23)} < 0.9`, 'g', 24)},
  ${orNull(choose('g', 25, AWKWARD_TEXTS), 'g', 26, 0.7)},
  created,
  ${orNull(`created + ${pick('g', 27, 0, 900)} * interval '1 day'`, 'g', 28, 0.3)}
FROM (
  SELECT g, ${choose('g', 1, FIRST_NAMES)} AS fn, ${choose('g', 2, LAST_NAMES)} AS ln,
         ${timestampBetween('g', 29, '2019-01-01 00:00:00+00', 900)} AS created
  FROM generate_series(1, ${n.customers}) g
) s`;
}

function orderItems(n: SeedCounts): string {
  const messages = [...AWKWARD_TEXTS, literal('Happy birthday! 🎂'), literal('Alles Gute – von Oma')];
  // 1 to 5 lines per order (3 on average); k = order * 8 + line keys a line's random values.
  // Prefixed keys keep these draws independent of the orders' own (keyed by the bare id).
  return `
INSERT INTO sales."Order Items" (order_id, "order", product_id, quantity, "UnitPrice", discount, gift_message)
SELECT i.o, i.line, i.product_id,
  ${pick('i.k', 1, 1, 10)},
  p."UnitPrice",
  ${orNull(`CASE WHEN ${rnd('i.k', 2)} < 0.7 THEN 0 ELSE round((${rnd('i.k', 3)} * 0.3)::numeric, 4) END`, 'i.k', 4)},
  ${orNull(choose('i.k', 5, messages), 'i.k', 6, 0.9)}
FROM (
  SELECT o, line, 'item/' || (o * 8 + line) AS k, ${pick(`'item/' || (o * 8 + line)`, 7, 1, n.products)} AS product_id
  FROM generate_series(1, ${n.orders}) o
  CROSS JOIN LATERAL generate_series(1, ${pick(`'lines/' || o`, 1, 1, 5)}) line
) i
LEFT JOIN inventory.products p ON p.id = i.product_id
ORDER BY i.o, i.line`;
}

function orders(n: SeedCounts): string {
  const r = rnd('g', 1);
  const coupons = ['WELCOME10', 'SUMMER-2023', 'VIP', 'FREESHIP', 'BLACK FRIDAY'].map(literal);
  return `
INSERT INTO sales.orders (id, customer_id, sales_rep_id, status, ordered_at, shipped_on, total, currency,
                          shipping_address, coupon_codes, notes)
SELECT o.g, ${pick('o.g', 2, 1, n.customers)},
  ${orNull(pick('o.g', 3, 1, n.employees), 'o.g', 4, 0.3)},
  o.status, o.ordered_at,
  CASE WHEN o.status IN ('shipped', 'delivered', 'refunded')
       THEN (o.ordered_at AT TIME ZONE 'UTC')::date + ${pick('o.g', 5, 1, 7)} END,
  CASE WHEN o.g % 50 = 0 THEN NULL ELSE t.total END,
  ${orNull(choose('o.g', 6, ["'EUR'", "'USD'", "'GBP'", "'CHF'", "'JPY'"]), 'o.g', 7)},
  ${orNull(
    `jsonb_build_object('street', ${pick('o.g', 8, 1, 300)} || ' ' || ${choose('o.g', 9, STREETS)},
       'city', ${choose('o.g', 10, CITIES)}, 'zip', lpad(${pick('o.g', 11, 0, 99999)}::text, 5, '0'),
       'country', ${choose('o.g', 12, COUNTRY_CODES)})`,
    'o.g',
    14,
  )},
  ${orNull(`ARRAY[${choose('o.g', 15, coupons)}]`, 'o.g', 16, 0.6)},
  ${orNull(choose('o.g', 17, AWKWARD_TEXTS), 'o.g', 18, 0.9)}
FROM (
  SELECT g,
    (CASE WHEN ${r} < 0.05 THEN 'pending' WHEN ${r} < 0.10 THEN 'cancelled' WHEN ${r} < 0.13 THEN 'refunded'
          WHEN ${r} < 0.25 THEN 'paid' WHEN ${r} < 0.40 THEN 'shipped' ELSE 'delivered' END)::sales.order_status AS status,
    ${timestampBetween('g', 19, ORDER_EPOCH, ORDER_DAYS)} AS ordered_at
  FROM generate_series(1, ${n.orders}) g
) o
LEFT JOIN (SELECT order_id, sum(line_total) AS total FROM sales."Order Items" GROUP BY order_id) t ON t.order_id = o.g
ORDER BY o.g`;
}

function payments(): string {
  // One payment per paid order, two for about 5% (the second three days later); keyed by id * 2 + part.
  // exchange_rate is unconstrained numeric: mostly 6 decimals, 64 decimals for a fifth of the rows.
  const k = `'payment/' || (o.id * 2 + part)`;
  return `
INSERT INTO sales.payments (id, order_id, paid_at, amount, method, exchange_rate, details)
SELECT row_number() OVER (ORDER BY o.id, part), o.id,
  o.ordered_at + ${pick(k, 1, 0, 4320)} * interval '1 minute' + (part - 1) * interval '3 days',
  greatest(round(coalesce(o.total, 9.99) / o.parts, 2), 0.01),
  ${orNull(choose(k, 2, ["'card'", "'transfer'", "'paypal'", "'voucher'"]), k, 3)},
  ${orNull(`CASE WHEN ${rnd(k, 13)} < 0.2 THEN ${longDecimal(k, 4, pick(k, 5, 0, 2))} ELSE round(0.5 + ${rnd(k, 14)} * 1.5, 6) END`, k, 6, 0.1)},
  ${orNull(
    `jsonb_build_object('psp', ${choose(k, 7, ["'stripe'", "'adyen'", "'bank'"])},
       'card', jsonb_build_object('brand', ${choose(k, 8, ["'visa'", "'mastercard'", "'amex'"])},
                                  'last4', lpad(${pick(k, 9, 0, 9999)}::text, 4, '0')),
       '3ds', ${rnd(k, 10)} < 0.5)`,
    k,
    11,
    0.5,
  )}
FROM (
  SELECT o.*, CASE WHEN ${rnd(`'split/' || o.id`, 1)} < 0.05 THEN 2 ELSE 1 END AS parts
  FROM sales.orders o WHERE o.status IN ${PAID_STATES}
) o
CROSS JOIN LATERAL generate_series(1, o.parts) part
ORDER BY o.id, part`;
}

function invoices(): string {
  // Keyed apart from the order (same id, other prefix) so its values do not correlate with the order's.
  const inv = `'invoice/' || o.id`;
  // Invoiced on delivery: delivered orders and the refunded ones (which were delivered first).
  return `
INSERT INTO sales.invoices (id, order_id, number, issued_on, due_on, amount_due, pdf, paid)
SELECT md5('invoice/' || o.id)::uuid, o.id,
  'INV-' || to_char(o.ordered_at AT TIME ZONE 'UTC', 'YYYY') || '-' || lpad(o.id::text, greatest(7, length(o.id::text)), '0'),
  (o.ordered_at AT TIME ZONE 'UTC')::date,
  ${orNull(`(o.ordered_at AT TIME ZONE 'UTC')::date + 30`, inv, 1)},
  o.total,
  ${orNull(`convert_to('%PDF-1.4' || chr(10) || 'invoice ' || o.id, 'UTF8') || decode(md5('pdf/' || o.id), 'hex')`, inv, 2, 0.9)},
  ${orNull(`o.status <> 'refunded'`, inv, 3)}
FROM sales.orders o
WHERE o.status IN ('delivered', 'refunded')
ORDER BY o.id`;
}

function eventsLog(n: SeedCounts): string {
  const tables = [
    'sales.orders',
    'sales."Order Items"',
    'inventory.products',
    '"Legacy"."CustomerNotes"',
  ].map(literal);
  const actions = ['INSERT', 'UPDATE', 'DELETE', 'LOGIN', 'EXPORT'].map(literal);
  // Every 100th row repeats the row before it exactly (e = g - 1): duplicates a copy must keep.
  return `
INSERT INTO audit.events_log (occurred_at, actor, action, table_name, row_id, payload, client_addr, session_id, duration)
SELECT ${timestampBetween('e', 1, ORDER_EPOCH, ORDER_DAYS)},
  ${orNull(choose('e', 2, ["'system'", "'api'", "'admin'", `'user:' || ${pick('e', 3, 1, n.customers)}`]), 'e', 4)},
  ${choose('e', 5, actions)},
  ${orNull(choose('e', 6, tables), 'e', 7)},
  ${orNull(pick('e', 8, 1, n.orders), 'e', 9)},
  ${orNull(
    `jsonb_build_object('old', ${pick('e', 10, 1, 99)}, 'new', ${pick('e', 11, 1, 99)},
       'comment', CASE WHEN ${rnd('e', 12)} < 0.1 THEN ${choose('e', 23, AWKWARD_TEXTS)} END)`,
    'e',
    13,
  )},
  ${orNull(
    `CASE WHEN ${rnd('e', 14)} < 0.2 THEN ('2001:db8::' || to_hex(e / 65536) || ':' || to_hex(e % 65536))::inet
          ELSE (${pick('e', 15, 1, 223)} || '.' || ${pick('e', 16, 0, 255)} || '.' || ${pick('e', 17, 0, 255)} || '.'
                || ${pick('e', 18, 1, 254)})::inet END`,
    'e',
    19,
  )},
  ${orNull(`md5('session/' || (e / 10))::uuid`, 'e', 20)},
  ${orNull(`${pick('e', 21, 0, 5000)} * interval '1 millisecond'`, 'e', 22)}
FROM (SELECT g, CASE WHEN g % 100 = 0 THEN g - 1 ELSE g END AS e FROM generate_series(1, ${n.events}) g) s
ORDER BY g`;
}

function customerNotes(n: SeedCounts): string {
  return `
INSERT INTO "Legacy"."CustomerNotes" ("NoteId", "CustomerId", "NoteText", "CreatedAt", "IsPinned")
SELECT g, ${pick('g', 1, 1, n.customers)},
  ${orNull(`${choose('g', 2, AWKWARD_TEXTS)} || ' #' || g`, 'g', 3)},
  ${orNull(`timestamp '2020-01-01 00:00:00' + ${pick('g', 4, 0, 100_000_000)} * interval '1 second'`, 'g', 5)},
  ${orNull(`${rnd('g', 6)} < 0.1`, 'g', 7)}
FROM generate_series(1, ${n.customerNotes}) g`;
}
