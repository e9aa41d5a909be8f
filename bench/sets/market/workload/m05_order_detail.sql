\set o random(1, 1000000)
SELECT i.listing_id, l.title, i.qty, i.unit_price FROM market.order_items i JOIN market.listings l ON l.id = i.listing_id WHERE i.order_id = :o;
