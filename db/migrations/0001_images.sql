-- The featured images and the S3 deletions still to retry.
CREATE TABLE images (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    tagline      text        NOT NULL DEFAULT '' CHECK (char_length(tagline) <= 500),
    object_key   text        NOT NULL UNIQUE CHECK (char_length(object_key) BETWEEN 1 AND 1024),
    content_type text        NOT NULL CHECK (content_type IN ('image/jpeg', 'image/png', 'image/gif', 'image/webp')),
    byte_size    bigint      NOT NULL CHECK (byte_size > 0),
    width        integer     NOT NULL CHECK (width > 0),
    height       integer     NOT NULL CHECK (height > 0),
    uploaded_at  timestamptz NOT NULL DEFAULT now()
);

-- "The latest image" is one probe of this index.
CREATE INDEX images_uploaded_at_idx ON images (uploaded_at DESC, id DESC);

-- Objects whose row is gone but whose S3 DELETE failed; iotd gc retries them.
CREATE TABLE object_deletions (
    object_key   text        PRIMARY KEY,
    requested_at timestamptz NOT NULL DEFAULT now(),
    attempts     integer     NOT NULL DEFAULT 0,
    last_error   text
);
