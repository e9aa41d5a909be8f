-- Undo the workload's writes: m07 sets customers.last_seen_at to now(); the loaded values are all before 2025-11-01.
UPDATE market.customers SET last_seen_at = created_at + ((hashint4(id::int + 1) & 2147483647)
         % greatest(1, extract(epoch FROM timestamptz '2025-11-01' - created_at)::int)) * interval '1 second'
WHERE last_seen_at >= timestamptz '2025-11-01';
