-- missing FK index: a customer's payment history (no index on payment(customer_id))
\set cid random(1, :n_customer)
SELECT payment_id, rental_id, amount, payment_date FROM payment WHERE customer_id = :cid ORDER BY payment_date DESC;
