-- Editor accounts, their sign-in sessions, and failed sign-ins for throttling.

-- Usernames follow Django's rules (at most 150 characters: letters, digits
-- and @ . + - _) so accounts move over unchanged; uniqueness ignores case.
CREATE TABLE users (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username      text        NOT NULL CHECK (char_length(username) BETWEEN 1 AND 150
                                              AND username ~ '^[[:alnum:]@.+_-]+$'),
    password_hash text        NOT NULL CHECK (char_length(password_hash) BETWEEN 1 AND 512),
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_login    timestamptz
);
CREATE UNIQUE INDEX users_username_lower_idx ON users (lower(username));

-- Only the SHA-256 of a session token is stored (64 hex digits), so a copy
-- of this table does not sign anyone in.
CREATE TABLE sessions (
    token_hash  text        PRIMARY KEY CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    user_id     bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_secret text        NOT NULL CHECK (csrf_secret ~ '^[0-9a-f]{64}$'),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    last_seen   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);

-- One row per failed sign-in; the throttle counts recent rows per
-- (lower-cased) username and per client address. A successful sign-in
-- marks the username's rows cleared: they stop counting for the name but
-- still count for the address.
CREATE TABLE login_attempts (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username     text        NOT NULL CHECK (char_length(username) <= 150),
    client_addr  text        NOT NULL CHECK (char_length(client_addr) <= 64),
    attempted_at timestamptz NOT NULL DEFAULT now(),
    cleared      boolean     NOT NULL DEFAULT false
);
CREATE INDEX login_attempts_username_idx ON login_attempts (username, attempted_at DESC) WHERE NOT cleared;
CREATE INDEX login_attempts_client_addr_idx ON login_attempts (client_addr, attempted_at DESC);
CREATE INDEX login_attempts_attempted_at_idx ON login_attempts (attempted_at);
