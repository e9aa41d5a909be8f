-- leading wildcard: title search with ILIKE '%word%'
\set w random(1, 20)
SELECT film_id, title, rental_rate, rating
FROM film
WHERE title ILIKE '%' || (ARRAY['DINOSAUR','EGG','DRAGON','STORY','HUNTER','LEGEND','TRAIN','ZORRO','GALAXY','ALIEN',
                                'SECRETS','MUMMY','WEST','FIRE','SPIRIT','BLADE','KISS','CAT','OPUS','WARS'])[:w] || '%'
ORDER BY title
LIMIT 20;
