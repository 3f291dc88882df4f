-- The read models keep their documents as the service wrote them: json stores the text as given (checked,
-- not converted), so a read answers with the same bytes as the command that wrote it, and a write does not
-- pay for building jsonb that nothing queries.
ALTER TABLE ledger.verifications ALTER COLUMN document TYPE json USING document::json;
ALTER TABLE ledger.orders ALTER COLUMN document TYPE json USING document::json;
