-- The store's entity tag of the bytes the scanner judged. Raw links serve an object only
-- while the store still answers with this tag: bytes written over the key later (a
-- single-PUT URL stays valid until it expires) were never scanned.
ALTER TABLE files ADD COLUMN object_etag TEXT;
