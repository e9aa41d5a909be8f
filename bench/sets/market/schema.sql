-- "market": a deterministic multi-shop marketplace schema and data set for measuring index advice.
-- Load into an empty database; takes about a minute on 2 cores. 5 tables, 6.2 M rows.
-- Shops are skewed (shop 1 has ~6% of the listings, customers and orders; most shops a few hundred rows),
-- order statuses are skewed (2% paid, i.e. awaiting shipment), listing attributes, badges and tags are skewed.
-- The data ends at 2025-11-01. Only primary keys are created here: run-bench.sh adds baseline-indexes.sql
-- before the first run.
DROP SCHEMA IF EXISTS market CASCADE;
CREATE SCHEMA market;
SET search_path = market;
SELECT setseed(0.17);

CREATE TABLE shops (
  id int PRIMARY KEY,
  name text NOT NULL,
  country text NOT NULL,
  created_at timestamptz NOT NULL
);
INSERT INTO shops
SELECT n, 'Shop ' || n, (ARRAY['DE','FR','US','US','GB','IT','ES','NL','PL','JP'])[1 + n % 10],
       timestamptz '2020-01-01' + n * interval '5 hours'
FROM generate_series(1, 5000) n;

-- Customers: shop = 1 + floor(5000 u^3). last_seen_at is written on every visit (workload m07): fillfactor 90
-- leaves room on each page for HOT updates.
CREATE TABLE customers (
  id bigint PRIMARY KEY,
  shop_id int NOT NULL,
  email text NOT NULL,
  name text NOT NULL,
  created_at timestamptz NOT NULL,
  last_seen_at timestamptz NOT NULL
) WITH (fillfactor = 90);
INSERT INTO customers
SELECT n, 1 + floor(5000 * power((hashint4(n) & 2147483647)::float8 / 2147483648, 3))::int,
       'u' || n || '@mail.example',
       (ARRAY['Anna','Ben','Chloe','David','Emma','Felix','Grace','Hugo','Ines','Jonas','Karin','Liam'])[1 + n % 12] || ' '
         || (ARRAY['Smith','Jones','Garcia','Müller','Rossi','Tanaka','Dubois','Kowalski','Nguyen','Silva'])[1 + (n / 12) % 10],
       ts, ts + ((hashint4(n + 1) & 2147483647) % greatest(1, extract(epoch FROM timestamptz '2025-11-01' - ts)::int)) * interval '1 second'
FROM (SELECT n, timestamptz '2022-01-01' + (n - 1) * interval '100 seconds' AS ts FROM generate_series(1, 1200000) n) s;

-- Listings: one a minute up to 2025-11-01. attrs (brand, color, size, material, condition) is filtered with @> only;
-- badges is a set of rare flags (4% of the listings have any) asked with ?; tags: one style (skewed) and 1-2 items.
CREATE TABLE listings (
  id bigint PRIMARY KEY,
  shop_id int NOT NULL,
  category_id int NOT NULL,
  title text NOT NULL,
  price numeric(10,2) NOT NULL,
  status text NOT NULL,
  attrs jsonb NOT NULL,
  badges jsonb NOT NULL DEFAULT '{}',
  tags text[] NOT NULL,
  created_at timestamptz NOT NULL
);
INSERT INTO listings
SELECT n,
       1 + floor(5000 * power(h1::float8 / 2147483648, 3))::int,
       1 + floor(300 * power(h2::float8 / 2147483648, 2))::int,
       initcap(style) || ' ' || item || ' no. ' || (n % 997),
       1 + (h3 % 50000) / 100.0,
       CASE WHEN h4 % 100 < 72 THEN 'active' WHEN h4 % 100 < 90 THEN 'sold' WHEN h4 % 100 < 94 THEN 'draft' ELSE 'archived' END,
       jsonb_build_object('brand', 'brand-' || (1 + floor(1500 * power(h5::float8 / 2147483648, 2))::int),
                          'color', (ARRAY['black','white','red','blue','green','yellow','brown','grey','pink','purple','orange','beige'])[1 + h6 % 12],
                          'size', (ARRAY['XS','S','M','L','XL','one-size'])[1 + h6 / 12 % 6],
                          'material', (ARRAY['cotton','wool','leather','wood','metal','glass','ceramic','plastic','linen','silk'])[1 + h6 / 72 % 10],
                          'condition', CASE WHEN random() < 0.6 THEN 'new' WHEN random() < 0.7 THEN 'used' ELSE 'refurbished' END),
       CASE WHEN h7 % 1000 < 10 THEN jsonb_build_object(badge1, true, badge2, true)
            WHEN h7 % 1000 < 40 THEN jsonb_build_object(badge1, true)
            ELSE '{}' END,
       CASE WHEN h8 % 2 = 0 THEN ARRAY[style, item] ELSE ARRAY[style, item, item2] END,
       timestamptz '2025-11-01' - (1500000 - n) * interval '1 minute'
