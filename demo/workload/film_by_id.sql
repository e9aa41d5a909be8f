-- healthy: film details by primary key
\set film random(1, :n_film)
SELECT film_id, title, description, release_year, rental_rate, length, rating FROM film WHERE film_id = :film;
