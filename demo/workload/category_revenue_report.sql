-- join/aggregate report: revenue per category over 30 days
\set d random(0, 330)
SELECT c.name AS category, count(*) AS rentals, sum(p.amount) AS revenue
FROM payment p
JOIN rental r ON r.rental_id = p.rental_id
JOIN inventory i ON i.inventory_id = r.inventory_id
JOIN film_category fc ON fc.film_id = i.film_id
JOIN category c ON c.category_id = fc.category_id
WHERE p.payment_date >= timestamptz '2022-01-01 00:00+00' + make_interval(days => :d)
  AND p.payment_date <  timestamptz '2022-01-31 00:00+00' + make_interval(days => :d)
GROUP BY c.name
ORDER BY revenue DESC;
