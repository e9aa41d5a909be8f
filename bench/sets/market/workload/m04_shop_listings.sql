\set s random_zipfian(1, 5000, 1.2)
SELECT id, title, price, status, created_at FROM market.listings WHERE shop_id = :s ORDER BY created_at DESC LIMIT 24;
