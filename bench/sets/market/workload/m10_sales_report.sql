SELECT status, count(*), sum(total) FROM market.orders WHERE created_at >= timestamptz '2020-01-01' GROUP BY status;
