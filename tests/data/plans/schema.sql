-- The database tests/data/plans/*.json were taken from (see README.md).
SELECT setseed(0.42);
CREATE TABLE customers (
  id int PRIMARY KEY,
  email text NOT NULL,
  last_name text NOT NULL,
  city text,
  created_at timestamptz NOT NULL
);
INSERT INTO customers
SELECT g, 'user' || g || '@example.com', 'name' || (g % 5000), 'city' || (g % 200),
       timestamptz '2023-01-01' + (g || ' minutes')::interval
FROM generate_series(1, 50000) g;

CREATE TABLE orders (
  id bigint PRIMARY KEY,
  customer_id int NOT NULL REFERENCES customers(id),
  status text NOT NULL,
  amount numeric(10,2) NOT NULL,
  created_at timestamptz NOT NULL,
  note text,
  ref_code varchar(20)
);
INSERT INTO orders
SELECT g, 1 + (random() * 49999)::int,
       (ARRAY['new','paid','shipped','delivered','cancelled'])[1 + (g % 5)],
       round((random() * 1000)::numeric, 2),
       timestamptz '2024-01-01' + (random() * 365 * 86400) * interval '1 second',
       md5(g::text) || md5((g * 7)::text),
       'R' || g
FROM generate_series(1, 200000) g;
CREATE INDEX orders_created_at_idx ON orders (created_at);

CREATE TABLE small_t (id int PRIMARY KEY, name text NOT NULL, kind int NOT NULL);
INSERT INTO small_t SELECT g, 'n' || g, g % 10 FROM generate_series(1, 500) g;

CREATE EXTENSION IF NOT EXISTS hypopg;
CREATE TABLE t (a int NOT NULL, b int NOT NULL, c text);
INSERT INTO t SELECT g, (random() * 100000)::int, 'x' || g FROM generate_series(1, 100000) g;

VACUUM ANALYZE;
