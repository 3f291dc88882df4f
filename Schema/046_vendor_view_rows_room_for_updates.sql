-- The vendor views' rows that every command rewrites (seed 003's customer verification, seed 004's validation) get
-- room on their page, as Schema/013 gives the verification and order rows: with it, PostgreSQL updates them in
-- place (HOT: no new entry in any index) instead of writing the new version on another page with an entry in each
-- index. None of their indexed columns changes after the insert. Existing pages keep their fill until rewritten.
ALTER TABLE ledger.customer_verifications SET (fillfactor = 70);
ALTER TABLE ledger.validations SET (fillfactor = 70);
