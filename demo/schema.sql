-- OptiSchema demo: a generated, Pagila-shaped DVD-rental database with deliberate performance problems.
--
--   psql -X -v ON_ERROR_STOP=1 -v scale=1 -d demo -f demo/schema.sql     (scripts/demo.sh does this)
--
-- Loads into the public schema of the current database; drops and recreates its own tables, so it can be re-run.
-- The data is deterministic: every value is a function of the row number (hashint8extended, no random()).
-- scale 1   -> 1,000 films, 20,000 customers, 25,000 copies, 500,000 rentals, ~490,000 payments (~35 s on 2 cores)
-- scale 0.1 -> 1,000 films,  2,000 customers,  2,500 copies,  50,000 rentals,  ~49,000 payments (a few seconds)
--
-- Planted problems (see demo/README.md for the queries that hit them):
--   missing FK indexes        rental(customer_id), payment(customer_id), payment(rental_id)
--   non-sargable predicates   customer lookups by lower(email) (only a plain unique index on email exists);
--                             payments per day by date_trunc('day', payment_date) (an index on payment_date exists)
--   ORDER BY ... LIMIT        latest rentals of a store: no index on rental(rental_date)
--   leading wildcard          film title ILIKE '%word%'
--   unused index              idx_film_replacement_cost (nothing reads film.replacement_cost)
--   duplicate index pair      idx_customer_last_name and idx_last_name, both on customer(last_name)
--   redundant index           idx_inventory_store_id (store_id) is a prefix of idx_store_id_film_id (store_id, film_id)
\set ON_ERROR_STOP 1
\if :{?scale}
\else
  \set scale 1
\endif
SET client_min_messages = warning;
SET TimeZone = 'UTC';
SET maintenance_work_mem = '256MB';
SET work_mem = '64MB';
SET synchronous_commit = off;

SELECT :'scale' ~ '^[0-9]*\.?[0-9]+$' AS scale_ok \gset
\if :scale_ok
  SELECT :'scale'::numeric > 0 AND :'scale'::numeric <= 50 AS scale_ok \gset
\endif
\if :scale_ok
\else
  \echo 'schema.sql: scale must be a number in (0, 50], got' :'scale'
  DO $$ BEGIN RAISE EXCEPTION 'bad scale'; END $$;
\endif
SELECT 1000                                            AS n_film,
       200                                             AS n_actor,
       greatest(2,    round(10 * :scale))::int         AS n_store,
       greatest(200,  round(20000 * :scale))::int      AS n_customer,
       greatest(1000, round(25000 * :scale))::int      AS n_inventory,
       greatest(5000, round(500000 * :scale))::int     AS n_rental \gset
SELECT 2 * :n_store AS n_staff \gset

-- h(n, salt): a deterministic pseudo-random non-negative int for row n (inlined by the planner)
CREATE FUNCTION pg_temp.h(n bigint, salt bigint) RETURNS bigint
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS 'SELECT hashint8extended(n, salt) & 2147483647';

\echo '[1/9] schema'
DROP TABLE IF EXISTS demo_meta, payment, rental, inventory, film_category, film_actor, film, category, language,
  actor, customer, staff, store, address, city, country CASCADE;
DROP TYPE IF EXISTS mpaa_rating CASCADE;
DROP SEQUENCE IF EXISTS rental_rental_id_seq, payment_payment_id_seq CASCADE;

CREATE TYPE mpaa_rating AS ENUM ('G', 'PG', 'PG-13', 'R', 'NC-17');

