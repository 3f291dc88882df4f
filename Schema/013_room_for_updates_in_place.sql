-- Rows that every command rewrites get room on their page, so that PostgreSQL can update them in place
-- (HOT: no new index entries, dead versions pruned from the page) instead of writing a new version
-- elsewhere and a new entry in every index. None of their indexed columns changes after the insert.
ALTER TABLE ledger.streams SET (fillfactor = 70);
ALTER TABLE ledger.verifications SET (fillfactor = 50);
ALTER TABLE ledger.orders SET (fillfactor = 70);
