-- healthy write path: rent a copy and take the payment
\set inv random(1, :n_inventory)
\set cid random(1, :n_customer)
\set staff random(1, :n_staff)
BEGIN;
INSERT INTO rental (rental_date, inventory_id, customer_id, staff_id) VALUES (now(), :inv, :cid, :staff) RETURNING rental_id \gset
INSERT INTO payment (customer_id, staff_id, rental_id, amount, payment_date) VALUES (:cid, :staff, :rental_id, 2.99, now());
END;
