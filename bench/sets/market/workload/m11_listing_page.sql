\set id random(1, 1500000)
SELECT l.id, l.title, l.price, l.attrs, l.tags, s.name AS shop FROM market.listings l JOIN market.shops s ON s.id = l.shop_id WHERE l.id = :id;
