-- N+1: the "my rentals" page lists a customer's latest rentals (no index on rental(customer_id)),
-- then the application looks up each row's film title with one tiny query per row.
\set cid random(1, :n_customer)
SELECT rental_id, inventory_id, rental_date, return_date FROM rental WHERE customer_id = :cid ORDER BY rental_date DESC LIMIT 10;
\set i1 random(1, :n_inventory)
SELECT f.title FROM inventory i JOIN film f ON f.film_id = i.film_id WHERE i.inventory_id = :i1;
\set i2 random(1, :n_inventory)
SELECT f.title FROM inventory i JOIN film f ON f.film_id = i.film_id WHERE i.inventory_id = :i2;
\set i3 random(1, :n_inventory)
SELECT f.title FROM inventory i JOIN film f ON f.film_id = i.film_id WHERE i.inventory_id = :i3;
\set i4 random(1, :n_inventory)
SELECT f.title FROM inventory i JOIN film f ON f.film_id = i.film_id WHERE i.inventory_id = :i4;
\set i5 random(1, :n_inventory)
SELECT f.title FROM inventory i JOIN film f ON f.film_id = i.film_id WHERE i.inventory_id = :i5;
\set i6 random(1, :n_inventory)
SELECT f.title FROM inventory i JOIN film f ON f.film_id = i.film_id WHERE i.inventory_id = :i6;
\set i7 random(1, :n_inventory)
SELECT f.title FROM inventory i JOIN film f ON f.film_id = i.film_id WHERE i.inventory_id = :i7;
\set i8 random(1, :n_inventory)
SELECT f.title FROM inventory i JOIN film f ON f.film_id = i.film_id WHERE i.inventory_id = :i8;
\set i9 random(1, :n_inventory)
SELECT f.title FROM inventory i JOIN film f ON f.film_id = i.film_id WHERE i.inventory_id = :i9;
\set i10 random(1, :n_inventory)
SELECT f.title FROM inventory i JOIN film f ON f.film_id = i.film_id WHERE i.inventory_id = :i10;