FROM (SELECT n, h1, h2, h3, h4, h5, h6, h7, h8,
             (ARRAY['vintage','modern','boho','minimal','rustic','industrial','retro','classic','scandi','art-deco','coastal','farmhouse'])
               [1 + floor(12 * power(h9::float8 / 2147483648, 2))::int] AS style,
             items[1 + h10 % 60] AS item, items[1 + h11 % 60] AS item2,
             badges[1 + h7 % 8] AS badge1, badges[1 + (h7 / 8 + 3) % 8] AS badge2
      FROM (SELECT n, hashint4(n) & 2147483647 AS h1, hashint4(n + 1) & 2147483647 AS h2, hashint4(n + 2) & 2147483647 AS h3,
                   hashint4(n + 3) & 2147483647 AS h4, hashint4(n + 4) & 2147483647 AS h5, hashint4(n + 5) & 2147483647 AS h6,
                   hashint4(n + 6) & 2147483647 AS h7, hashint4(n + 7) & 2147483647 AS h8, hashint4(n + 8) & 2147483647 AS h9,
                   hashint4(n + 9) & 2147483647 AS h10, hashint4(n + 10) & 2147483647 AS h11,
                   ARRAY['lamp','chair','table','rug','mirror','vase','clock','shelf','desk','sofa','bed','stool','bench','cabinet',
                         'dresser','frame','poster','print','mug','bowl','plate','teapot','basket','blanket','pillow','curtain',
                         'candle','planter','sculpture','jewelry','ring','necklace','bracelet','earrings','watch','bag','wallet',
                         'belt','scarf','hat','jacket','dress','shirt','jeans','boots','sneakers','camera','radio','record','book',
                         'guitar','bicycle','toy','puzzle','game','knife','pan','kettle','glass','tray'] AS items,
                   ARRAY['handmade','organic','fair_trade','vegan','recycled','limited_edition','local_pickup','gift_wrap'] AS badges
            FROM generate_series(1, 1500000) n) h) s;

-- Orders: one every 90 s up to 2025-11-01; 2% paid (awaiting shipment), 5% shipped, 83% delivered, 6% cancelled, 4% refunded.
CREATE TABLE orders (
  id bigint PRIMARY KEY,
  shop_id int NOT NULL,
  customer_id bigint NOT NULL,
  status text NOT NULL,
  total numeric(12,2) NOT NULL,
  created_at timestamptz NOT NULL
);
INSERT INTO orders
SELECT n, 1 + floor(5000 * power((hashint4(n + 30) & 2147483647)::float8 / 2147483648, 3))::int,
       1 + (hashint4(n + 31) & 2147483647) % 1200000,
       CASE WHEN h % 100 < 2 THEN 'paid' WHEN h % 100 < 7 THEN 'shipped' WHEN h % 100 < 90 THEN 'delivered'
            WHEN h % 100 < 96 THEN 'cancelled' ELSE 'refunded' END,
       5 + (hashint4(n + 33) & 2147483647) % 40000 / 100.0,
       timestamptz '2025-11-01' - (1000000 - n) * interval '90 seconds'
FROM (SELECT n, hashint4(n + 32) & 2147483647 AS h FROM generate_series(1, 1000000) n) s;

-- Order items: 1-4 per order (2.5 on average), stored in order.
CREATE TABLE order_items (
  id bigint PRIMARY KEY,
  order_id bigint NOT NULL,
  listing_id bigint NOT NULL,
  qty int NOT NULL,
  unit_price numeric(10,2) NOT NULL
);
INSERT INTO order_items
SELECT row_number() OVER (ORDER BY o, k), o, 1 + (hashint4(o * 4 + k) & 2147483647) % 1500000,
       1 + (hashint4(o * 4 + k + 1) & 2147483647) % 3 / 2, 1 + (hashint4(o * 4 + k + 2) & 2147483647) % 20000 / 100.0
FROM generate_series(1, 1000000) o, generate_series(1, 1 + (hashint4(o + 40) & 3)) k;

ALTER TABLE customers ADD FOREIGN KEY (shop_id) REFERENCES shops(id);
ALTER TABLE listings ADD FOREIGN KEY (shop_id) REFERENCES shops(id);
ALTER TABLE orders ADD FOREIGN KEY (shop_id) REFERENCES shops(id);
ALTER TABLE orders ADD FOREIGN KEY (customer_id) REFERENCES customers(id);
ALTER TABLE order_items ADD FOREIGN KEY (order_id) REFERENCES orders(id);
ALTER TABLE order_items ADD FOREIGN KEY (listing_id) REFERENCES listings(id);

VACUUM ANALYZE;