CREATE TABLE country (
  country_id  integer PRIMARY KEY,
  country     text NOT NULL,
  last_update timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE city (
  city_id     integer PRIMARY KEY,
  city        text NOT NULL,
  country_id  integer NOT NULL,
  last_update timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE address (
  address_id  integer PRIMARY KEY,
  address     text NOT NULL,
  district    text NOT NULL,
  city_id     integer NOT NULL,
  postal_code text,
  phone       text NOT NULL,
  last_update timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE language (
  language_id integer PRIMARY KEY,
  name        text NOT NULL,
  last_update timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE category (
  category_id integer PRIMARY KEY,
  name        text NOT NULL,
  last_update timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE actor (
  actor_id    integer PRIMARY KEY,
  first_name  text NOT NULL,
  last_name   text NOT NULL,
  last_update timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE film (
  film_id              integer PRIMARY KEY,
  title                text NOT NULL,
  description          text,
  release_year         integer,
  language_id          integer NOT NULL,
  original_language_id integer,
  rental_duration      smallint NOT NULL DEFAULT 3,
  rental_rate          numeric(4,2) NOT NULL DEFAULT 4.99,
  length               smallint,
  replacement_cost     numeric(5,2) NOT NULL DEFAULT 19.99,
  rating               mpaa_rating DEFAULT 'G',
  special_features     text[],
  last_update          timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE film_actor (
  actor_id    integer NOT NULL,
  film_id     integer NOT NULL,
  last_update timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE film_category (
  film_id     integer NOT NULL,
  category_id integer NOT NULL,
  last_update timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE store (
  store_id         integer PRIMARY KEY,
  manager_staff_id integer NOT NULL,
  address_id       integer NOT NULL,
  last_update      timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE staff (
  staff_id    integer PRIMARY KEY,
  first_name  text NOT NULL,
  last_name   text NOT NULL,
  address_id  integer NOT NULL,
  email       text,
  store_id    integer NOT NULL,
  active      boolean NOT NULL DEFAULT true,
  username    text NOT NULL,
  last_update timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE customer (
  customer_id integer PRIMARY KEY,
  store_id    integer NOT NULL,
  first_name  text NOT NULL,
  last_name   text NOT NULL,
  email       text,
  address_id  integer NOT NULL,
  active      boolean NOT NULL DEFAULT true,
  create_date date NOT NULL DEFAULT current_date,
  last_update timestamptz DEFAULT now()
);
CREATE TABLE inventory (
  inventory_id integer PRIMARY KEY,
  film_id      integer NOT NULL,
  store_id     integer NOT NULL,
  last_update  timestamptz NOT NULL DEFAULT now()
);
CREATE SEQUENCE rental_rental_id_seq;
CREATE TABLE rental (       -- primary key and foreign keys are added after the bulk load
  rental_id    integer NOT NULL DEFAULT nextval('rental_rental_id_seq'),
  rental_date  timestamptz NOT NULL,
  inventory_id integer NOT NULL,
  customer_id  integer NOT NULL,
  return_date  timestamptz,
  staff_id     integer NOT NULL,
  last_update  timestamptz NOT NULL DEFAULT now()
);
ALTER SEQUENCE rental_rental_id_seq OWNED BY rental.rental_id;
CREATE SEQUENCE payment_payment_id_seq;
CREATE TABLE payment (
  payment_id   integer NOT NULL DEFAULT nextval('payment_payment_id_seq'),
  customer_id  integer NOT NULL,
  staff_id     integer NOT NULL,
  rental_id    integer NOT NULL,
  amount       numeric(5,2) NOT NULL,
  payment_date timestamptz NOT NULL
);
ALTER SEQUENCE payment_payment_id_seq OWNED BY payment.payment_id;

\echo '[2/9] reference data: languages, categories, countries, cities, actors'
INSERT INTO language (language_id, name, last_update)
SELECT i, l, timestamptz '2022-01-01 00:00+00'
FROM unnest(ARRAY['English','Italian','Japanese','Mandarin','French','German']) WITH ORDINALITY AS t(l, i);

INSERT INTO category (category_id, name, last_update)
SELECT i, c, timestamptz '2022-01-01 00:00+00'
FROM unnest(ARRAY['Action','Animation','Children','Classics','Comedy','Documentary','Drama','Family',
                  'Foreign','Games','Horror','Music','New','Sci-Fi','Sports','Travel']) WITH ORDINALITY AS t(c, i);

INSERT INTO country (country_id, country, last_update)
SELECT i, c, timestamptz '2022-01-01 00:00+00'
FROM unnest(ARRAY['Argentina','Australia','Brazil','Canada','Chile','China','Egypt','France','Germany','India',
                  'Indonesia','Italy','Japan','Kenya','Mexico','Netherlands','Nigeria','Peru','Philippines','Poland',
                  'Russian Federation','South Africa','Spain','Turkey','United Kingdom','United States']) WITH ORDINALITY AS t(c, i);

INSERT INTO city (city_id, city, country_id, last_update)
SELECT n,
       (ARRAY['North','South','East','West','New','Old','Port','Lake','Fort','Mount','San','Santa','Saint','Grand','Little'])[1 + (n - 1) % 15]
       || ' ' ||
       (ARRAY['Haven','Field','Bridge','Ford','Vale','Brook','Ridge','Falls','Harbor','Springs',
              'Rock','Wood','Hill','Bay','Point','Creek','Dale','Grove','Park','Valley'])[1 + (n - 1) / 15],
       1 + pg_temp.h(n, 11) % 26,
       timestamptz '2022-01-01 00:00+00'
FROM generate_series(1, 300) n;

\set first_names '''{MARY,PATRICIA,LINDA,BARBARA,ELIZABETH,JENNIFER,MARIA,SUSAN,MARGARET,DOROTHY,LISA,NANCY,KAREN,BETTY,HELEN,SANDRA,DONNA,CAROL,RUTH,SHARON,MICHELLE,LAURA,SARAH,KIMBERLY,DEBORAH,JESSICA,SHIRLEY,CYNTHIA,ANGELA,MELISSA,JAMES,JOHN,ROBERT,MICHAEL,WILLIAM,DAVID,RICHARD,CHARLES,JOSEPH,THOMAS,CHRISTOPHER,DANIEL,PAUL,MARK,DONALD,GEORGE,KENNETH,STEVEN,EDWARD,BRIAN}''::text[]'
\set last_names '''{SMITH,JOHNSON,WILLIAMS,JONES,BROWN,DAVIS,MILLER,WILSON,MOORE,TAYLOR,ANDERSON,THOMAS,JACKSON,WHITE,HARRIS,MARTIN,THOMPSON,GARCIA,MARTINEZ,ROBINSON,CLARK,RODRIGUEZ,LEWIS,LEE,WALKER,HALL,ALLEN,YOUNG,HERNANDEZ,KING,WRIGHT,LOPEZ,HILL,SCOTT,GREEN,ADAMS,BAKER,GONZALEZ,NELSON,CARTER,MITCHELL,PEREZ,ROBERTS,TURNER,PHILLIPS,CAMPBELL,PARKER,EVANS,EDWARDS,COLLINS}''::text[]'

INSERT INTO actor (actor_id, first_name, last_name, last_update)
SELECT n, (:first_names)[1 + pg_temp.h(n, 21) % 50], (:last_names)[1 + pg_temp.h(n, 22) % 50],
       timestamptz '2022-01-01 00:00+00'
FROM generate_series(1, :n_actor) n;

\echo '[3/9] films (':n_film'), film_actor, film_category'
INSERT INTO film (film_id, title, description, release_year, language_id, original_language_id, rental_duration,
                  rental_rate, length, replacement_cost, rating, special_features, last_update)
SELECT n,
       -- 40 x 40 words; (k * 3 + a) % 40 keeps every title unique
       w1[1 + (n - 1) % 40] || ' ' || w2[1 + (((n - 1) / 40) * 3 + (n - 1) % 40) % 40],
       'A ' || (ARRAY['Epic','Fateful','Thoughtful','Touching','Boring','Astounding','Beautiful','Amazing','Emotional','Insightful'])[1 + pg_temp.h(n, 31) % 10]
         || ' ' || (ARRAY['Drama','Story','Documentary','Saga','Tale','Panorama','Reflection','Yarn','Character Study','Display'])[1 + pg_temp.h(n, 32) % 10]
         || ' of a ' || (ARRAY['Dentist','Cat','Robot','Pioneer','Astronaut','Waitress','Lumberjack','Feminist','Monkey','Composer'])[1 + pg_temp.h(n, 33) % 10]
         || ' And a ' || (ARRAY['Explorer','Hunter','Boat','Frisbee','Student','Technical Writer','Sumo Wrestler','Moose','Crocodile','Husband'])[1 + pg_temp.h(n, 34) % 10]
         || ' who must ' || (ARRAY['Chase','Defeat','Find','Outrace','Battle','Meet','Build','Sink','Succumb','Kill'])[1 + pg_temp.h(n, 35) % 10]
         || ' a ' || (ARRAY['Teacher','Mad Scientist','Car','Database Administrator','Girl','Forensic Psychologist','Dog','Squirrel','Pastry Chef','Shark'])[1 + pg_temp.h(n, 36) % 10]
         || ' in ' || (ARRAY['Ancient China','The Gulf of Mexico','A Shark Tank','Nigeria','The Canadian Rockies','A Baloon Factory','Soviet Georgia','An Abandoned Mine Shaft','The Outback','Berlin'])[1 + pg_temp.h(n, 37) % 10],
       1990 + pg_temp.h(n, 38) % 33,
       CASE WHEN pg_temp.h(n, 39) % 10 < 8 THEN 1 ELSE 2 + pg_temp.h(n, 40) % 5 END,
       NULL,
       3 + pg_temp.h(n, 41) % 5,
       (ARRAY[0.99, 2.99, 4.99])[1 + pg_temp.h(n, 42) % 3],
       46 + pg_temp.h(n, 43) % 140,
       9.99 + pg_temp.h(n, 44) % 21,
       (ARRAY['G','PG','PG-13','R','NC-17'])[1 + pg_temp.h(n, 45) % 5]::mpaa_rating,
       CASE pg_temp.h(n, 46) % 4 WHEN 0 THEN ARRAY['Trailers','Commentaries'] WHEN 1 THEN ARRAY['Deleted Scenes','Behind the Scenes']
                                 WHEN 2 THEN ARRAY['Trailers','Deleted Scenes'] ELSE ARRAY['Commentaries','Behind the Scenes'] END,
       timestamptz '2022-01-01 00:00+00'
FROM generate_series(1, :n_film) n,
     (SELECT ARRAY['ACADEMY','ACE','AFRICAN','AGENT','ALABAMA','ALIEN','AMERICAN','ANGELS','ARABIA','ATLANTIS',
                   'BAKED','BALLROOM','BANG','BEAST','BERETS','BIRDS','BLADE','BLUES','BOULEVARD','BRAVEHEART',
                   'CALIFORNIA','CANDLES','CAPTAIN','CAT','CHAMBER','CHICAGO','CLUELESS','COLOR','CROSSROADS','DESERT',
                   'DINOSAUR','DRAGON','EARTH','EGG','FANTASY','FIRE','FLASH','FROST','GALAXY','GOLDFINGER'] AS w1,
             ARRAY['DINOSAUR','GOLDFINGER','EGG','ODDITY','STORY','PRESIDENT','CONFIDENTIAL','EXPRESS','SECRETS','DETECTIVE',
                   'HARPER','MUMMY','TRAP','RUNAWAY','SUIT','MIRACLE','FEATHERS','HIGHBALL','WARS','WRATH',
                   'VOYAGE','KISS','HORROR','HUNTER','JUMANJI','KNOCK','LEGEND','MALTESE','NIGHTMARE','OPUS',
                   'PACIFIC','RANGER','SADDLE','SHAKESPEARE','SPIRIT','TITANIC','TRAIN','UNFORGIVEN','WEST','ZORRO'] AS w2) words;

INSERT INTO film_actor (actor_id, film_id, last_update)
SELECT DISTINCT 1 + pg_temp.h(f * 16 + k, 51) % :n_actor, f, timestamptz '2022-01-01 00:00+00'
FROM generate_series(1, :n_film) f, generate_series(1, 10) k
WHERE k <= 3 + pg_temp.h(f, 52) % 6;

INSERT INTO film_category (film_id, category_id, last_update)
SELECT f, 1 + pg_temp.h(f, 61) % 16, timestamptz '2022-01-01 00:00+00'
FROM generate_series(1, :n_film) f;

\echo '[4/9] stores (':n_store'), staff (':n_staff'), customers (':n_customer'), addresses'
-- address ids: 1..n_store for stores, then staff, then customers
INSERT INTO address (address_id, address, district, city_id, postal_code, phone, last_update)
SELECT n,
       (1 + pg_temp.h(n, 71) % 1999)::text || ' '
         || (ARRAY['Main','Oak','Pine','Maple','Cedar','Elm','Lake','Hill','Park','River','Sunset','Mill','Church','High','Station'])[1 + pg_temp.h(n, 72) % 15]
         || ' ' || (ARRAY['Street','Avenue','Road','Lane','Drive','Boulevard','Way','Place'])[1 + pg_temp.h(n, 73) % 8],
       (ARRAY['Alberta','Buenos Aires','California','Texas','Ontario','Bavaria','Lombardy','Osaka','Gujarat','Lagos',
              'Queensland','Andalusia','Ile-de-France','Mazowieckie','Jalisco'])[1 + pg_temp.h(n, 74) % 15],
       1 + pg_temp.h(n, 75) % 300,
       lpad((pg_temp.h(n, 76) % 100000)::text, 5, '0'),
       lpad((pg_temp.h(n, 77) % 1000000000)::text, 9, '0') || lpad((pg_temp.h(n, 78) % 1000)::text, 3, '0'),
       timestamptz '2022-01-01 00:00+00'
FROM generate_series(1, :n_store + :n_staff + :n_customer) n;

INSERT INTO store (store_id, manager_staff_id, address_id, last_update)
SELECT s, 2 * s - 1, s, timestamptz '2022-01-01 00:00+00'
FROM generate_series(1, :n_store) s;

INSERT INTO staff (staff_id, first_name, last_name, address_id, email, store_id, active, username, last_update)
SELECT n, initcap((:first_names)[1 + pg_temp.h(n, 81) % 50]), initcap((:last_names)[1 + pg_temp.h(n, 82) % 50]),
       :n_store + n,
       initcap((:first_names)[1 + pg_temp.h(n, 81) % 50]) || '.' || initcap((:last_names)[1 + pg_temp.h(n, 82) % 50]) || '@sakilastaff.com',
       1 + (n - 1) / 2, true, lower((:first_names)[1 + pg_temp.h(n, 81) % 50]) || n,
       timestamptz '2022-01-01 00:00+00'
FROM generate_series(1, :n_staff) n;

-- names upper-case as in Pagila; e-mails mixed case (Mary.Smith17@sakilacustomer.org), so look-ups need lower()
INSERT INTO customer (customer_id, store_id, first_name, last_name, email, address_id, active, create_date, last_update)
SELECT n, 1 + pg_temp.h(n, 91) % :n_store, fn, ln,
       initcap(fn) || '.' || initcap(ln) || n || '@sakilacustomer.org',
       :n_store + :n_staff + n,
       pg_temp.h(n, 94) % 33 <> 0,
       date '2021-01-01' + (pg_temp.h(n, 95) % 365)::int,
       timestamptz '2022-01-01 00:00+00'
FROM (SELECT n, (:first_names)[1 + pg_temp.h(n, 92) % 50] AS fn, (:last_names)[1 + pg_temp.h(n, 93) % 50] AS ln
      FROM generate_series(1, :n_customer) n) c;

\echo '[5/9] inventory (':n_inventory' copies)'
-- copy i belongs to store 1 + (i - 1) % n_store (the rental generator relies on that)
INSERT INTO inventory (inventory_id, film_id, store_id, last_update)
SELECT i, 1 + pg_temp.h(i, 101) % :n_film, 1 + (i - 1) % :n_store, timestamptz '2022-01-01 00:00+00'
FROM generate_series(1, :n_inventory) i;

\echo '[6/9] rentals (':n_rental')'
-- one year, 2022-01-01 .. 2022-12-31 UTC, ids in time order; the latest ~1.5 % partly not returned yet
INSERT INTO rental (rental_id, rental_date, inventory_id, customer_id, return_date, staff_id, last_update)
SELECT n, rd, inv, 1 + pg_temp.h(n, 113) % :n_customer,
       CASE WHEN n > :n_rental * 0.985 AND pg_temp.h(n, 114) % 3 <> 0 THEN NULL
            ELSE rd + (1 + pg_temp.h(n, 115) % 9) * interval '1 day' + (pg_temp.h(n, 116) % 86400) * interval '1 second' END,
       2 * ((inv - 1) % :n_store) + 1 + pg_temp.h(n, 117) % 2,
       rd
FROM (SELECT n,
             timestamptz '2022-01-01 00:00+00'
               + ((n::bigint * 31500000) / :n_rental + pg_temp.h(n, 111) % 3600) * interval '1 second' AS rd,
             (1 + pg_temp.h(n, 112) % :n_inventory)::int AS inv
      FROM generate_series(1, :n_rental) n) r;

\echo '[7/9] payments'
-- one payment per returned rental: the film's rate, plus a late fee when kept longer than its rental_duration
INSERT INTO payment (payment_id, customer_id, staff_id, rental_id, amount, payment_date)
SELECT row_number() OVER (ORDER BY r.rental_id), r.customer_id, r.staff_id, r.rental_id,
       f.rental_rate + CASE WHEN r.return_date - r.rental_date > f.rental_duration * interval '1 day'
                            THEN 1.00 * (extract(day FROM r.return_date - r.rental_date)::int - f.rental_duration) ELSE 0 END,
       r.return_date
FROM rental r
JOIN inventory i ON i.inventory_id = r.inventory_id
JOIN film f ON f.film_id = i.film_id
WHERE r.return_date IS NOT NULL;

\echo '[8/9] keys and indexes'
ALTER TABLE rental ADD PRIMARY KEY (rental_id);
ALTER TABLE payment ADD PRIMARY KEY (payment_id);
ALTER TABLE film_actor ADD PRIMARY KEY (actor_id, film_id);
ALTER TABLE film_category ADD PRIMARY KEY (film_id, category_id);
ALTER TABLE customer ADD CONSTRAINT customer_email_key UNIQUE (email);
ALTER TABLE staff ADD CONSTRAINT staff_username_key UNIQUE (username);

ALTER TABLE city ADD FOREIGN KEY (country_id) REFERENCES country (country_id);
ALTER TABLE address ADD FOREIGN KEY (city_id) REFERENCES city (city_id);
ALTER TABLE film ADD FOREIGN KEY (language_id) REFERENCES language (language_id);
ALTER TABLE film ADD FOREIGN KEY (original_language_id) REFERENCES language (language_id);
ALTER TABLE film_actor ADD FOREIGN KEY (actor_id) REFERENCES actor (actor_id);
ALTER TABLE film_actor ADD FOREIGN KEY (film_id) REFERENCES film (film_id);
ALTER TABLE film_category ADD FOREIGN KEY (film_id) REFERENCES film (film_id);
ALTER TABLE film_category ADD FOREIGN KEY (category_id) REFERENCES category (category_id);
ALTER TABLE store ADD FOREIGN KEY (address_id) REFERENCES address (address_id);
ALTER TABLE store ADD FOREIGN KEY (manager_staff_id) REFERENCES staff (staff_id) DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE staff ADD FOREIGN KEY (address_id) REFERENCES address (address_id);
ALTER TABLE staff ADD FOREIGN KEY (store_id) REFERENCES store (store_id);
ALTER TABLE customer ADD FOREIGN KEY (address_id) REFERENCES address (address_id);
ALTER TABLE customer ADD FOREIGN KEY (store_id) REFERENCES store (store_id);
ALTER TABLE inventory ADD FOREIGN KEY (film_id) REFERENCES film (film_id);
ALTER TABLE inventory ADD FOREIGN KEY (store_id) REFERENCES store (store_id);
ALTER TABLE rental ADD FOREIGN KEY (inventory_id) REFERENCES inventory (inventory_id);
ALTER TABLE rental ADD FOREIGN KEY (customer_id) REFERENCES customer (customer_id);
ALTER TABLE rental ADD FOREIGN KEY (staff_id) REFERENCES staff (staff_id);
ALTER TABLE payment ADD FOREIGN KEY (customer_id) REFERENCES customer (customer_id);
ALTER TABLE payment ADD FOREIGN KEY (staff_id) REFERENCES staff (staff_id);
ALTER TABLE payment ADD FOREIGN KEY (rental_id) REFERENCES rental (rental_id);

-- healthy indexes (as in Pagila)
CREATE INDEX idx_fk_country_id ON city (country_id);
CREATE INDEX idx_fk_city_id ON address (city_id);
CREATE INDEX idx_title ON film (title);
CREATE INDEX idx_fk_language_id ON film (language_id);
CREATE INDEX idx_fk_film_actor_film_id ON film_actor (film_id);
CREATE INDEX idx_actor_last_name ON actor (last_name);
CREATE INDEX idx_fk_store_address_id ON store (address_id);
CREATE INDEX idx_fk_staff_store_id ON staff (store_id);
CREATE INDEX idx_fk_customer_store_id ON customer (store_id);
CREATE INDEX idx_fk_customer_address_id ON customer (address_id);
CREATE INDEX idx_fk_inventory_film_id ON inventory (film_id);
CREATE INDEX idx_store_id_film_id ON inventory (store_id, film_id);
CREATE INDEX idx_fk_inventory_id ON rental (inventory_id);
CREATE INDEX idx_fk_rental_staff_id ON rental (staff_id);
CREATE INDEX idx_fk_payment_staff_id ON payment (staff_id);
CREATE INDEX idx_payment_payment_date ON payment (payment_date);
-- planted: an unused index, a duplicate pair, a redundant prefix index.
-- planted by omission: rental(customer_id), payment(customer_id), payment(rental_id), customer(lower(email)), rental(rental_date)
CREATE INDEX idx_film_replacement_cost ON film (replacement_cost);
CREATE INDEX idx_last_name ON customer (last_name);
CREATE INDEX idx_customer_last_name ON customer (last_name);
CREATE INDEX idx_inventory_store_id ON inventory (store_id);

SELECT setval('rental_rental_id_seq', (SELECT max(rental_id) FROM rental)) AS rental_seq \gset
SELECT setval('payment_payment_id_seq', (SELECT max(payment_id) FROM payment)) AS payment_seq \gset

\echo '[9/9] vacuum analyze'
-- flush this session's insert counts first, or they land after VACUUM has set n_live_tup and count twice
SELECT pg_stat_force_next_flush() AS flushed \gset
VACUUM ANALYZE;

-- marker: scripts/demo.sh checks it, and reads the sizes for the workload's parameters
CREATE TABLE demo_meta (key text PRIMARY KEY, value text NOT NULL);
INSERT INTO demo_meta (key, value) VALUES
  ('scale', :'scale'), ('n_film', :'n_film'), ('n_actor', :'n_actor'), ('n_store', :'n_store'), ('n_staff', :'n_staff'),
  ('n_customer', :'n_customer'), ('n_inventory', :'n_inventory'), ('n_rental', :'n_rental'),
  ('loaded', 'true');
\echo 'demo data loaded (scale ':scale')'
