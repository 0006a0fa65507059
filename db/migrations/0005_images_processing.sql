-- An upload through the admin is answered once its original is stored; its
-- renditions are made after the answer. Until they are, the row is
-- processing: the admin lists it, no public page shows it (the original
-- keeps the camera's metadata, which only renditions drop).
--
-- processing_since: when the current attempt began; NULL once ready. A row
--   still processing long after it (its worker died) is taken up again by
--   an admin worker, which moves it on, so two never work on one row.
-- processing_attempts: attempts so far; after the last one the row fails.
-- processing_error: why the file could not be made into renditions (for
--   the editor), set only while processing; no worker takes such a row.
ALTER TABLE images
    ADD COLUMN processing_since    timestamptz,
    ADD COLUMN processing_attempts integer NOT NULL DEFAULT 0 CHECK (processing_attempts >= 0),
    ADD COLUMN processing_error    text CHECK (char_length(processing_error) BETWEEN 1 AND 500),
    ADD CONSTRAINT images_processing_error_while_processing
        CHECK (processing_error IS NULL OR processing_since IS NOT NULL);

CREATE INDEX images_processing_idx ON images (processing_since) WHERE processing_since IS NOT NULL;
