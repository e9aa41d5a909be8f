\set b random(1, 1500)
\set c random(1, 12)
SELECT id, title, price FROM market.listings
WHERE attrs @> jsonb_build_object('brand', 'brand-' || :b, 'color', (ARRAY['black','white','red','blue','green','yellow','brown','grey','pink','purple','orange','beige'])[:c])
  AND status = 'active'
ORDER BY price LIMIT 48;
