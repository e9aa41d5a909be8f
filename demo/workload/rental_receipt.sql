-- missing FK index: the receipt on a rental's detail page (no index on payment(rental_id))
\set rid random(1, :n_rental)
SELECT payment_id, amount, payment_date FROM payment WHERE rental_id = :rid;
