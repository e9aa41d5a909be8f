\set s random(1, 12)
\set i random(1, 60)
SELECT id, title, price, tags FROM market.listings
WHERE tags @> ARRAY[(ARRAY['vintage','modern','boho','minimal','rustic','industrial','retro','classic','scandi','art-deco','coastal','farmhouse'])[:s],
                    (ARRAY['lamp','chair','table','rug','mirror','vase','clock','shelf','desk','sofa','bed','stool','bench','cabinet',
                           'dresser','frame','poster','print','mug','bowl','plate','teapot','basket','blanket','pillow','curtain',
                           'candle','planter','sculpture','jewelry','ring','necklace','bracelet','earrings','watch','bag','wallet',
                           'belt','scarf','hat','jacket','dress','shirt','jeans','boots','sneakers','camera','radio','record','book',
                           'guitar','bicycle','toy','puzzle','game','knife','pan','kettle','glass','tray'])[:i]]
ORDER BY created_at DESC LIMIT 30;
