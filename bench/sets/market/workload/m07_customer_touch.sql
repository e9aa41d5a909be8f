\set c random(1, 1200000)
UPDATE market.customers SET last_seen_at = now() WHERE id = :c;
