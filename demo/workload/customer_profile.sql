-- healthy: a customer's profile with address, by primary key
\set cid random(1, :n_customer)
SELECT c.customer_id, c.first_name, c.last_name, c.email, a.address, a.phone, ci.city, co.country
FROM customer c
JOIN address a ON a.address_id = c.address_id
JOIN city ci ON ci.city_id = a.city_id
JOIN country co ON co.country_id = ci.country_id
WHERE c.customer_id = :cid;
