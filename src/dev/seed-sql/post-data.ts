// Post-data DDL of the sample "shop" database: foreign keys, secondary indexes, triggers (and the
// repricing that fires one), views, a materialized view, comments, and sequences moved past the data.

export const FOREIGN_KEYS = `
ALTER TABLE hr.departments ADD CONSTRAINT departments_parent_id_fkey
  FOREIGN KEY (parent_id) REFERENCES hr.departments (id);
ALTER TABLE hr.employees ADD CONSTRAINT employees_department_id_fkey
  FOREIGN KEY (department_id) REFERENCES hr.departments (id) ON DELETE SET NULL;
ALTER TABLE hr.employees ADD CONSTRAINT employees_manager_id_fkey
  FOREIGN KEY (manager_id) REFERENCES hr.employees (id);
ALTER TABLE hr.timesheets ADD CONSTRAINT timesheets_employee_id_fkey
  FOREIGN KEY (employee_id) REFERENCES hr.employees (id) ON DELETE CASCADE;
ALTER TABLE inventory.categories ADD CONSTRAINT categories_parent_id_fkey
  FOREIGN KEY (parent_id) REFERENCES inventory.categories (id);
ALTER TABLE inventory.warehouses ADD CONSTRAINT warehouses_country_code_fkey
  FOREIGN KEY (country_code) REFERENCES public.countries (code);
ALTER TABLE inventory.suppliers ADD CONSTRAINT suppliers_country_code_fkey
  FOREIGN KEY (country_code) REFERENCES public.countries (code);
ALTER TABLE inventory.products ADD CONSTRAINT products_category_id_fkey
  FOREIGN KEY (category_id) REFERENCES inventory.categories (id);
ALTER TABLE inventory.products ADD CONSTRAINT products_supplier_id_fkey
  FOREIGN KEY (supplier_id) REFERENCES inventory.suppliers (id);
ALTER TABLE inventory.stock ADD CONSTRAINT stock_warehouse_id_fkey
  FOREIGN KEY (warehouse_id) REFERENCES inventory.warehouses (id);
ALTER TABLE inventory.stock ADD CONSTRAINT stock_product_id_fkey
  FOREIGN KEY (product_id) REFERENCES inventory.products (id) ON DELETE CASCADE;
ALTER TABLE inventory.product_images ADD CONSTRAINT product_images_product_id_fkey
  FOREIGN KEY (product_id) REFERENCES inventory.products (id) ON DELETE CASCADE;
ALTER TABLE sales.customers ADD CONSTRAINT customers_country_code_fkey
  FOREIGN KEY (country_code) REFERENCES public.countries (code);
ALTER TABLE sales.orders ADD CONSTRAINT orders_customer_id_fkey
  FOREIGN KEY (customer_id) REFERENCES sales.customers (id);
ALTER TABLE sales.orders ADD CONSTRAINT orders_sales_rep_id_fkey
  FOREIGN KEY (sales_rep_id) REFERENCES hr.employees (id) ON DELETE SET NULL;
ALTER TABLE sales."Order Items" ADD CONSTRAINT "Order Items_order_id_fkey"
  FOREIGN KEY (order_id) REFERENCES sales.orders (id) ON DELETE CASCADE;
ALTER TABLE sales."Order Items" ADD CONSTRAINT "Order Items_product_id_fkey"
  FOREIGN KEY (product_id) REFERENCES inventory.products (id);
-- A foreign key on a partitioned table (PostgreSQL 11+), cloned onto every partition.
ALTER TABLE sales.payments ADD CONSTRAINT payments_order_id_fkey
  FOREIGN KEY (order_id) REFERENCES sales.orders (id);
-- Deferrable: a loader that disables nothing and inserts invoices before orders in one transaction still works.
ALTER TABLE sales.invoices ADD CONSTRAINT invoices_order_id_fkey
  FOREIGN KEY (order_id) REFERENCES sales.orders (id) DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE audit.price_changes ADD CONSTRAINT price_changes_product_id_fkey
  FOREIGN KEY (product_id) REFERENCES inventory.products (id);
ALTER TABLE "Legacy"."CustomerNotes" ADD CONSTRAINT "FK_CustomerNotes_Customers"
  FOREIGN KEY ("CustomerId") REFERENCES sales.customers (id);
`;

export const INDEXES = `
CREATE INDEX orders_customer_id_idx ON sales.orders (customer_id);
CREATE INDEX orders_ordered_at_idx ON sales.orders (ordered_at);
CREATE INDEX orders_pending_idx ON sales.orders (ordered_at) WHERE status = 'pending';
CREATE INDEX order_items_product_id_idx ON sales."Order Items" (product_id);
CREATE INDEX customers_email_lower_idx ON sales.customers (lower(email));
CREATE INDEX customers_tags_gin ON sales.customers USING gin (tags);
CREATE INDEX products_attributes_gin ON inventory.products USING gin (attributes jsonb_path_ops);
CREATE INDEX products_category_id_idx ON inventory.products (category_id) INCLUDE ("UnitPrice");
CREATE INDEX payments_order_id_idx ON sales.payments (order_id);
CREATE INDEX employees_department_id_idx ON hr.employees (department_id);
CREATE INDEX events_log_occurred_at_brin ON audit.events_log USING brin (occurred_at);
CREATE INDEX events_log_row_idx ON audit.events_log (table_name, row_id);
CREATE INDEX "IX_CustomerNotes_CustomerId" ON "Legacy"."CustomerNotes" ("CustomerId");
`;

