-- non-sargable: sign-in by e-mail compares lower(email); only a plain unique index on email exists.
-- (the first statement only picks an existing address to sign in with)
\set cid random(1, :n_customer)
SELECT email FROM customer WHERE customer_id = :cid \gset
SELECT customer_id, store_id, first_name, last_name, active FROM customer WHERE lower(email) = lower(:email);
