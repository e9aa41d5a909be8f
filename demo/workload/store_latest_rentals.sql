-- ORDER BY ... LIMIT without a usable index: a store's 10 latest rentals (no index on rental(rental_date))
\set store random(1, :n_store)
SELECT r.rental_id, r.rental_date, f.title, c.last_name
FROM rental r
JOIN inventory i ON i.inventory_id = r.inventory_id
JOIN film f ON f.film_id = i.film_id
JOIN customer c ON c.customer_id = r.customer_id
WHERE i.store_id = :store
ORDER BY r.rental_date DESC
LIMIT 10;
