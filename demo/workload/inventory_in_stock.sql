-- healthy: is a copy in stock? (rental(inventory_id) is indexed)
\set inv random(1, :n_inventory)
SELECT count(*) AS out_now FROM rental WHERE inventory_id = :inv AND return_date IS NULL;
