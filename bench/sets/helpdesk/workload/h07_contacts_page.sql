\set t random_zipfian(1, 2000, 1.1)
\set s random(86400, 1400 * 86400)
\set i random(1, 1100435)
SELECT id, name, email, created_at FROM helpdesk.contacts
WHERE tenant_id = :t AND (created_at, id) < (timestamptz '2022-01-01' + :s * interval '1 second', :i)
ORDER BY created_at DESC, id DESC LIMIT 50;
