-- non-sargable: one day's takings via date_trunc() on the column, so idx_payment_payment_date cannot be used
\set d random(0, 364)
SELECT count(*) AS payments, sum(amount) AS revenue
FROM payment
WHERE date_trunc('day', payment_date) = date '2022-01-01' + :d::int;
