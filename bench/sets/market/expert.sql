-- The index changes a senior DBA would make for the market workload (see workload/calls.tsv for why).
-- m01 facet filter: attrs is only ever queried with @>, so jsonb_path_ops (smaller and faster than the default)
CREATE INDEX ON market.listings USING gin (attrs jsonb_path_ops);
-- m02 badge filter: key existence (?) needs the default jsonb_ops
CREATE INDEX ON market.listings USING gin (badges);
-- m03 tag filter: array containment
CREATE INDEX ON market.listings USING gin (tags);
-- m04 a shop's listings, newest first: shops are skewed, so the sort must come from the index
CREATE INDEX ON market.listings (shop_id, created_at);
-- m05 the items of an order (missing foreign-key index)
CREATE INDEX ON market.order_items (order_id);
-- m08 the shop only, never last_seen_at: m07 writes it on every visit and must stay a HOT update
CREATE INDEX ON market.customers (shop_id);
-- m09 paid (awaiting shipment) is 2% of the orders
CREATE INDEX ON market.orders (shop_id, created_at) WHERE status = 'paid';
-- now a prefix of the (shop_id, created_at) index
DROP INDEX market.listings_shop_idx;
-- a prefix of orders_customer_created_idx
DROP INDEX market.orders_customer_idx;
-- never read
DROP INDEX market.customers_created_idx;