export const TRIGGERS = `
CREATE FUNCTION inventory.log_price_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- changed_at comes from the row, not now(), so a reseed writes the same rows.
  INSERT INTO audit.price_changes (product_id, old_price, new_price, changed_at, changed_by)
  VALUES (NEW.id, OLD."UnitPrice", NEW."UnitPrice", coalesce(NEW.updated_at, now()),
          nullif(current_setting('ferry.changed_by', true), ''));
  RETURN NULL;
END
$$;
CREATE TRIGGER log_price_change AFTER UPDATE OF "UnitPrice" ON inventory.products
  FOR EACH ROW WHEN (OLD."UnitPrice" IS DISTINCT FROM NEW."UnitPrice")
  EXECUTE FUNCTION inventory.log_price_change();

CREATE FUNCTION public.touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END
$$;
-- Fires for later updates only (none during the seed): a CDC apply that does not run as a replica fires it too.
CREATE TRIGGER touch_updated_at BEFORE UPDATE ON sales.customers
  FOR EACH ROW EXECUTE FUNCTION public.touch_updated_at();
`;

/** Two repricing rounds that fire log_price_change, one attributed, one not (changed_by NULL). */
export const REPRICING = `
SELECT set_config('ferry.changed_by', 'price-bot', true);
UPDATE inventory.products
   SET "UnitPrice" = round("UnitPrice" * 1.05, 2),
       updated_at = timestamptz '2025-01-15 09:00:00+00' + id * interval '1 second'
 WHERE id % 10 = 1;
SELECT set_config('ferry.changed_by', '', true);
UPDATE inventory.products
   SET "UnitPrice" = CASE WHEN id % 3 = 0 THEN NULL ELSE round(coalesce("UnitPrice", 9.99) * 0.9, 2) END,
       updated_at = timestamptz '2025-03-01 12:00:00+00' + id * interval '1 second'
 WHERE id % 10 = 5 OR "UnitPrice" IS NULL;
`;

export const VIEWS = `
-- Joins three tables; grouping by the primary keys lets it select their other columns (a view that
-- depends on a primary key constraint, which a restore must create first).
CREATE VIEW sales.order_summary AS
SELECT o.id AS order_id, o.status, o.ordered_at, c.id AS customer_id, c.full_name, c.country_code,
       count(i."order") AS line_count, sum(i.quantity) AS units, sum(i.line_total) AS items_total, o.total
  FROM sales.orders o
  JOIN sales.customers c ON c.id = o.customer_id
  LEFT JOIN sales."Order Items" i ON i.order_id = o.id
 GROUP BY o.id, c.id;

CREATE VIEW inventory.product_stock AS
SELECT p.id AS product_id, p.sku, p.name, p."UnitPrice", p."größe", w.code AS warehouse, s.quantity,
       s.quantity <= coalesce(s.reorder_level, 0) AS needs_reorder
  FROM inventory.products p
  JOIN inventory.stock s ON s.product_id = p.id
  JOIN inventory.warehouses w ON w.id = s.warehouse_id;

-- An updatable view with a check option.
CREATE VIEW sales.active_customers AS
SELECT id, external_id, email, full_name, "user", country_code, is_active
  FROM sales.customers
 WHERE is_active
  WITH LOCAL CHECK OPTION;

CREATE MATERIALIZED VIEW sales.monthly_revenue AS
SELECT date_trunc('month', paid_at AT TIME ZONE 'UTC')::date AS month, count(*) AS payments, sum(amount) AS revenue
  FROM sales.payments
 GROUP BY 1
WITH DATA;
CREATE UNIQUE INDEX monthly_revenue_month_idx ON sales.monthly_revenue (month);
`;

export const COMMENTS = `
COMMENT ON SCHEMA sales IS 'Web shop: customers, orders, payments, invoices';
COMMENT ON SCHEMA "Legacy" IS 'Tables of the old CRM, kept with their mixed-case names';
COMMENT ON TYPE sales.order_status IS 'Life cycle of an order';
COMMENT ON TABLE sales."Order Items" IS 'One line per product on an order; "order" is the line''s position';
COMMENT ON COLUMN sales."Order Items"."UnitPrice" IS 'Price when ordered, copied from inventory.products';
COMMENT ON COLUMN sales.customers."user" IS 'Login name (a reserved word as column name)';
COMMENT ON COLUMN inventory.products."größe" IS 'Size label (German: Größe)';
COMMENT ON TABLE audit.events_log IS 'Append-only application log. No primary key and exact duplicate rows on purpose: '
  'logical replication of its updates and deletes needs REPLICA IDENTITY FULL.';
COMMENT ON VIEW sales.order_summary IS 'Orders with their customer and item totals';
COMMENT ON MATERIALIZED VIEW sales.monthly_revenue IS 'Payments per calendar month (UTC)';
COMMENT ON SEQUENCE inventory.image_id_seq IS 'Image ids step by 10; not owned by a column';
`;

/**
 * Move every column-owned sequence (serial, identity, OWNED BY) past the largest value in its column,
 * plus the free-standing image sequence: rows were inserted with explicit ids.
 */
export const SEQUENCES = `
DO $$
DECLARE
  r record;
  m bigint;
BEGIN
  FOR r IN
    SELECT s.oid::regclass AS seq, t.oid::regclass AS tbl, a.attname
      FROM pg_class s
      JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.oid
                      AND d.refclassid = 'pg_class'::regclass AND d.refobjsubid > 0 AND d.deptype IN ('a', 'i')
      JOIN pg_class t ON t.oid = d.refobjid
      JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
     WHERE s.relkind = 'S'
  LOOP
    EXECUTE format('SELECT max(%I) FROM %s', r.attname, r.tbl) INTO m;
    IF m IS NOT NULL THEN
      PERFORM setval(r.seq, m);
    END IF;
  END LOOP;
END
$$;
SELECT setval('inventory.image_id_seq', (SELECT max(id) FROM inventory.product_images));
`;
