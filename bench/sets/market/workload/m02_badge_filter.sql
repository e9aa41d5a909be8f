\set k random(1, 8)
SELECT id, title, price FROM market.listings
WHERE badges ? (ARRAY['handmade','organic','fair_trade','vegan','recycled','limited_edition','local_pickup','gift_wrap'])[:k]
ORDER BY created_at DESC LIMIT 20;
