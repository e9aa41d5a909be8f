-- The secondary indexes the app had before tuning (primary keys come from schema.sql); run-bench.sh restores exactly these between runs.
CREATE INDEX listings_shop_idx ON market.listings (shop_id);
CREATE INDEX orders_customer_created_idx ON market.orders (customer_id, created_at);
CREATE INDEX orders_customer_idx ON market.orders (customer_id);
CREATE INDEX customers_created_idx ON market.customers (created_at);
