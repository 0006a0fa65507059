-- Scheduled days, web-sized renditions, and when a row last changed.

-- Pages say when they last changed (Last-Modified); an edit changes this.
ALTER TABLE images ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
UPDATE images SET updated_at = uploaded_at;

-- An image may be featured on one date; a date has at most one image.
ALTER TABLE images ADD COLUMN feature_date date UNIQUE;

-- Renditions stored beside the original: a thumbnail (longest side <= 400 px)
-- and a display copy (longest side <= 2560 px). NULL until they are made;
-- pages fall back to the original meanwhile.
ALTER TABLE images
    ADD COLUMN thumb_key      text    CHECK (char_length(thumb_key) BETWEEN 1 AND 1024),
    ADD COLUMN thumb_width    integer CHECK (thumb_width > 0),
    ADD COLUMN thumb_height   integer CHECK (thumb_height > 0),
    ADD COLUMN display_key    text    CHECK (char_length(display_key) BETWEEN 1 AND 1024),
    ADD COLUMN display_width  integer CHECK (display_width > 0),
    ADD COLUMN display_height integer CHECK (display_height > 0),
    ADD CONSTRAINT images_thumb_complete CHECK ((thumb_key IS NULL) = (thumb_width IS NULL)
                                                AND (thumb_key IS NULL) = (thumb_height IS NULL)),
    ADD CONSTRAINT images_display_complete CHECK ((display_key IS NULL) = (display_width IS NULL)
                                                  AND (display_key IS NULL) = (display_height IS NULL));
