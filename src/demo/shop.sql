-- Sample `shop` database used by `warden demo` and the integration tests.
CREATE TABLE customers (
  id          serial PRIMARY KEY,
  name        text NOT NULL,
  email       text NOT NULL UNIQUE,
  phone       text,
  ssn         text,
  card_number text,
  notes       text,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE orders (
  id          serial PRIMARY KEY,
  customer_id integer NOT NULL REFERENCES customers(id),
  amount      numeric(10,2) NOT NULL,
  status      text NOT NULL DEFAULT 'new',
  created_at  timestamptz NOT NULL DEFAULT now()
);

INSERT INTO customers (name, email, phone, ssn, card_number, notes) VALUES
  ('Ada Lovelace',    'ada@example.com',     '+1 415 555 0132', '123-45-6789', '4111 1111 1111 1111', 'prefers email'),
  ('Alan Turing',     'alan@example.org',    '+44 20 7946 0958', '219-09-9999', '5555555555554444', 'contact alan.t@bletchley.example for billing'),
  ('Grace Hopper',    'grace@example.net',   '(202) 555-0173',  '078-05-1120', '378282246310005',  NULL),
  ('Edsger Dijkstra', 'edsger@example.com',  '+31 20 555 0199', '536-22-1234', '6011111111111117', 'VIP'),
  ('Barbara Liskov',  'barbara@example.com', '+1 617 555 0144', '412-31-8765', '4012888888881881', NULL);

INSERT INTO customers (name, email, phone, ssn, card_number)
SELECT 'Customer ' || g, 'customer' || g || '@example.com', '+1 212 555 ' || lpad((1000 + g)::text, 4, '0'),
       lpad((100 + g % 600)::text, 3, '0') || '-' || lpad((10 + g % 89)::text, 2, '0') || '-' || lpad((1000 + g)::text, 4, '0'),
       '4000000000000002'
FROM generate_series(1, 45) AS g;

INSERT INTO orders (customer_id, amount, status)
SELECT 1 + (g % 50), round((10 + (g * 37) % 990)::numeric, 2), (ARRAY['new','paid','shipped','cancelled'])[1 + g % 4]
FROM generate_series(1, 200) AS g;
