-- Read-model documents carry sealed personal data (AES-GCM ciphertext, base64), which does not compress: pglz,
-- the default, spent most of a write's PostgreSQL time failing to compress them (perf of `ledger bench replay`:
-- pglz_compress on top). lz4 compresses the plain part of a document as well and gives up on ciphertext at
-- once. New values only; rows already written keep their pglz until they are written again. Replay's shadow
-- tables are made LIKE these INCLUDING COMPRESSION, so they store the same way.
ALTER TABLE ledger.verifications ALTER COLUMN document SET COMPRESSION lz4;
ALTER TABLE ledger.orders ALTER COLUMN document SET COMPRESSION lz4;
ALTER TABLE ledger.customer_verifications ALTER COLUMN document SET COMPRESSION lz4;
ALTER TABLE ledger.validations ALTER COLUMN document SET COMPRESSION lz4;
ALTER TABLE ledger.verification_reports ALTER COLUMN document SET COMPRESSION lz4;
ALTER TABLE ledger.stream_snapshots ALTER COLUMN state SET COMPRESSION lz4;
