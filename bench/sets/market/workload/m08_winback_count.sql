\set s random(1, 5000)
SELECT count(*) FROM market.customers WHERE shop_id = :s AND last_seen_at < timestamptz '2025-05-01';
