\set s random_zipfian(1, 5000, 1.2)
SELECT id, customer_id, total, created_at FROM market.orders WHERE shop_id = :s AND status = 'paid' ORDER BY created_at LIMIT 50;
