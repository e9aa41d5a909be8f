\set c random(1, 1200000)
SELECT id, shop_id, status, total, created_at FROM market.orders WHERE customer_id = :c ORDER BY created_at DESC LIMIT 10;
